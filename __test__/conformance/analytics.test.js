'use strict'

const mod = require('../..')
const { analytics, cache, users, creators, sessions, streams, tokens, rateLimiter, redis, configure } = mod
const { meterFor, BUCKET_BOUNDS_MS, TIME_ONE_IN } = require('../../lib/metrics')
const { uniquePrefix, captureLogs, runNode, sleep } = require('../helpers')

const P = uniquePrefix('analytics')
const EXPECTED_BACKEND = process.env.UPSTASH_REDIS_REST_URL
  ? 'upstash'
  : process.env.REDIS_CLUSTER_URLS
    ? 'redis-cluster'
    : process.env.REDIS_URL
      ? 'redis'
      : 'embedded'
const zero = { hits: 0, misses: 0, hitRatio: null, sets: 0, deletes: 0, errors: 0 }

beforeEach(() => analytics.reset())
afterAll(async () => {
  await cache.delPattern(`${P}*`)
  for (const prefix of ['user', 'session', 'creator', 'stream:active', 'token']) await redis.del(`${prefix}:${P}`)
  await rateLimiter.reset(`${P}:rl`)
})

/** A known sequence of calls over every namespace. */
async function knownSequence() {
  await rateLimiter.reset(`${P}:rl`)
  analytics.reset()
  await cache.set(`${P}:a`, 1)
  await cache.set(`${P}:b`, { b: 2 })
  await cache.get(`${P}:a`) // hit
  await cache.get(`${P}:none`) // miss
  await cache.mget([`${P}:a`, `${P}:none`, `${P}:b`, `${P}:none2`]) // 2 hits, 2 misses
  await cache.del(`${P}:b`)
  await cache.exists(`${P}:a`) // neither read nor write
  await users.cache(P, { name: 'Ada' })
  await users.get(P)
  await users.get(P)
  await users.invalidate(P)
  await users.get(P) // miss
  await sessions.store(P, { s: 1 })
  await sessions.get(P)
  await creators.cache(P, { c: 1 })
  await creators.get(P)
  await creators.getList() // miss (nothing cached under creator:list by this file... or a hit)
  await streams.setActive(P, { live: true })
  await streams.getActive(P)
  await streams.removeActive(P)
  await tokens.cacheBalance(P, 10)
  await tokens.getBalance(P)
  await tokens.getBalance(`${P}:nobody`)
  for (let i = 0; i < 3; i++) await rateLimiter.check(`${P}:rl`, 2, 60)
}

