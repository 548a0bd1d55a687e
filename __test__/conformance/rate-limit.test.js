'use strict'

const { rateLimiter, redis } = require('../..')
const { uniquePrefix, sleep } = require('../helpers')

const P = uniquePrefix('rate')
const created = []
const id = (name) => {
  const value = `${P}-${name}`
  created.push(value)
  return value
}
afterAll(async () => {
  for (const value of created) await rateLimiter.reset(value)
})

const stateKeys = (ip) => [`rate:${ip}`, `{rate:${ip}}:tb`, `{rate:${ip}}:sw`]

describe('rateLimiter.check: token bucket (the default)', () => {
  test('defaults: a burst of 10, then blocked until a token refills (one per 6 s)', async () => {
    const ip = id('defaults')
    for (let i = 1; i <= 10; i++) {
      const result = await rateLimiter.check(ip)
      expect(result).toEqual({ allowed: true, remaining: 10 - i, reset: expect.any(Number), limit: 10, retryAfter: 0 })
      expect(result.reset).toBeGreaterThan(0)
      expect(result.reset).toBeLessThanOrEqual(60)
    }
    const blocked = await rateLimiter.check(ip)
    expect(blocked).toMatchObject({ allowed: false, remaining: 0, limit: 10 })
    expect(blocked.retryAfter).toBeGreaterThanOrEqual(5)
    expect(blocked.retryAfter).toBeLessThanOrEqual(6)
    expect(blocked.reset).toBeGreaterThan(55)
    expect(blocked.reset).toBeLessThanOrEqual(60)
  })

  test('tokens refill over the window; retryAfter tells when', async () => {
    const ip = id('refill')
    await rateLimiter.check(ip, 2, 2)
    await rateLimiter.check(ip, 2, 2)
    const blocked = await rateLimiter.check(ip, 2, 2)
    expect(blocked.allowed).toBe(false)
    expect(blocked.retryAfter).toBe(1)
    await sleep(1100)
    await expect(rateLimiter.check(ip, 2, 2)).resolves.toMatchObject({ allowed: true, remaining: 0 })
  })

  test("its state never touches the original's counter, so both coexist without WRONGTYPE", async () => {
    const ip = id('coexist')
    await redis.set(`rate:${ip}`, 7, { ex: 60 })
    await expect(rateLimiter.check(ip, 5, 60)).resolves.toMatchObject({ allowed: true, remaining: 4 })
    await expect(redis.get(`rate:${ip}`)).resolves.toBe(7)
    await expect(redis.type(`{rate:${ip}}:tb`)).resolves.toBe('hash')
    const ttl = await redis.pttl(`{rate:${ip}}:tb`)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(12000)
  })

  test('cost takes several tokens at once', async () => {
    const ip = id('cost')
    await expect(rateLimiter.check(ip, 10, 60, { cost: 4 })).resolves.toMatchObject({ allowed: true, remaining: 6 })
    await expect(rateLimiter.check(ip, 10, 60, { cost: 4 })).resolves.toMatchObject({ allowed: true, remaining: 2 })
    await expect(rateLimiter.check(ip, 10, 60, { cost: 4 })).resolves.toMatchObject({ allowed: false, remaining: 2 })
    await expect(rateLimiter.check(ip, 10, 60, { cost: 2 })).resolves.toMatchObject({ allowed: true, remaining: 0 })
  })
})

