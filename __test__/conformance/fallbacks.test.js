'use strict'

const mod = require('../..')
const { cache, sessions, users, creators, streams, rateLimiter, otp, tokens, redis, DigisRedisError } = mod
const { uniquePrefix, captureLogs } = require('../helpers')

const P = uniquePrefix('fallback')
const SECRET = 'sekrit-value-never-logged'
let logs

beforeEach(() => {
  logs = captureLogs(mod)
})
afterEach(() => logs.restore())
afterAll(async () => {
  await cache.delPattern(`${P}*`)
  for (const prefix of ['user', 'session', 'creator', 'rate', 'otp', 'stream:active', 'token']) {
    await redis.del(`${prefix}:${P}`, `{${prefix}:${P}}:tb`)
  }
})

const circular = () => {
  const value = { secret: SECRET }
  value.self = value
  return value
}

/** A key holding a hash, so string commands on it fail with WRONGTYPE on every backend. */
async function wrongTypeKey(key) {
  await redis.hset(key, { field: SECRET })
  return key
}

function expectOneLog(operation, code) {
  expect(logs.errors).toHaveLength(1)
  expect(logs.errors[0]).toContain(operation)
  expect(logs.errors[0]).toContain(code)
  expect(logs.errors[0]).not.toContain(SECRET)
}

describe('operational failures answer the contract fallback and log once', () => {
  test.each([
    ['cache.get', () => wrongTypeKey(`${P}:h1`), () => cache.get(`${P}:h1`), null],
    ['cache.incr', () => redis.set(`${P}:h2`, 'not a number'), () => cache.incr(`${P}:h2`), null],
    ['sessions.get', () => wrongTypeKey(`session:${P}`), () => sessions.get(P), null],
    ['users.get', () => wrongTypeKey(`user:${P}`), () => users.get(P), null],
    ['creators.get', () => wrongTypeKey(`creator:${P}`), () => creators.get(P), null],
    ['streams.getActive', () => wrongTypeKey(`stream:active:${P}`), () => streams.getActive(P), null],
    ['otp.verify', () => wrongTypeKey(`otp:${P}`), () => otp.verify(P, '123456'), false],
    ['otp.get', () => wrongTypeKey(`otp:${P}`), () => otp.get(P), null],
  ])('%s', async (operation, setup, call, fallback) => {
    await setup()
    logs.clear()
    await expect(call()).resolves.toEqual(fallback)
    expectOneLog(operation, 'ERR_COMMAND')
  })

  test('rateLimiter.check fails open with the given limit and window, or closed when asked', async () => {
    await redis.set(`{rate:${P}}:tb`, 'not a hash')
    logs.clear()
    await expect(rateLimiter.check(P, 7, 30)).resolves.toEqual({ allowed: true, remaining: 7, reset: 30, limit: 7, retryAfter: 0 })
    expectOneLog('rateLimiter.check', 'ERR_COMMAND')
    await expect(rateLimiter.check(P)).resolves.toEqual({ allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 })
    await expect(rateLimiter.check(P, 7, 30, { failClosed: true })).resolves.toEqual({
      allowed: false,
      remaining: 0,
      reset: 30,
      limit: 7,
      retryAfter: 30,
    })
  })

  test('strict mode rejects the same calls with typed errors', async () => {
    await wrongTypeKey(`user:${P}`)
    mod.configure({ strict: true })
    const err = await users.get(P).catch((e) => e)
    expect(err).toBeInstanceOf(DigisRedisError)
    expect(err.code).toBe('ERR_COMMAND')
    expect(err.message).toMatch(/WRONGTYPE/)
    await redis.set(`{rate:${P}}:tb`, 'not a hash')
    await expect(rateLimiter.check(P)).rejects.toMatchObject({ code: 'ERR_COMMAND' })
    expect(logs.errors).toHaveLength(0)
  })
})