describe('analytics.stats', () => {
  test('exact counts per namespace after a known sequence of calls', async () => {
    await creators.invalidate(P) // creator:list gone too: getList below is a miss
    analytics.reset()
    await knownSequence()
    const s = analytics.stats()
    expect(s.backend).toBe(EXPECTED_BACKEND)
    expect(s.circuit).toBe('closed')
    expect(Date.parse(s.since)).toBeLessThanOrEqual(Date.now())
    expect(s.namespaces).toEqual({
      cache: { hits: 3, misses: 3, hitRatio: 0.5, sets: 2, deletes: 1, errors: 0 },
      users: { hits: 2, misses: 1, hitRatio: 2 / 3, sets: 1, deletes: 1, errors: 0 },
      creators: { hits: 1, misses: 1, hitRatio: 0.5, sets: 1, deletes: 0, errors: 0 },
      sessions: { hits: 1, misses: 0, hitRatio: 1, sets: 1, deletes: 0, errors: 0 },
      streams: { hits: 1, misses: 0, hitRatio: 1, sets: 1, deletes: 1, errors: 0 },
      tokens: { hits: 1, misses: 1, hitRatio: 0.5, sets: 1, deletes: 0, errors: 0 },
      responses: zero,
    })
    expect(s.rateLimit).toEqual({ allowed: 2, denied: 1 })
    const calls = Object.fromEntries(Object.entries(s.operations).map(([name, op]) => [name, op.calls]))
    // One call in TIME_ONE_IN is timed, the first one always.
    for (const op of Object.values(s.operations)) expect(op.timed).toBe(Math.ceil(op.calls / TIME_ONE_IN))
    expect(calls).toMatchObject({
      'cache.set': 2,
      'cache.get': 2,
      'cache.mget': 1,
      'cache.del': 1,
      'cache.exists': 1,
      'users.get': 3,
      'rateLimiter.check': 3,
      'tokens.getBalance': 2,
    })
    for (const op of Object.values(s.operations)) {
      expect(op.errors).toBe(0)
      expect(op.p50Ms).toBeGreaterThanOrEqual(0)
      expect(op.p50Ms).toBeLessThanOrEqual(op.p99Ms)
      expect(op.p99Ms).toBeLessThanOrEqual(op.maxMs)
    }
  })

  test('failures count as errors, not misses; fail-open answers count as allowed', async () => {
    await redis.hset(`user:${P}`, { field: 'x' })
    await redis.set(`{rate:${P}:broken}:tb`, 'not a hash')
    const logs = captureLogs(mod)
    try {
      await expect(users.get(P)).resolves.toBeNull()
      await expect(rateLimiter.check(`${P}:broken`, 5, 60)).resolves.toMatchObject({ allowed: true })
    } finally {
      logs.restore()
      await redis.del(`user:${P}`, `{rate:${P}:broken}:tb`)
    }
    const s = analytics.stats()
    expect(s.namespaces.users).toEqual({ ...zero, errors: 1 })
    expect(s.operations['users.get']).toMatchObject({ calls: 1, errors: 1 })
    expect(s.operations['rateLimiter.check']).toMatchObject({ calls: 1, errors: 1 })
    expect(s.rateLimit).toEqual({ allowed: 1, denied: 0 })
  })

  test('strict mode rejections are counted as errors', async () => {
    configure({ strict: true })
    try {
      await expect(cache.get('')).rejects.toThrow(TypeError)
    } finally {
      configure({ strict: false })
    }
    expect(analytics.stats().namespaces.cache).toEqual({ ...zero, errors: 1 })
  })

  test('reset() zeroes every counter and forgets the operations', async () => {
    await knownSequence()
    expect(Object.keys(analytics.stats().operations).length).toBeGreaterThan(5)
    analytics.reset()
    const s = analytics.stats()
    for (const ns of Object.values(s.namespaces)) expect(ns).toEqual(zero)
    expect(s.operations).toEqual({})
    expect(s.rateLimit).toEqual({ allowed: 0, denied: 0 })
  })

  test('percentiles come from fixed histogram buckets: p99 sees the slow tail that p50 ignores', () => {
    // Durations are measured from `started`: back-dating it records a call of a known length.
    const meter = meterFor('test.timed')
    for (let i = 0; i < 98; i++) meter.record(performance.now() - 0.02, null, false)
    meter.record(performance.now() - 60, null, false)
    meter.record(performance.now() - 70, null, false)
    // -1: a call that is counted, not timed.
    meter.record(-1, null, false)
    const op = analytics.stats().operations['test.timed']
    expect(op.calls).toBe(101)
    expect(op.timed).toBe(100)
    expect(op.p50Ms).toBeGreaterThan(0.01)
    expect(op.p50Ms).toBeLessThanOrEqual(0.025)
    expect(op.p99Ms).toBeGreaterThan(50)
    expect(op.p99Ms).toBeLessThanOrEqual(op.maxMs)
    expect(op.maxMs).toBeGreaterThanOrEqual(70)
    expect(op.maxMs).toBeLessThan(200)
    // The memory of a meter does not grow with its calls.
    expect(meter.buckets.length).toBe(BUCKET_BOUNDS_MS.length + 1)
  })
})

