'use strict'

// Calls reach the server in the order they were issued, awaited or not, as on one ioredis
// connection: writes gathered into a tick's batch never overtake a later delete, reads never
// see a write issued after them, and raw commands keep their order too.

const { cache, users, creators, sessions, redis, SessionStore, RateLimitStore } = require('../..')
const { uniquePrefix } = require('../helpers')

const P = uniquePrefix('order')
const ROUNDS = 200

afterAll(() => cache.delPattern(`${P}*`))

describe('program order', () => {
  test('users.cache not awaited, then users.invalidate: the user is gone every time', async () => {
    let stale = 0
    for (let i = 0; i < ROUNDS; i++) {
      const id = `${P}:u:${i}`
      users.cache(id, { name: 'Ada', i })
      await users.invalidate(id)
      if ((await users.get(id)) !== null) stale++
    }
    expect(stale).toBe(0)
  })

  test('cache.set not awaited, then cache.del, then cache.get in one tick: a miss', async () => {
    const outcomes = []
    for (let i = 0; i < ROUNDS; i++) {
      const key = `${P}:c:${i}`
      cache.set(key, i)
      cache.del(key)
      outcomes.push(cache.get(key))
    }
    expect((await Promise.all(outcomes)).filter((v) => v !== null)).toEqual([])
  })

  test('reads and writes interleaved in one tick see exactly the writes before them', async () => {
    const key = `${P}:interleaved`
    const reads = []
    for (let i = 0; i < 50; i++) {
      sessions.store(key, { i })
      reads.push(sessions.get(key))
    }
    expect((await Promise.all(reads)).map((s) => s.i)).toEqual([...Array(50).keys()])
  })

  test('creators.cache not awaited, then creators.invalidate: gone every time', async () => {
    let stale = 0
    for (let i = 0; i < 50; i++) {
      const id = `${P}:cr:${i}`
      creators.cache(id, { i })
      await creators.invalidate(id)
      if ((await creators.get(id)) !== null) stale++
    }
    expect(stale).toBe(0)
  })

  test('raw del not awaited, then set nx: the set is never refused', async () => {
    const key = `${P}:raw`
    await redis.set(key, 'old')
    let refused = 0
    for (let i = 0; i < ROUNDS; i++) {
      redis.del(key)
      if ((await redis.set(key, `v${i}`, { nx: true })) !== 'OK') refused++
    }
    expect(refused).toBe(0)
  })

  test('raw incr calls not awaited answer 1, 2, 3, … in issue order', async () => {
    const key = `${P}:counter`
    const answers = await Promise.all(Array.from({ length: ROUNDS }, () => redis.incr(key)))
    expect(answers).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1))
  })

  test('a feature write not awaited, then a raw get: the raw get sees it', async () => {
    let missed = 0
    for (let i = 0; i < 50; i++) {
      const key = `${P}:mixed:${i}`
      cache.set(key, 'value')
      if ((await redis.get(key)) !== 'value') missed++
    }
    expect(missed).toBe(0)
  })

  test('express stores: a record written not awaited, then touched, keeps the touch\'s expiry', async () => {
    const store = new SessionStore({ prefix: `${P}:sess:` })
    let wrong = 0
    for (let i = 0; i < 50; i++) {
      const sid = `s${i}`
      cache.set(`${P}:sess:${sid}`, { cookie: {}, i }, 100)
      store.touch(sid, { cookie: {} })
      store.destroy(`gone${i}`)
      if ((await redis.ttl(`${P}:sess:${sid}`)) <= 100) wrong++
    }
    expect(wrong).toBe(0)
  })

  test('express stores: increments not awaited, then resetKey, then an increment: 1, 2, 3, then 1', async () => {
    const store = new RateLimitStore({ prefix: `${P}:rl:` })
    store.init({ windowMs: 60_000 })
    for (let i = 0; i < 20; i++) {
      const key = `k${i}`
      const hits = [store.increment(key), store.increment(key), store.increment(key)]
      store.resetKey(key)
      hits.push(store.increment(key))
      expect((await Promise.all(hits)).map((h) => h.totalHits)).toEqual([1, 2, 3, 1])
    }
  })
})
