'use strict'

const mod = require('..')

describe('module shape (the contract)', () => {
  test('top-level properties are the contract plus documented extras', () => {
    expect(Object.keys(mod).sort()).toEqual(
      [
        'redis',
        'cache',
        'sessions',
        'users',
        'creators',
        'streams',
        'rateLimiter',
        'otp',
        'testConnection',
        'CACHE_PREFIXES',
        'TTL',
        // documented extras
        'health',
        'tokens',
        'locks',
        'idempotency',
        'configure',
        'DigisRedisError',
        'cacheResponse',
        'analytics',
        'SessionStore',
        'RateLimitStore',
      ].sort(),
    )
  })

  test('names callers probe for stay absent at the top level', () => {
    for (const name of ['get', 'setex', 'sendCommand', 'default', 'set', 'del']) {
      expect(mod).not.toHaveProperty(name)
    }
  })

  test('constants have the contract values and are frozen', () => {
    expect(mod.CACHE_PREFIXES).toEqual({
      USER: 'user:',
      SESSION: 'session:',
      TOKEN: 'token:',
      CREATOR: 'creator:',
      STREAM: 'stream:',
      RATE_LIMIT: 'rate:',
      EMAIL: 'email:',
      OTP: 'otp:',
      TEMP: 'temp:',
    })
    expect(Object.keys(mod.CACHE_PREFIXES)).toEqual(['USER', 'SESSION', 'TOKEN', 'CREATOR', 'STREAM', 'RATE_LIMIT', 'EMAIL', 'OTP', 'TEMP'])
    expect(mod.TTL).toEqual({ SHORT: 300, MEDIUM: 1800, LONG: 3600, DAY: 86400, WEEK: 604800 })
    expect(Object.isFrozen(mod.TTL)).toBe(true)
    expect(Object.isFrozen(mod.CACHE_PREFIXES)).toBe(true)
  })

  // [namespace, function, arity (parameters before the first default)]
  const functions = [
    ['cache', 'set', 2],
    ['cache', 'get', 1],
    ['cache', 'del', 1],
    ['cache', 'exists', 1],
    ['cache', 'expire', 2],
    ['cache', 'incr', 1],
    ['cache', 'mget', 1],
    ['cache', 'delPattern', 1],
    ['sessions', 'store', 2],
    ['sessions', 'get', 1],
    ['sessions', 'destroy', 1],
    ['sessions', 'refresh', 1],
    ['users', 'cache', 2],
    ['users', 'get', 1],
    ['users', 'invalidate', 1],
    ['creators', 'cache', 2],
    ['creators', 'get', 1],
    ['creators', 'cacheList', 1],
    ['creators', 'getList', 0],
    ['creators', 'invalidate', 1],
    ['streams', 'setActive', 2],
    ['streams', 'getActive', 1],
    ['streams', 'removeActive', 1],
    ['streams', 'getAllActive', 0],
    ['rateLimiter', 'check', 1],
    ['rateLimiter', 'reset', 1],
    ['otp', 'store', 2],
    ['otp', 'verify', 2],
    ['otp', 'get', 1],
  ]

  test.each(functions)('%s.%s exists with arity %i', (ns, name, arity) => {
    expect(typeof mod[ns][name]).toBe('function')
    expect(mod[ns][name].length).toBe(arity)
  })

  // Documented additions to the contract's namespaces: [namespace, function, arity].
  const extras = [
    ['creators', 'setStatus', 2],
    ['creators', 'getStatus', 1],
    ['creators', 'getOnline', 0],
    ['streams', 'reindex', 0],
    ['streams', 'viewerJoined', 2],
    ['streams', 'viewerLeft', 2],
    ['streams', 'viewerCount', 1],
    ['rateLimiter', 'middleware', 0],
    ['otp', 'generate', 1],
    ['tokens', 'cacheBalance', 2],
    ['tokens', 'getBalance', 1],
    ['tokens', 'invalidate', 1],
    ['cache', 'wrap', 2],
    ['locks', 'acquire', 1],
    ['locks', 'withLock', 3],
    ['idempotency', 'claim', 1],
    ['idempotency', 'release', 1],
    ['cache', 'invalidateTag', 1],
    ['creators', 'popular', 0],
    ['creators', 'warm', 1],
    ['creators', 'startWarming', 1],
  ]

  test.each(extras)('extra %s.%s exists with arity %i', (ns, name, arity) => {
    expect(typeof mod[ns][name]).toBe('function')
    expect(mod[ns][name].length).toBe(arity)
  })

  test('each namespace holds exactly the contract functions and the documented extras', () => {
    const listed = [...functions, ...extras]
    for (const ns of ['cache', 'sessions', 'users', 'creators', 'streams', 'rateLimiter', 'otp', 'tokens', 'locks', 'idempotency']) {
      const expected = listed.filter(([n]) => n === ns).map(([, name]) => name)
      expect(Object.keys(mod[ns]).sort()).toEqual(expected.sort())
    }
  })

  test('every function returns a promise, even for bad input', async () => {
    mod.configure({ logger: null })
    try {
      const calls = [...functions, ...extras]
        .filter(([ns, name]) => !(ns === 'rateLimiter' && name === 'middleware') && !(ns === 'creators' && name === 'startWarming'))
        .map(([ns, name]) => mod[ns][name](undefined))
      calls.push(mod.testConnection())
      for (const result of calls) expect(result).toBeInstanceOf(Promise)
      await Promise.all(calls)
    } finally {
      mod.configure({ logger: console })
    }
  })

  test('testConnection answers true on a working backend', async () => {
    await expect(mod.testConnection()).resolves.toBe(true)
  })

  test('health() reports the backend, a latency and a closed circuit', async () => {
    const health = await mod.health()
    expect(health).toEqual({
      backend: expect.stringMatching(/^(embedded|redis|redis-cluster|upstash)$/),
      ok: true,
      latencyMs: expect.any(Number),
      circuit: 'closed',
      lastError: null,
      transport: expect.stringMatching(/^(node-loop|io-thread|in-process)$/),
    })
    expect(health.latencyMs).toBeGreaterThanOrEqual(0)
    // On Node a plain redis:// server is driven from Node's own loop; the rest by their kind.
    const onLoop = process.env.DIGIS_REDIS_TRANSPORT === 'thread' ? 'io-thread' : 'node-loop'
    const expected = { embedded: 'in-process', redis: onLoop }[health.backend] ?? 'io-thread'
    expect(health.transport).toBe(expected)
  })
})