describe('breaker state', () => {
  test('stats() and prometheus() show an open circuit when the backend is down', async () => {
    const port = await require('../helpers').freePort()
    const { code, stdout } = await runNode(
      `const { analytics, cache, configure } = require(${JSON.stringify(require('../helpers').ROOT)})
      configure({ logger: null, breakerThreshold: 2, breakerCooldownMs: 60000, timeoutMs: 300 })
      ;(async () => {
        for (let i = 0; i < 3; i++) await cache.get('k')
        const s = analytics.stats()
        const line = analytics.prometheus().split('\\n').filter((l) => l.startsWith('digis_redis_circuit_state{state="open"}'))
        console.log(JSON.stringify({ backend: s.backend, circuit: s.circuit, cache: s.namespaces.cache, line }))
      })()`,
      { env: { REDIS_URL: `redis://127.0.0.1:${port}` } },
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({
      backend: 'redis',
      circuit: 'open',
      cache: { hits: 0, misses: 0, hitRatio: null, sets: 0, deletes: 0, errors: 3 },
      line: ['digis_redis_circuit_state{state="open"} 1'],
    })
  })
})

/** Parses Prometheus text exposition: families with their HELP, TYPE and samples. */
function parseExposition(text) {
  expect(text.endsWith('\n')).toBe(true)
  const families = new Map()
  let current = null
  for (const line of text.slice(0, -1).split('\n')) {
    let m
    if ((m = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line))) {
      expect(families.has(m[1])).toBe(false)
      current = { help: m[2], type: null, samples: [] }
      families.set(m[1], current)
    } else if ((m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      expect(families.get(m[1])).toBe(current)
      current.type = m[2]
      current.name = m[1]
    } else {
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/.exec(line)
      if (!m) throw new Error(`not an exposition line: ${line}`)
      expect(current.type).not.toBeNull()
      expect(m[1].startsWith(current.name)).toBe(true)
      const labels = {}
      for (const [, name, value] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[name] = value.replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
      }
      const value = m[3] === '+Inf' ? Infinity : m[3] === 'NaN' ? NaN : Number(m[3])
      expect(Number.isNaN(value) && m[3] !== 'NaN').toBe(false)
      current.samples.push({ name: m[1], labels, value })
    }
  }
  return families
}

describe('analytics.prometheus', () => {
  test('text exposition that parses, with the same numbers as stats()', async () => {
    await knownSequence()
    const text = analytics.prometheus()
    const s = analytics.stats()
    const families = parseExposition(text)
    for (const [name, family] of families) {
      expect(family.help.length).toBeGreaterThan(0)
      if (family.type === 'counter') expect(name.endsWith('_total')).toBe(true)
    }
    const value = (family, labels) => families.get(family).samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v))?.value
    expect(value('digis_redis_info', { backend: EXPECTED_BACKEND })).toBe(1)
    expect(value('digis_redis_circuit_state', { state: 'closed' })).toBe(1)
    expect(value('digis_redis_circuit_state', { state: 'open' })).toBe(0)
    for (const [ns, row] of Object.entries(s.namespaces)) {
      expect(value('digis_redis_cache_hits_total', { namespace: ns })).toBe(row.hits)
      expect(value('digis_redis_cache_misses_total', { namespace: ns })).toBe(row.misses)
      expect(value('digis_redis_cache_sets_total', { namespace: ns })).toBe(row.sets)
      expect(value('digis_redis_cache_deletes_total', { namespace: ns })).toBe(row.deletes)
      expect(value('digis_redis_errors_total', { namespace: ns })).toBe(row.errors)
      const ratio = value('digis_redis_cache_hit_ratio', { namespace: ns })
      if (row.hitRatio === null) expect(ratio).toBeNaN()
      else expect(ratio).toBeCloseTo(row.hitRatio, 12)
    }
    expect(value('digis_redis_rate_limit_decisions_total', { decision: 'allowed' })).toBe(2)
    expect(value('digis_redis_rate_limit_decisions_total', { decision: 'denied' })).toBe(1)

    const histogram = families.get('digis_redis_operation_duration_seconds')
    expect(histogram.type).toBe('histogram')
    for (const [operation, op] of Object.entries(s.operations)) {
      const buckets = histogram.samples.filter((x) => x.name.endsWith('_bucket') && x.labels.operation === operation)
      const bounds = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le))
      expect(bounds).toEqual([...bounds].sort((a, b) => a - b))
      expect(bounds.at(-1)).toBe(Infinity)
      const counts = buckets.map((b) => b.value)
      expect(counts).toEqual([...counts].sort((a, b) => a - b))
      expect(counts.at(-1)).toBe(op.timed)
      expect(histogram.samples.find((x) => x.name.endsWith('_count') && x.labels.operation === operation).value).toBe(op.timed)
      expect(value('digis_redis_operation_calls_total', { operation })).toBe(op.calls)
      expect(histogram.samples.find((x) => x.name.endsWith('_sum') && x.labels.operation === operation).value).toBeGreaterThan(0)
      expect(value('digis_redis_operation_duration_quantile_seconds', { operation, quantile: '0.5' }) * 1000).toBeCloseTo(op.p50Ms, 2)
    }
  })

  test('label values are escaped (help text: crates/core/src/metrics.rs)', () => {
    meterFor('a"b\\c\nd').record(-1, null, false)
    const text = analytics.prometheus()
    expect(text).toContain('\ndigis_redis_operation_calls_total{operation="a\\"b\\\\c\\nd"} 1\n')
    const sample = parseExposition(text).get('digis_redis_operation_calls_total').samples.find((x) => x.labels.operation.startsWith('a"'))
    expect(sample.labels.operation).toBe('a"b\\c\nd')
  })
})

