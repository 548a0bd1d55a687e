'use strict'

// RateLimitStore under real express-rate-limit in a real Express app over real HTTP, on every
// backend.
const express = require('express')
const { rateLimit } = require('express-rate-limit')
const { RateLimitStore, redis, configure } = require('../..')
const { uniquePrefix, captureLogs, sleep } = require('../helpers')

const P = uniquePrefix('erl')
const servers = []
const prefixes = []

/** A fresh store under a unique prefix (express-rate-limit wants one store per limiter). */
function store(label, options = {}) {
  const prefix = `${P}:${label}:`
  prefixes.push(prefix)
  return new RateLimitStore({ prefix, ...options })
}

/** An app whose limiter keys clients by the `x-user` header. */
async function startApp(limiterOptions) {
  const app = express()
  app.use(
    rateLimit({
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      keyGenerator: (req) => req.get('x-user') || 'anon',
      ...limiterOptions,
    }),
  )
  app.get('/ok', (req, res) => res.json({ ok: true }))
  app.get('/fail', (req, res) => res.status(500).json({ ok: false }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  servers.push(server)
  const base = `http://127.0.0.1:${server.address().port}`
  return (path, user) => fetch(`${base}${path}`, { headers: { 'x-user': user } })
}

afterAll(async () => {
  for (const prefix of prefixes) await redis.del(...(await redis.keys(`${prefix}*`)), `${prefix}none`)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
})

describe('RateLimitStore with express-rate-limit', () => {
  test('counts per client across requests and answers 429 over the limit, with the window reset', async () => {
    const s = store('basic')
    const get = await startApp({ windowMs: 60_000, limit: 2, store: s })
    expect((await get('/ok', 'ada')).status).toBe(200)
    const second = await get('/ok', 'ada')
    expect(second.status).toBe(200)
    expect(second.headers.get('ratelimit')).toMatch(/^"2-in-1min"; r=0; t=(59|60)$/)
    const blocked = await get('/ok', 'ada')
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(59)
    expect((await get('/ok', 'bob')).status).toBe(200)
    // The counter is a plain integer with the window as its expiry, at <prefix><key>.
    expect(await redis.get(`${s.prefix}ada`)).toBe(3)
    const pttl = await redis.pttl(`${s.prefix}ada`)
    expect(pttl).toBeGreaterThan(58_000)
    expect(pttl).toBeLessThanOrEqual(60_000)
  })

  test('a new window starts when the old one ends', async () => {
    const get = await startApp({ windowMs: 700, limit: 1, store: store('window') })
    expect((await get('/ok', 'carol')).status).toBe(200)
    expect((await get('/ok', 'carol')).status).toBe(429)
    await sleep(800)
    expect((await get('/ok', 'carol')).status).toBe(200)
  })

  test('skipFailedRequests takes the hit back (decrement)', async () => {
    const s = store('skip')
    const get = await startApp({ windowMs: 60_000, limit: 1, store: s, skipFailedRequests: true })
    expect((await get('/fail', 'dan')).status).toBe(500)
    expect((await get('/fail', 'dan')).status).toBe(500)
    // The responses above were sent before the decrement: wait for it to land.
    for (let i = 0; i < 50 && (await s.get('dan')).totalHits !== 0; i++) await sleep(20)
    expect(await s.get('dan')).toMatchObject({ totalHits: 0 })
    expect((await get('/ok', 'dan')).status).toBe(200)
    expect((await get('/ok', 'dan')).status).toBe(429)
  })

  test('get, resetKey and the interface express-rate-limit checks', async () => {
    const s = store('api')
    expect(s.localKeys).toBe(false)
    s.init({ windowMs: 30_000 })
    expect(await s.get('erin')).toBeUndefined()
    const first = await s.increment('erin')
    expect(first.totalHits).toBe(1)
    expect(first.resetTime).toBeInstanceOf(Date)
    const left = first.resetTime.getTime() - Date.now()
    expect(left).toBeGreaterThan(29_000)
    expect(left).toBeLessThanOrEqual(30_000)
    await s.increment('erin')
    expect(await s.get('erin')).toMatchObject({ totalHits: 2 })
    await s.decrement('erin')
    expect((await s.get('erin')).totalHits).toBe(1)
    await s.decrement('erin')
    // Never below zero, and the window still runs (express-rate-limit's MemoryStore does the same).
    await s.decrement('erin')
    const zero = await s.get('erin')
    expect(zero.totalHits).toBe(0)
    expect(zero.resetTime.getTime() - Date.now()).toBeGreaterThan(20_000)
    expect(await redis.get(`${s.prefix}erin`)).toBe(0)
    expect((await s.increment('erin')).totalHits).toBe(1)
    await s.resetKey('erin')
    expect(await s.get('erin')).toBeUndefined()
    // Taking back a hit that was never counted creates nothing.
    await s.decrement('erin')
    expect(await redis.exists(`${s.prefix}erin`)).toBe(0)
  })

  test('a counter found without an expiry starts a new window', async () => {
    const s = store('no-expiry')
    s.init({ windowMs: 30_000 })
    await redis.set(`${s.prefix}hana`, 99)
    expect(await s.get('hana')).toBeUndefined()
    const hit = await s.increment('hana')
    expect(hit.totalHits).toBe(1)
    expect(await redis.pttl(`${s.prefix}hana`)).toBeGreaterThan(20_000)
  })

  test('resetExpiryOnChange: every hit restarts the window (rate-limit-redis)', async () => {
    const plain = store('fixed')
    const rolling = store('rolling', { resetExpiryOnChange: true })
    expect(rolling.resetExpiryOnChange).toBe(true)
    for (const s of [plain, rolling]) {
      s.init({ windowMs: 60_000 })
      await s.increment('ivy')
      await redis.pexpire(`${s.prefix}ivy`, 5_000)
      await s.increment('ivy')
    }
    expect(await redis.pttl(`${plain.prefix}ivy`)).toBeLessThanOrEqual(5_000)
    expect(await redis.pttl(`${rolling.prefix}ivy`)).toBeGreaterThan(50_000)
    const info = await rolling.get('ivy')
    expect(info.totalHits).toBe(2)
    expect(info.resetTime.getTime() - Date.now()).toBeGreaterThan(50_000)
  })

  test('resetAll deletes every counter under the prefix, and nothing else', async () => {
    const s = store('all*[x]?')
    const neighbour = store('all-other')
    for (const k of ['a', 'b', 'c']) await s.increment(k)
    await neighbour.increment('a')
    await s.resetAll()
    for (const k of ['a', 'b', 'c']) expect(await s.get(k)).toBeUndefined()
    expect((await neighbour.get('a')).totalHits).toBe(1)
    const logs = captureLogs(require('../..'))
    try {
      expect(await new RateLimitStore({ prefix: '' }).resetAll()).toBeUndefined()
      expect(logs.errors.some((l) => l.includes('RateLimitStore.resetAll failed (ERR_INVALID_ARGUMENT)'))).toBe(true)
    } finally {
      logs.restore()
    }
    expect((await neighbour.get('a')).totalHits).toBe(1)
  })

  test('concurrent increments are atomic: every hit gets its own count', async () => {
    const s = store('race')
    s.init({ windowMs: 60_000 })
    const results = await Promise.all(Array.from({ length: 40 }, () => s.increment('frank')))
    expect(results.map((r) => r.totalHits).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
  })

  test('two limiters on two stores with different prefixes count separately', async () => {
    const a = await startApp({ windowMs: 60_000, limit: 1, store: store('one') })
    const b = await startApp({ windowMs: 60_000, limit: 1, store: store('two') })
    expect((await a('/ok', 'gina')).status).toBe(200)
    expect((await b('/ok', 'gina')).status).toBe(200)
    expect((await a('/ok', 'gina')).status).toBe(429)
  })

  test('bad input fails open with a logged reason (or closed when asked); bad options throw', async () => {
    const logs = captureLogs(require('../..'))
    try {
      const open = store('bad-open')
      open.init({ windowMs: 10_000 })
      expect(await open.increment('')).toMatchObject({ totalHits: 1 })
      const closed = store('bad-closed', { failClosed: true })
      expect((await closed.increment('')).totalHits).toBeGreaterThan(1e15)
      expect(logs.errors.filter((l) => l.includes('RateLimitStore.increment failed (ERR_INVALID_ARGUMENT)'))).toHaveLength(2)
      configure({ strict: true })
      await expect(open.increment('')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    } finally {
      logs.restore()
    }
    expect(() => new RateLimitStore({ prefix: 1 })).toThrow(TypeError)
    expect(() => new RateLimitStore({ failClosed: 'yes' })).toThrow(TypeError)
    expect(() => new RateLimitStore({ resetExpiryOnChange: 1 })).toThrow(TypeError)
    // Unknown options are named; the peer's sendCommand is explained.
    expect(() => new RateLimitStore({ prefx: 'a:', windowMs: 1 })).toThrow(/options prefx, windowMs; it takes prefix, resetExpiryOnChange, failClosed/)
    expect(() => new RateLimitStore({ sendCommand: () => {} })).toThrow(/sendCommand \(not needed/)
    expect(() => new RateLimitStore().init({ windowMs: 0 })).toThrow(TypeError)
    expect(() => new RateLimitStore().init({ windowMs: 2 ** 33 })).toThrow(TypeError)
  })
})