describe('bad input answers the fallback with a reason, or a TypeError in strict mode', () => {
  const badCalls = [
    ['cache.set', () => cache.set(`${P}:keep`, circular()), false],
    ['cache.set', () => cache.set(`${P}:keep`, 10n), false],
    ['cache.set', () => cache.set(`${P}:keep`, undefined), false],
    ['cache.set', () => cache.set(`${P}:keep`, () => SECRET), false],
    ['cache.set', () => cache.set(`${P}:keep`, Symbol(SECRET)), false],
    ['cache.set', () => cache.set(`${P}:keep`, 'v', -1), false],
    ['cache.set', () => cache.set(`${P}:keep`, 'v', 1.5), false],
    ['cache.set', () => cache.set(`${P}:keep`, 'v', NaN), false],
    ['cache.set', () => cache.set(`${P}:keep`, 'v', Infinity), false],
    ['cache.set', () => cache.set(`${P}:keep`, 'v', 'soon'), false],
    ['cache.set', () => cache.set(undefined, 'v'), false],
    ['cache.set', () => cache.set({}, 'v'), false],
    ['cache.set', () => cache.set('', 'v'), false],
    ['cache.get', () => cache.get(null), null],
    ['cache.get', () => cache.get(NaN), null],
    ['cache.del', () => cache.del([]), false],
    ['cache.exists', () => cache.exists(undefined), false],
    ['cache.expire', () => cache.expire(`${P}:keep`, -5), false],
    ['cache.expire', () => cache.expire(`${P}:keep`, 2.5), false],
    ['cache.incr', () => cache.incr(Symbol('k')), null],
    ['cache.mget', () => cache.mget('not-an-array'), []],
    ['cache.mget', () => cache.mget([`${P}:keep`, { bad: true }]), [null, null]],
    ['cache.delPattern', () => cache.delPattern(undefined), 0],
    ['sessions.store', () => sessions.store(P, circular()), false],
    ['sessions.refresh', () => sessions.refresh(P, 0), false],
    ['users.cache', () => users.cache(null, { a: 1 }), false],
    ['creators.cacheList', () => creators.cacheList(circular()), false],
    ['creators.invalidate', () => creators.invalidate(undefined), false],
    ['streams.setActive', () => streams.setActive(P, 1n), false],
    ['streams.removeActive', () => streams.removeActive({}), false],
    ['rateLimiter.check', () => rateLimiter.check(P, 0, 60), { allowed: true, remaining: 0, reset: 60, limit: 0, retryAfter: 0 }],
    ['rateLimiter.check', () => rateLimiter.check(P, 10, -1), { allowed: true, remaining: 10, reset: -1, limit: 10, retryAfter: 0 }],
    ['rateLimiter.check', () => rateLimiter.check(P, 10, 60, { cost: 11 }), { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }],
    ['rateLimiter.check', () => rateLimiter.check(P, 10, 60, { algorithm: 'leaky' }), { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }],
    ['rateLimiter.check', () => rateLimiter.check(P, 10, 60, 'fast'), { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }],
    ['rateLimiter.reset', () => rateLimiter.reset(undefined), false],
    ['otp.store', () => otp.store(P, undefined), false],
    ['otp.verify', () => otp.verify(P, undefined), false],
    ['otp.verify', () => otp.verify(P, { code: 1 }), false],
    ['otp.get', () => otp.get(undefined), null],
    ['otp.generate', () => otp.generate(P, { digits: 3 }), null],
    ['otp.generate', () => otp.generate(P, { ttl: -1 }), null],
    ['creators.setStatus', () => creators.setStatus(P, 'dancing'), false],
    ['creators.setStatus', () => creators.setStatus(P, 'online', 0), false],
    ['creators.getStatus', () => creators.getStatus(undefined), 'offline'],
    ['streams.viewerJoined', () => streams.viewerJoined(P, undefined), false],
    ['streams.viewerCount', () => streams.viewerCount(null), 0],
    ['tokens.cacheBalance', () => tokens.cacheBalance(P, '12,50'), false],
    ['tokens.cacheBalance', () => tokens.cacheBalance(P, NaN), false],
    ['tokens.getBalance', () => tokens.getBalance({}), null],
  ]

  test.each(badCalls)('%s (case %#) → fallback, reason logged, stored data untouched', async (operation, call, fallback) => {
    await cache.set(`${P}:keep`, { intact: true }, 600)
    logs.clear()
    await expect(call()).resolves.toEqual(fallback)
    expectOneLog(operation, 'ERR_INVALID_ARGUMENT')
    await expect(cache.get(`${P}:keep`)).resolves.toEqual({ intact: true })
  })

  test.each(badCalls)('%s (case %#) → TypeError with a code in strict mode', async (operation, call) => {
    mod.configure({ strict: true })
    const err = await call().then(
      () => null,
      (e) => e,
    )
    expect(err).toBeInstanceOf(TypeError)
    expect(err.code).toBe('ERR_INVALID_ARGUMENT')
    expect(err.message).not.toContain(SECRET)
  })
})

describe('configure()', () => {
  test('rejects unknown shapes with a TypeError', () => {
    expect(() => mod.configure({ strict: 'yes' })).toThrow(TypeError)
    expect(() => mod.configure({ logger: {} })).toThrow(TypeError)
    expect(() => mod.configure('strict')).toThrow(TypeError)
  })

  test('an unknown option (a misspelling) is refused by name, and changes nothing', () => {
    const before = mod.configure({})
    expect(() => mod.configure({ strict: !before.strict, timeoutMS: 200 })).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringContaining('no option "timeoutMS"') }),
    )
    expect(mod.configure({})).toEqual(before)
    expect(() => mod.configure({ nearcache: true })).toThrow(TypeError)
  })

  test('a call that throws changes nothing, not even its valid options', () => {
    const before = mod.configure({})
    expect(() => mod.configure({ strict: !before.strict, otpMaxAttempts: 3, timeoutMs: 'soon' })).toThrow(TypeError)
    expect(mod.configure({})).toEqual(before)
  })

  test('logger: null silences the log', async () => {
    mod.configure({ logger: null })
    await expect(cache.get(undefined)).resolves.toBeNull()
    expect(logs.errors).toHaveLength(0)
  })
})
