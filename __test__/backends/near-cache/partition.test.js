'use strict'

// A silent partition (no FIN, no RST: a proxy that swallows everything) between A and its Redis,
// while another client keeps writing to the server. No invalidation can reach A, so A must stop
// serving from memory once its listener's PING fails: stale for at most the check period (500 ms)
// plus the call deadline, never for as long as the partition lasts. When the network heals A
// reads the server's values again and tracking comes back.
const IORedis = require('ioredis')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, sleep } = require('../../helpers')
const { startRedisServer } = require('../../faults/redis-server')
const { startFaultProxy } = require('../../faults/fault-proxy')
const { privateRedisPossible, loadModule, near, waitLive, twentyKeys, expectSeen, readAll, turnOff } = require('./near')

const onRedis = privateRedisPossible(selectBackend())
const describeRedis = onRedis ? describe : describe.skip

const DEADLINE_MS = 300
// The listener is PINGed every 500 ms (crates/core/src/near_cache/tracking.rs) and a PING gets
// the call deadline; the rest is room for a loaded machine.
const STALE_LIMIT_MS = 500 + DEADLINE_MS + 700

describeRedis('near cache: a silent partition', () => {
  let server
  let proxy
  let io
  let A

  beforeAll(async () => {
    server = await startRedisServer()
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
    io = new IORedis(server.url)
    A = loadModule({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` })
    // Calls fail on purpose during the partition; their log lines are noise.
    A.configure({ nearCache: true, timeoutMs: DEADLINE_MS, logger: null })
    await waitLive(A)
  }, 60000)

  afterAll(async () => {
    turnOff(A)
    io?.disconnect()
    await proxy?.close()
    await server?.stop()
  })

  test('stale for at most the PING period plus the deadline, then the server`s values once healed', async () => {
    const entries = twentyKeys(uniquePrefix('near-part'))
    await Promise.all(entries.map((e) => io.set(e.key, e.text(1))))
    await expectSeen(A, entries, 1)
    // The writes' invalidations may land after A read the new values: let them pass, fill again.
    await sleep(100)
    await readAll(A, entries)
    const hits = near(A).hits
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    expect(near(A).hits - hits).toBe(entries.length)

    proxy.setMode('stall')
    await Promise.all(entries.map((e) => io.set(e.key, e.text(2))))
    const writtenAt = Date.now()
    // A keeps reading through the partition; a failed call's null fallback is not stale.
    let lastStale = null
    const partitionUntil = writtenAt + STALE_LIMIT_MS + 1500
    while (Date.now() < partitionUntil) {
      const startedAt = Date.now()
      const values = await readAll(A, entries)
      if (values.some((v, k) => JSON.stringify(v) === JSON.stringify(entries[k].value(1)))) lastStale = startedAt
      await sleep(5)
    }
    const trackingDuringPartition = near(A).tracking
    proxy.setMode('pass')

    console.log(`near cache: stale for ${lastStale === null ? 0 : lastStale - writtenAt} ms into a silent partition`)
    expect(trackingDuringPartition).not.toBe('live')
    if (lastStale !== null) expect(lastStale - writtenAt).toBeLessThan(STALE_LIMIT_MS)

    // Healed: the server's values, from memory again once tracking is back.
    await expectSeen(A, entries, 2, 15000)
    await waitLive(A)
    await Promise.all(entries.map((e) => io.set(e.key, e.text(3))))
    await expectSeen(A, entries, 3, 1000)
  }, 60000)
})
