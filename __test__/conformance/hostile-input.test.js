'use strict'

// A corpus of hostile inputs across every public function: each answers its contract fallback
// with one logged reason (or a TypeError with a code in strict mode), nothing aborts or hangs,
// and no stored data changes.
const mod = require('../..')
const { cache, sessions, users, creators, streams, rateLimiter, otp, tokens, redis } = mod
const { uniquePrefix, captureLogs } = require('../helpers')

const P = uniquePrefix('hostile')
const SECRET = 'hostile-secret-payload'

const circular = () => {
  const o = { secret: SECRET }
  o.self = o
  return o
}

/** An object every use of which throws, as a revoked proxy does. */
const revoked = () => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}
/** An object whose every property read throws. */
const throwingGetters = () =>
  new Proxy(
    {},
    {
      get() {
        throw new Error(SECRET)
      },
    },
  )

// Hostile values by the position they are passed in.
const BAD_KEYS = [
  ['revoked proxy', revoked()],
  ['throwing getters', throwingGetters()],
  ['undefined', undefined],
  ['null', null],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ['empty string', ''],
  ['symbol', Symbol(SECRET)],
  ['function', () => SECRET],
  ['bigint', 10n],
  ['object', { id: SECRET }],
  ['array', [SECRET]],
  ['boolean', true],
  ['circular', circular()],
  ['unpaired surrogate', `${SECRET}\ud800`],
  ['date', new Date(0)],
  ['buffer', Buffer.from(SECRET)],
]
const BAD_VALUES = [
  ['undefined', undefined],
  ['revoked proxy', revoked()],
  ['throwing getters', throwingGetters()],
  ['symbol', Symbol(SECRET)],
  ['function', () => SECRET],
  ['bigint', 10n],
  ['circular', circular()],
  ['unpaired surrogate string', `${SECRET}\udc00`],
  ['throwing toJSON', { toJSON: () => { throw new Error('boom') } }],
  ['nested bigint', { secret: SECRET, big: 1n }],
]
const BAD_TTLS = [
  ['NaN', NaN],
  ['revoked proxy', revoked()],
  ['throwing getters', throwingGetters()],
  ['Infinity', Infinity],
  ['negative', -1],
  ['fractional', 1.5],
  ['words', 'soon'],
  ['fractional string', '1.5'],
  ['negative fraction', -0.5],
  ['object', {}],
  ['array', [60]],
  ['true', true],
  ['bigint', 60n],
  ['symbol', Symbol('ttl')],
  ['padded string', ' 60'],
  ['too large', 2 ** 40],
]
const BAD_COUNTS = [
  ['zero', 0],
  ['negative', -1],
  ['fractional', 1.5],
  ['NaN', NaN],
  ['words', 'ten'],
  ['object', {}],
  ['bigint', 10n],
]

// Options objects that cannot be read: read once, inside the call's guard.
const BAD_OPTIONS = [
  ['revoked proxy', revoked()],
  ['throwing getters', throwingGetters()],
  ['throwing getter on the one option read', { get failClosed() { throw new Error(SECRET) }, get ttl() { throw new Error(SECRET) }, get digits() { throw new Error(SECRET) }, get staleTtl() { throw new Error(SECRET) } }],
  ['string', 'fast'],
]

