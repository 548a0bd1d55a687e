'use strict'

const { rateLimiter, redis } = require('../..')
const { uniquePrefix } = require('../helpers')

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

describe('rateLimiter', () => {
  test('defaults: 10 per 60 s, then blocked with the time left as reset', async () => {
    const ip = id('defaults')
    for (let i = 1; i <= 10; i++) {
      const result = await rateLimiter.check(ip)
      expect(result).toEqual({ allowed: true, remaining: 10 - i, reset: expect.any(Number) })
      expect(result.reset).toBeGreaterThan(0)
      expect(result.reset).toBeLessThanOrEqual(60)
    }
    const blocked = await rateLimiter.check(ip)
    expect(blocked.allowed).toBe(false)
    expect(blocked.remaining).toBe(0)
    expect(blocked.reset).toBeGreaterThan(0)
    expect(blocked.reset).toBeLessThanOrEqual(60)
  })

  test('the state is the original counter at rate:<identifier>, always with an expiry', async () => {
    const ip = id('key')
    await rateLimiter.check(ip, 5, 30)
    await rateLimiter.check(ip, 5, 30)
    await expect(redis.get(`rate:${ip}`)).resolves.toBe(2)
    const ttl = await redis.ttl(`rate:${ip}`)
    expect(ttl).toBeGreaterThan(25)
    expect(ttl).toBeLessThanOrEqual(30)
  })

  test('a counter left without expiry (crash in the original) gets one, no permanent lockout', async () => {
    const ip = id('stuck')
    await redis.set(`rate:${ip}`, 50)
    const result = await rateLimiter.check(ip, 10, 20)
    expect(result.allowed).toBe(false)
    const ttl = await redis.ttl(`rate:${ip}`)
    expect(ttl).toBeGreaterThan(15)
    expect(ttl).toBeLessThanOrEqual(20)
  })

  test('concurrent checks admit exactly the limit', async () => {
    const ip = id('burst')
    const results = await Promise.all(Array.from({ length: 60 }, () => rateLimiter.check(ip, 15, 60)))
    expect(results.filter((r) => r.allowed)).toHaveLength(15)
    expect(results.filter((r) => !r.allowed).every((r) => r.remaining === 0)).toBe(true)
  })

  test('reset clears the state', async () => {
    const ip = id('reset')
    for (let i = 0; i < 3; i++) await rateLimiter.check(ip, 3, 60)
    expect((await rateLimiter.check(ip, 3, 60)).allowed).toBe(false)
    await expect(rateLimiter.reset(ip)).resolves.toBe(true)
    await expect(rateLimiter.check(ip, 3, 60)).resolves.toMatchObject({ allowed: true, remaining: 2 })
  })

  test('identifiers are independent', async () => {
    const a = id('ind-a')
    const b = id('ind-b')
    await rateLimiter.check(a, 1, 60)
    expect((await rateLimiter.check(a, 1, 60)).allowed).toBe(false)
    expect((await rateLimiter.check(b, 1, 60)).allowed).toBe(true)
  })
})
