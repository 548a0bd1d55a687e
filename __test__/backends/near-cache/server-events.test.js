'use strict'

// Issue 18, item 4, on one Redis: what the server does behind A's back drops A's near entries.
// Expiry (SET … PX, PEXPIRE later, A's own TTL), eviction under maxmemory allkeys-lru, FLUSHALL /
// FLUSHDB by another client, and a restart (SHUTDOWN NOSAVE, started again with other data):
// A never serves the old value. A private redis-server, since the test reconfigures, flushes and
// restarts it.
const IORedis = require('ioredis')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, sleep } = require('../../helpers')
const { startRedisServer } = require('../../faults/redis-server')
const { cli } = require('../cluster/cluster')
const { VISIBLE_MS, privateRedisPossible, loadModule, near, waitLive, twentyKeys, expectSeen, readAll, pollUntilSeen, turnOff, warmFrom, untilNearHit } = require('./near')

const onRedis = privateRedisPossible(selectBackend())
const describeRedis = onRedis ? describe : describe.skip


describeRedis('near cache: server-side expiry, eviction, flush and restart', () => {
  let server
  let io
  let A

  beforeAll(async () => {
    server = await startRedisServer()
    io = new IORedis(server.url)
    A = loadModule({ REDIS_URL: server.url })
    // The restart below fails calls on purpose; their log lines are noise.
    A.configure({ nearCache: true, logger: null })
    await waitLive(A)
  }, 60000)

  afterAll(async () => {
    turnOff(A)
    io?.disconnect()
    await server?.stop()
  })

  /** Writes version `n` with ioredis and has A read it twice, the second time from memory. */
  const warm = (entries, n) => warmFrom(A, (es, version) => Promise.all(es.map((e) => io.set(e.key, e.text(version)))), entries, n)

  /** Polls `read` every few ms until it resolves null; resolves with the time it did (or null). */
  async function nullAt(read, timeoutMs) {
    for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(3)) {
      if ((await read()) === null) return Date.now()
    }
    return null
  }

  test('expiry on the server drops the entry: SET PX, PEXPIRE by another client, A`s own TTL', async () => {
    const P = uniquePrefix('near-exp')
    const [px, later, own] = [`${P}:px`, `${P}:later`, `${P}:own`]
    const ms = 400

    const pxSetAt = Date.now()
    await io.set(px, '"px"', 'PX', ms)
    expect(await untilNearHit(A, () => A.cache.get(px))).toBe('px')

    await io.set(later, '"later"')
    await A.cache.get(later)
    expect(await A.cache.get(later)).toBe('later')
    const expireAt = Date.now()
    await io.pexpire(later, ms)

    await A.cache.set(own, 'own', 1)
    const ownSetAt = Date.now()
    expect(await A.cache.get(own)).toBe('own')

    const [pxGone, laterGone, ownGone] = await Promise.all([
      nullAt(() => A.cache.get(px), 5000),
      nullAt(() => A.cache.get(later), 5000),
      nullAt(() => A.cache.get(own), 5000),
    ])
    // Gone within the bound of the server's expiry (measured from before the write, so
    // the bound only grows with load).
    expect(pxGone).not.toBeNull()
    expect(pxGone - (pxSetAt + ms)).toBeLessThan(VISIBLE_MS)
    expect(laterGone).not.toBeNull()
    expect(laterGone - (expireAt + ms)).toBeLessThan(VISIBLE_MS)
    expect(ownGone).not.toBeNull()
    expect(ownGone - (ownSetAt + 1000)).toBeLessThan(VISIBLE_MS)
    // And stays gone (no entry came back from memory).
    expect(await Promise.all([A.cache.get(px), A.cache.get(later), A.cache.get(own)])).toEqual([null, null, null])
  })

  test('FLUSHALL and FLUSHDB by another client invalidate everything, mget and the creator list included', async () => {
    for (const flush of [['FLUSHALL'], ['FLUSHDB', 'ASYNC']]) {
      const P = uniquePrefix('near-flush')
      const entries = twentyKeys(P)
      await warm(entries, 1)
      await io.set('creator:list', JSON.stringify([{ id: 1 }]))
      const mgetKeys = entries.filter((e) => e.ns === 'cache').map((e) => e.id)
      const extras = [
        { key: 'creator:list', read: (m) => m.creators.getList(), value: () => [{ id: 1 }] },
        { key: 'mget', read: (m) => m.cache.mget(mgetKeys), value: () => entries.filter((e) => e.ns === 'cache').map((e) => e.value(1)) },
      ]
      // The list may still be cached as absent from the previous round until its invalidation lands.
      await expectSeen(A, extras, 1)
      await sleep(VISIBLE_MS)
      for (let pass = 0; pass < 2; pass++) expect(await readAll(A, extras)).toEqual(extras.map((e) => e.value(1)))
      expect(near(A).entries).toBeGreaterThanOrEqual(entries.length + 1)

      const flushedAt = Date.now()
      await io.call(...flush)
      const everything = {
        read: (m) => Promise.all([readAll(m, entries), m.creators.getList(), m.cache.mget(mgetKeys)]).then((v) => v.flat(2)),
      }
      const nothing = [...entries.map(() => null), null, ...mgetKeys.map(() => null)]
      const { seenAt } = await pollUntilSeen(A, [everything], () => nothing, { timeoutMs: 5000 })
      expect(seenAt[0]).toBeDefined()
      expect(seenAt[0] - flushedAt).toBeLessThan(VISIBLE_MS)

      // Tracking still works after the flush: new values show up as before.
      await warm(entries, 2)
      const writtenAt = Date.now()
      await Promise.all(entries.map((e) => io.set(e.key, e.text(3))))
      const after = await pollUntilSeen(A, entries, (e) => e.value(3), { timeoutMs: 5000 })
      expect(Math.max(...after.seenAt.map((t) => (t === undefined ? Infinity : t - writtenAt)))).toBeLessThan(VISIBLE_MS)
    }
  }, 30000)

  test('eviction under maxmemory allkeys-lru drops the evicted keys from A', async () => {
    const P = uniquePrefix('near-evict')
    const entries = twentyKeys(P)
    await warm(entries, 1)
    const invalidations = near(A).invalidations

    const used = Number(/used_memory:(\d+)/.exec(await io.info('memory'))[1])
    await io.config('SET', 'maxmemory-policy', 'allkeys-lru')
    await io.config('SET', 'maxmemory', String(used + 4 * 1024 * 1024))
    try {
      // Fill with 1 KiB values until every one of the 20 keys is evicted. KEYS matches names
      // only: unlike EXISTS or GET it does not refresh the keys' LRU clocks.
      const filler = 'x'.repeat(1024)
      let written = 0
      for (let batch = 0; batch < 100; batch++) {
        const pipe = io.pipeline()
        for (let i = 0; i < 2000; i++) pipe.set(`${P}-fill:${written++}`, filler)
        await pipe.exec()
        if ((await io.keys(`*${P}:*`)).length === 0) break
      }
      expect(await io.keys(`*${P}:*`)).toEqual([])
      expect(Number(/evicted_keys:(\d+)/.exec(await io.info('stats'))[1])).toBeGreaterThan(0)
      await sleep(VISIBLE_MS)
      expect(await readAll(A, entries)).toEqual(entries.map(() => null))
      expect(near(A).invalidations - invalidations).toBeGreaterThanOrEqual(entries.length)
    } finally {
      await io.config('SET', 'maxmemory', '0')
      await io.flushall()
    }
  }, 60000)

  test('after a restart (SHUTDOWN NOSAVE, started again with other data) A serves nothing stale', async () => {
    const P = uniquePrefix('near-restart')
    const entries = twentyKeys(P)
    await warm(entries, 1)

    // A reads all the time, through the restart; only reads started after the new data is in
    // are judged.
    let newDataAt = Infinity
    let reading = true
    const judged = []
    const reader = (async () => {
      while (reading) {
        const startedAt = Date.now()
        const values = await readAll(A, entries)
        if (startedAt >= newDataAt) judged.push({ startedAt, values })
        await sleep(2)
      }
    })()

    io.disconnect()
    cli(server.port, 'shutdown', 'nosave') // redis-cli: the server closes without a reply
    for (const until = Date.now() + 10000; (await server.ping()) && Date.now() < until; ) await sleep(10)
    await server.restart() // on the same port
    // Other data: version 2 for even keys, odd keys absent.
    io = new IORedis(server.url)
    await Promise.all(entries.filter((e) => e.i % 2 === 0).map((e) => io.set(e.key, e.text(2))))
    newDataAt = Date.now()
    const current = entries.map((e) => (e.i % 2 === 0 ? e.value(2) : null))

    // Until A answers every key with the server's value (its connections come back), then a bit.
    let settledAt = null
    for (const until = Date.now() + 15000; Date.now() < until && settledAt === null; await sleep(20)) {
      const last = judged.at(-1)
      if (last && JSON.stringify(last.values) === JSON.stringify(current)) settledAt = Date.now()
    }
    await sleep(300)
    reading = false
    await reader

    expect(settledAt).not.toBeNull()
    // Never the cached version 1; a failed call (its null fallback) while reconnecting is not stale.
    const stale = []
    for (const { startedAt, values } of judged) {
      values.forEach((v, k) => {
        if (JSON.stringify(v) === JSON.stringify(entries[k].value(1))) stale.push({ key: entries[k].key, msAfterNewData: startedAt - newDataAt })
      })
    }
    expect(stale).toEqual([])
    // Tracking is live again and serves from memory.
    await waitLive(A)
    const hits = near(A).hits
    expect(await readAll(A, entries)).toEqual(current)
    expect(await readAll(A, entries)).toEqual(current)
    expect(near(A).hits - hits).toBeGreaterThanOrEqual(entries.length)
    // …with invalidation working on the new server.
    const writtenAt = Date.now()
    await Promise.all(entries.map((e) => io.set(e.key, e.text(3))))
    const { seenAt } = await pollUntilSeen(A, entries, (e) => e.value(3), { timeoutMs: 5000 })
    expect(Math.max(...seenAt.map((t) => (t === undefined ? Infinity : t - writtenAt)))).toBeLessThan(VISIBLE_MS)
  }, 60000)
})