const ok = 'ok'
// [operation, call(bad) for each position, fallback]
const byKey = [
  ['cache.set', (k) => cache.set(k, ok), false],
  ['cache.get', (k) => cache.get(k), null],
  ['cache.del', (k) => cache.del(k), false],
  ['cache.exists', (k) => cache.exists(k), false],
  ['cache.expire', (k) => cache.expire(k, 60), false],
  ['cache.incr', (k) => cache.incr(k), null],
  ['cache.mget', (k) => cache.mget([`${P}:a`, k]), [null, null]],
  ['cache.delPattern', (k) => cache.delPattern(k), 0],
  ['sessions.store', (k) => sessions.store(k, ok), false],
  ['sessions.get', (k) => sessions.get(k), null],
  ['sessions.destroy', (k) => sessions.destroy(k), false],
  ['sessions.refresh', (k) => sessions.refresh(k), false],
  ['users.cache', (k) => users.cache(k, ok), false],
  ['users.get', (k) => users.get(k), null],
  ['users.invalidate', (k) => users.invalidate(k), false],
  ['creators.cache', (k) => creators.cache(k, ok), false],
  ['creators.get', (k) => creators.get(k), null],
  ['creators.invalidate', (k) => creators.invalidate(k), false],
  ['creators.setStatus', (k) => creators.setStatus(k, 'online'), false],
  ['creators.getStatus', (k) => creators.getStatus(k), 'offline'],
  ['streams.setActive', (k) => streams.setActive(k, ok), false],
  ['streams.getActive', (k) => streams.getActive(k), null],
  ['streams.removeActive', (k) => streams.removeActive(k), false],
  ['streams.viewerJoined', (k) => streams.viewerJoined(k, 'v'), false],
  ['streams.viewerJoined', (k) => streams.viewerJoined(`${P}-s`, k), false],
  ['streams.viewerLeft', (k) => streams.viewerLeft(k, 'v'), false],
  ['streams.viewerCount', (k) => streams.viewerCount(k), 0],
  ['rateLimiter.check', (k) => rateLimiter.check(k), { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }],
  ['rateLimiter.reset', (k) => rateLimiter.reset(k), false],
  ['otp.store', (k) => otp.store(k, '123456'), false],
  ['otp.store', (k) => otp.store(`${P}-o`, k), false],
  ['otp.verify', (k) => otp.verify(k, '123456'), false],
  ['otp.verify', (k) => otp.verify(`${P}-o`, k), false],
  ['otp.get', (k) => otp.get(k), null],
  ['otp.generate', (k) => otp.generate(k), null],
  ['tokens.cacheBalance', (k) => tokens.cacheBalance(k, 5), false],
  ['tokens.getBalance', (k) => tokens.getBalance(k), null],
  ['tokens.invalidate', (k) => tokens.invalidate(k), false],
]
const byValue = [
  ['cache.set', (v) => cache.set(`${P}:canary`, v), false],
  ['sessions.store', (v) => sessions.store(`${P}-canary`, v), false],
  ['users.cache', (v) => users.cache(`${P}-canary`, v), false],
  ['creators.cache', (v) => creators.cache(`${P}-canary`, v), false],
  ['creators.cacheList', (v) => creators.cacheList(v), false],
  ['streams.setActive', (v) => streams.setActive(`${P}-canary`, v), false],
  ['tokens.cacheBalance', (v) => tokens.cacheBalance(`${P}-canary`, v), false],
]
const byTtl = [
  ['cache.set', (t) => cache.set(`${P}:canary`, ok, t), false],
  ['cache.expire', (t) => cache.expire(`${P}:canary`, t), false],
  ['sessions.store', (t) => sessions.store(`${P}-canary`, ok, t), false],
  ['sessions.refresh', (t) => sessions.refresh(`${P}-canary`, t), false],
  ['users.cache', (t) => users.cache(`${P}-canary`, ok, t), false],
  ['creators.cache', (t) => creators.cache(`${P}-canary`, ok, t), false],
  ['creators.cacheList', (t) => creators.cacheList([], t), false],
  ['creators.setStatus', (t) => creators.setStatus(`${P}-canary`, 'busy', t), false],
  ['streams.setActive', (t) => streams.setActive(`${P}-canary`, ok, t), false],
  ['otp.store', (t) => otp.store(`${P}-canary`, '1', t), false],
  ['otp.generate', (t) => otp.generate(`${P}-canary`, { ttl: t }), null],
  ['tokens.cacheBalance', (t) => tokens.cacheBalance(`${P}-canary`, 1, t), false],
]
const byCount = [
  ['rateLimiter.check', (n) => rateLimiter.check(`${P}-rl`, n, 60), (n) => ({ allowed: true, remaining: typeof n === 'number' && Number.isFinite(n) ? n : 10, reset: 60, limit: typeof n === 'number' && Number.isFinite(n) ? n : 10, retryAfter: 0 })],
  ['rateLimiter.check', (n) => rateLimiter.check(`${P}-rl`, 10, n), (n) => ({ allowed: true, remaining: 10, reset: typeof n === 'number' && Number.isFinite(n) ? n : 60, limit: 10, retryAfter: 0 })],
  ['rateLimiter.check', (n) => rateLimiter.check(`${P}-rl`, 10, 60, { cost: n }), () => ({ allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 })],
  ['otp.generate', (n) => otp.generate(`${P}-canary`, { digits: n }), () => null],
]