describe('rateLimiter.check: other algorithms', () => {
  test('fixed-window keeps the original counter at rate:<identifier>, always with an expiry', async () => {
    const ip = id('fixed')
    await rateLimiter.check(ip, 2, 30, { algorithm: 'fixed-window' })
    await rateLimiter.check(ip, 2, 30, { algorithm: 'fixed-window' })
    await expect(redis.get(`rate:${ip}`)).resolves.toBe(2)
    const blocked = await rateLimiter.check(ip, 2, 30, { algorithm: 'fixed-window' })
    expect(blocked).toMatchObject({ allowed: false, remaining: 0, limit: 2 })
    expect(blocked.retryAfter).toBeGreaterThan(25)
    expect(blocked.retryAfter).toBeLessThanOrEqual(30)
    expect(blocked.reset).toBe(blocked.retryAfter)
  })

  test('fixed-window repairs a counter left without expiry by the original (no permanent lockout)', async () => {
    const ip = id('stuck')
    await redis.set(`rate:${ip}`, 50)
    const result = await rateLimiter.check(ip, 10, 20, { algorithm: 'fixed-window' })
    expect(result.allowed).toBe(false)
    const ttl = await redis.ttl(`rate:${ip}`)
    expect(ttl).toBeGreaterThan(15)
    expect(ttl).toBeLessThanOrEqual(20)
  })

  test('sliding-window admits the limit, then blocks with a retryAfter', async () => {
    const ip = id('sliding')
    for (let i = 1; i <= 3; i++) {
      await expect(rateLimiter.check(ip, 3, 60, { algorithm: 'sliding-window' })).resolves.toMatchObject({
        allowed: true,
        remaining: 3 - i,
        retryAfter: 0,
      })
    }
    const blocked = await rateLimiter.check(ip, 3, 60, { algorithm: 'sliding-window' })
    expect(blocked).toMatchObject({ allowed: false, remaining: 0, limit: 3 })
    expect(blocked.retryAfter).toBeGreaterThan(0)
    expect(blocked.retryAfter).toBeLessThanOrEqual(120)
    await expect(redis.type(`{rate:${ip}}:sw`)).resolves.toBe('hash')
  })

  test.each(['token-bucket', 'sliding-window', 'fixed-window'])('%s: concurrent checks admit exactly the limit', async (algorithm) => {
    const ip = id(`burst-${algorithm}`)
    const results = await Promise.all(Array.from({ length: 60 }, () => rateLimiter.check(ip, 15, 86400, { algorithm })))
    expect(results.filter((r) => r.allowed)).toHaveLength(15)
    expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0 && r.retryAfter > 0)).toBe(true)
  })
})

describe('rateLimiter: blocks, reset, independence', () => {
  test('a known block is answered locally for up to a second, then the server is asked again', async () => {
    const ip = id('cached')
    await rateLimiter.check(ip, 1, 3600)
    expect((await rateLimiter.check(ip, 1, 3600)).allowed).toBe(false)
    // Wiping the server state behind the limiter's back changes nothing at once.
    await redis.del(...stateKeys(ip))
    const cached = await rateLimiter.check(ip, 1, 3600)
    expect(cached).toMatchObject({ allowed: false, remaining: 0, limit: 1 })
    expect(cached.retryAfter).toBeGreaterThan(3000)
    // A different limit is a different question: it goes to the server.
    await expect(rateLimiter.check(ip, 5, 3600)).resolves.toMatchObject({ allowed: true })
    // Past the local bound the server answers again (here: the state is gone, so allowed).
    await sleep(1100)
    await expect(rateLimiter.check(ip, 1, 3600)).resolves.toMatchObject({ allowed: true })
  })

  test('reset clears every algorithm’s state and the local block', async () => {
    const ip = id('reset')
    for (const algorithm of ['token-bucket', 'sliding-window', 'fixed-window']) {
      await rateLimiter.check(ip, 1, 60, { algorithm })
      expect((await rateLimiter.check(ip, 1, 60, { algorithm })).allowed).toBe(false)
    }
    await expect(redis.exists(...stateKeys(ip))).resolves.toBe(3)
    await expect(rateLimiter.reset(ip)).resolves.toBe(true)
    await expect(redis.exists(...stateKeys(ip))).resolves.toBe(0)
    for (const algorithm of ['token-bucket', 'sliding-window', 'fixed-window']) {
      await expect(rateLimiter.check(ip, 1, 60, { algorithm })).resolves.toMatchObject({ allowed: true })
    }
  })

  test('identifiers are independent', async () => {
    const a = id('ind-a')
    const b = id('ind-b')
    await rateLimiter.check(a, 1, 60)
    expect((await rateLimiter.check(a, 1, 60)).allowed).toBe(false)
    expect((await rateLimiter.check(b, 1, 60)).allowed).toBe(true)
  })
})