describe('cross-instance totals', () => {
  test('flush() adds only what is new; a reset does not lose unflushed counts', async () => {
    const key = `${P}:totals`
    // Everything this file counted so far goes elsewhere first.
    analytics.startFlushing({ every: 60000, key: `${P}:earlier` })
    await analytics.flush()
    const handle = analytics.startFlushing({ every: 60000, key })
    try {
      await cache.get(`${P}:none`)
      await cache.set(`${P}:a`, 1)
      await expect(analytics.flush()).resolves.toBe(true)
      await expect(analytics.flush()).resolves.toBe(true) // nothing new: no double counting
      let totals = await analytics.totals(key)
      expect(totals.namespaces.cache).toEqual({ hits: 0, misses: 1, hitRatio: 0, sets: 1, deletes: 0, errors: 0 })
      await cache.get(`${P}:a`)
      await rateLimiter.check(`${P}:totals-rl`, 5, 60)
      analytics.reset()
      await cache.get(`${P}:a`)
      await analytics.flush()
      totals = await analytics.totals(key)
      expect(totals.namespaces.cache).toEqual({ hits: 2, misses: 1, hitRatio: 2 / 3, sets: 1, deletes: 0, errors: 0 })
      expect(totals.rateLimit).toEqual({ allowed: 1, denied: 0 })
      expect(await redis.hget(key, 'cache:hits')).toBe(2)
    } finally {
      handle.stop()
      await rateLimiter.reset(`${P}:totals-rl`)
    }
  })

  test('the timer flushes on its own, and never keeps the process alive', async () => {
    const key = `${P}:timer-totals`
    analytics.startFlushing({ every: 60000, key: `${P}:earlier` })
    await analytics.flush()
    const handle = analytics.startFlushing({ every: 50, key })
    try {
      await cache.get(`${P}:none`)
      let totals
      for (let i = 0; i < 40; i++) {
        await sleep(25)
        totals = await analytics.totals(key)
        if (totals.namespaces.cache.misses === 1) break
      }
      expect(totals.namespaces.cache.misses).toBe(1)
    } finally {
      handle.stop()
    }
    // A process that starts flushing and does nothing else exits at once.
    const { code, ms } = await runNode(
      `const { analytics } = require(${JSON.stringify(require('../helpers').ROOT)}); analytics.startFlushing({ every: 60000 })`,
    )
    expect(code).toBe(0)
    expect(ms).toBeLessThan(5000)
  })

  test('bad options throw; totals answer null when unreadable', async () => {
    expect(() => analytics.startFlushing({ every: 0 })).toThrow(TypeError)
    expect(() => analytics.startFlushing({ every: 1.5 })).toThrow(TypeError)
    expect(() => analytics.startFlushing({ key: '' })).toThrow(TypeError)
    await redis.set(`${P}:not-a-hash`, 'x')
    const logs = captureLogs(mod)
    try {
      await expect(analytics.totals(`${P}:not-a-hash`)).resolves.toBeNull()
      expect(logs.errors).toHaveLength(1)
    } finally {
      logs.restore()
    }
  })
})