const byOptions = [
  ['rateLimiter.check', (o) => rateLimiter.check(`${P}-rl`, 10, 60, o), { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }],
  ['otp.generate', (o) => otp.generate(`${P}-canary`, o), null],
  ['idempotency.claim', (o) => mod.idempotency.claim(`${P}-idem`, 60, o), true],
  ['locks.acquire', (o) => mod.locks.acquire(`${P}-lock`, o), null],
  ['locks.withLock', (o) => mod.locks.withLock(`${P}-lock`, o, () => 1), { acquired: false, lost: false, fencingToken: null }],
  ['cache.wrap', (o) => cache.wrap(`${P}-wrap`, () => 'loaded', 60, o), 'loaded'],
  ['cache.mget', (o) => cache.mget(o), []],
]

const corpus = [
  ...byOptions.flatMap(([op, call, fallback]) => BAD_OPTIONS.map(([name, bad]) => [op, `options ${name}`, () => call(bad), fallback])),
  ...byKey.flatMap(([op, call, fallback]) => BAD_KEYS.map(([name, bad]) => [op, `key ${name}`, () => call(bad), fallback])),
  ...byValue.flatMap(([op, call, fallback]) =>
    BAD_VALUES
      // A BigInt is a valid token balance.
      .filter(([name]) => !(op === 'tokens.cacheBalance' && name === 'bigint'))
      .map(([name, bad]) => [op, `value ${name}`, () => call(bad), fallback]),
  ),
  ...byTtl.flatMap(([op, call, fallback]) => BAD_TTLS.map(([name, bad]) => [op, `ttl ${name}`, () => call(bad), fallback])),
  ...byCount.flatMap(([op, call, fallback]) => BAD_COUNTS.map(([name, bad]) => [op, `number ${name}`, () => call(bad), fallback(bad)])),
]

/** Stored data the corpus must leave exactly as it was. */
const canaries = [
  [`${P}:canary`, 'cache'],
  [`session:${P}-canary`, 'session'],
  [`user:${P}-canary`, 'user'],
  [`creator:${P}-canary`, 'creator'],
  [`stream:active:${P}-canary`, 'stream'],
  [`otp:${P}-canary`, '654321'],
  [`token:${P}-canary`, '77'],
]

beforeAll(async () => {
  for (const [key, value] of canaries) await redis.set(key, value, { ex: 600 })
})
afterAll(async () => {
  await redis.del(...canaries.map(([key]) => key), `{rate:${P}-rl}:tb`)
})

test(`the corpus has at least 200 hostile inputs (${corpus.length})`, () => {
  expect(corpus.length).toBeGreaterThanOrEqual(200)
})

describe('non-strict: the fallback, one logged reason, nothing stored', () => {
  test.each(corpus.map(([op]) => op).filter((op, i, all) => all.indexOf(op) === i))('%s', async (operation) => {
    const logs = captureLogs(mod)
    const problems = []
    try {
      for (const [op, what, call, fallback] of corpus.filter(([op]) => op === operation)) {
        logs.clear()
        const result = await call()
        if (JSON.stringify(result) !== JSON.stringify(fallback)) problems.push(`${op} ${what}: answered ${JSON.stringify(result)}`)
        if (logs.errors.length !== 1) problems.push(`${op} ${what}: logged ${logs.errors.length} lines`)
        else if (!/ERR_INVALID_ARGUMENT/.test(logs.errors[0]) || !logs.errors[0].includes(op)) problems.push(`${op} ${what}: logged ${logs.errors[0]}`)
        else if (logs.errors[0].includes(SECRET)) problems.push(`${op} ${what}: the log carries the input`)
      }
    } finally {
      logs.restore()
    }
    expect(problems).toEqual([])
  })

  test('every canary is untouched, value and expiry', async () => {
    for (const [key, value] of canaries) {
      await expect(redis.get(key)).resolves.toEqual(value === '654321' || value === '77' ? Number(value) : value)
      expect(await redis.ttl(key)).toBeGreaterThan(500)
    }
  })
})

