'use strict'

// Issue 18, item 3, on Upstash REST (here a rest-server): no push channel, so the near cache is
// TTL-bounded only and needs an explicit maxStalenessMs. Without it configure throws a TypeError
// and changes nothing; with it an entry is served at most maxStalenessMs after it was read, so a
// write by another client is seen by every read A starts maxStalenessMs after the write.
const { Redis: UpstashRedis } = require('@upstash/redis')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, sleep, backendEnv } = require('../../helpers')
const { loadModule, near, twentyKeys, readAll, turnOff } = require('./near')

const selection = selectBackend()
const describeUpstash = selection.kind === 'upstash' ? describe : describe.skip

const STALENESS_MS = 300
// Slack for the reads' own round trips (an entry's life counts from when its read was issued).
const ROUND_TRIP_MARGIN_MS = 50

describeUpstash('near cache on Upstash REST: TTL-bounded by maxStalenessMs', () => {
  let A
  let other
  const P = uniquePrefix('near-up')

  beforeAll(() => {
    A = loadModule(backendEnv())
    other = new UpstashRedis({ url: selection.url, token: selection.token, automaticDeserialization: false })
  })

  afterAll(async () => {
    turnOff(A)
    const keys = await other.keys(`*${P}*`)
    if (keys.length) await other.del(...keys)
  })

  test('without maxStalenessMs (or with a bad one) configure throws a TypeError and changes nothing', () => {
    for (const nearCache of [true, {}, { maxBytes: 1 << 20 }, { maxStalenessMs: 0 }, { maxStalenessMs: -5 }, { maxStalenessMs: 1.5 }, { maxStalenessMs: '300' }]) {
      expect(() => A.configure({ nearCache })).toThrow(TypeError)
      expect(near(A).enabled).toBe(false)
    }
    expect(near(A).tracking).toBe('off')
  })

  test('an entry is served at most maxStalenessMs after it was read', async () => {
    A.configure({ nearCache: { maxStalenessMs: STALENESS_MS } })
    expect(near(A)).toMatchObject({ enabled: true, tracking: 'ttl-only' })
    const entries = twentyKeys(P)
    await Promise.all(entries.map((e) => other.set(e.key, e.text(1))))
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    const hits = near(A).hits
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    expect(near(A).hits - hits).toBe(entries.length)

    // A reads all the time while the other client writes version 2.
    let reading = true
    const reads = []
    const reader = (async () => {
      while (reading) {
        const startedAt = Date.now()
        reads.push({ startedAt, values: await readAll(A, entries) })
        await sleep(5)
      }
    })()
    // Write just after A refilled every entry (20 more misses), so version 1 is in memory for
    // nearly maxStalenessMs after the write and the early reads below must come from it.
    const misses = near(A).misses
    for (const until = Date.now() + 5000; near(A).misses < misses + entries.length && Date.now() < until; ) await sleep(1)
    // …and answered: a miss is counted when the read is issued, and a refill still on its way
    // when the write lands may read version 2 (REST round trips are slow on a loaded machine).
    const answered = near(A).hits
    for (const until = Date.now() + 5000; near(A).hits < answered + entries.length && Date.now() < until; ) await sleep(1)
    await Promise.all(entries.map((e) => other.set(e.key, e.text(2))))
    const writtenAt = Date.now()
    await sleep(STALENESS_MS + ROUND_TRIP_MARGIN_MS + 200)
    reading = false
    await reader

    const judgedFrom = writtenAt + STALENESS_MS + ROUND_TRIP_MARGIN_MS
    const judged = reads.filter((r) => r.startedAt >= judgedFrom)
    expect(judged.length).toBeGreaterThan(0)
    const stale = []
    for (const { startedAt, values } of judged) {
      values.forEach((v, k) => {
        if (JSON.stringify(v) !== JSON.stringify(entries[k].value(2))) stale.push({ key: entries[k].key, read: v, msAfterWrite: startedAt - writtenAt })
      })
    }
    expect(stale).toEqual([])
    // The near cache served during the window: version 1 from memory after the write (any read
    // before the bound: on a loaded machine the first third of it may see no read at all).
    const early = reads.filter((r) => r.startedAt >= writtenAt && r.startedAt < judgedFrom)
    expect(early.some((r) => r.values.some((v, k) => JSON.stringify(v) === JSON.stringify(entries[k].value(1))))).toBe(true)
  })

  test('read-your-writes holds on the TTL-only cache too', async () => {
    A.configure({ nearCache: { maxStalenessMs: 60000 } })
    const k = `${P}:ryw`
    await A.cache.set(k, 'v1', 600)
    await A.cache.get(k)
    expect(await A.cache.get(k)).toBe('v1')
    A.cache.set(k, 'v2', 600)
    expect(await A.cache.get(k)).toBe('v2')
    A.cache.del(k)
    expect(await A.cache.get(k)).toBeNull()
  })
})