describe('strict: a TypeError with code ERR_INVALID_ARGUMENT, never another rejection', () => {
  beforeAll(() => mod.configure({ strict: true }))
  afterAll(() => mod.configure({ strict: false }))

  test('every corpus input', async () => {
    const problems = []
    for (const [op, what, call] of corpus) {
      const outcome = await call().then(
        (value) => ({ value }),
        (err) => ({ err }),
      )
      if (!outcome.err) problems.push(`${op} ${what}: resolved ${JSON.stringify(outcome.value)}`)
      else if (!(outcome.err instanceof TypeError) || outcome.err.code !== 'ERR_INVALID_ARGUMENT') {
        problems.push(`${op} ${what}: rejected ${outcome.err.name} ${outcome.err.code}`)
      }
    }
    expect(problems).toEqual([])
  })
})

describe('options are read once, inside the guard', () => {
  const counted = () => {
    const options = {
      reads: 0,
      get failClosed() {
        options.reads++
        return true
      },
    }
    return options
  }

  test('a rate-limit check that fails still fails closed, reading failClosed once', async () => {
    const options = counted()
    await expect(rateLimiter.check(`${P}-rl`, 0, 60, options)).resolves.toMatchObject({ allowed: false })
    expect(options.reads).toBe(1)
  })

  test('an idempotency claim that fails still answers "seen", reading failClosed once', async () => {
    const options = counted()
    await expect(mod.idempotency.claim(Symbol('bad key'), 60, options)).resolves.toBe(false)
    expect(options.reads).toBe(1)
  })

  test('no call throws synchronously, whatever its options', () => {
    for (const [, bad] of BAD_OPTIONS) {
      for (const [, call] of byOptions) expect(() => call(bad).catch(() => {})).not.toThrow()
    }
  })
})

describe('odd but valid input is stored faithfully', () => {
  test('keys with glob characters are literal keys everywhere but delPattern', async () => {
    const key = `${P}:glob*?[ab]\\`
    await cache.set(key, { literal: true })
    await cache.set(`${P}:globX`, 1)
    await expect(cache.get(key)).resolves.toEqual({ literal: true })
    await expect(cache.del(`${P}:glob*`)).resolves.toBe(true)
    await expect(cache.exists(key)).resolves.toBe(true)
    await expect(cache.exists(`${P}:globX`)).resolves.toBe(true)
    await cache.del(key)
    await cache.del(`${P}:globX`)
  })

  test('lone surrogates inside objects, astral characters and every Latin-1 character round-trip', async () => {
    const value = { lone: '\ud800x\udc00', astral: '𝄞🎉', latin1: Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('') }
    await cache.set(`${P}:chars`, value)
    await expect(cache.get(`${P}:chars`)).resolves.toEqual(value)
    await cache.set(`${P}:latin1`, value.latin1)
    await expect(cache.get(`${P}:latin1`)).resolves.toBe(value.latin1)
    await cache.del(`${P}:chars`)
    await cache.del(`${P}:latin1`)
  })

  test('binary data is stored as JSON.stringify writes it, as in the original', async () => {
    const bytes = Buffer.from([0, 1, 127, 128, 255])
    await cache.set(`${P}:bin`, bytes)
    await expect(cache.get(`${P}:bin`)).resolves.toEqual({ type: 'Buffer', data: [0, 1, 127, 128, 255] })
    await cache.del(`${P}:bin`)
  })

  test('a 20 MB value round-trips', async () => {
    const big = { blob: 'x'.repeat(20 * 1024 * 1024) }
    await expect(cache.set(`${P}:big`, big, 60)).resolves.toBe(true)
    const back = await cache.get(`${P}:big`)
    expect(back.blob.length).toBe(big.blob.length)
    await cache.del(`${P}:big`)
  }, 30000)

  test('a 100k-key mget answers 100k items in order', async () => {
    const keys = Array.from({ length: 100000 }, (_, i) => `${P}:m:${i}`)
    await cache.set(keys[7], 7)
    await cache.set(keys[99999], 'last')
    const values = await cache.mget(keys)
    expect(values).toHaveLength(100000)
    expect(values[7]).toBe(7)
    expect(values[99999]).toBe('last')
    expect(values.filter((v) => v !== null)).toHaveLength(2)
    await cache.del(keys[7])
    await cache.del(keys[99999])
  }, 30000)
})
