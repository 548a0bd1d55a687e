'use strict'

// `digis-redis doctor`: the design document's `node testRedis.js`, grown up. Shows the backend the
// environment selects (secrets masked), checks the connection, measures latency over a short
// burst, runs one round trip of every feature under a throwaway id and removes what it wrote,
// and explains failures in plain words. Exit code 0 only when every check passes.

const crypto = require('node:crypto')
const path = require('node:path')
const { isDeepStrictEqual } = require('node:util')
const binding = require('../binding')
const { EMBEDDED_WARNING, UNCONFIGURED_ERROR } = require('./environment')

const PACKAGE = path.resolve(__dirname, '..')
const BURST = 50
/** How long the near-cache check waits for tracking to start and for a change to be announced. */
const NEAR_WAIT_MS = 5000

/** What `env` selects, for display (secrets masked), and notes on what looks wrong (the core's doctor.rs). */
const describeEnvironment = (env) => binding.doctorDescribeEnvironment(env)
/** `text` with every secret `env` holds (tokens, URL credentials) masked, by the core's rule. */
const redact = (text, env) => binding.doctorRedact(text, env)

const round = (ms) => Math.round(ms * 100) / 100

/**
 * One round trip of every feature through the public API, under ids that start with `run`:
 * `[name, what it covers, steps, cleanup]`. A step is `[call, expected answer, what went wrong
 * otherwise (text, or a function of the answer)]`, or just `[call]` when its answer is not
 * checked; cleanup removes what the check wrote, whatever happened. Steps share `s`.
 */
function featureChecks(r, run) {
  const id = (what) => `${run}-${what}`
  const s = { loads: 0 }
  const loader = async () => {
    s.loads += 1
    return { n: 1 }
  }
  const json = { user: { id: 7, tags: ['a', 'b'], verified: true, balance: 12.5 }, zero: 0, empty: '', none: null }
  const limit = async () => (await r.rateLimiter.check(id('rate'), 2, 60)).allowed
  return [
    ['cache', 'set, get, exists, expire, mget, del, incr, delPattern', [
      [() => r.cache.set(id('cache'), 'hello', 60), true, 'cache.set did not answer true'],
      [() => r.cache.get(id('cache')), 'hello', 'cache.get did not read back the value'],
      [() => r.cache.exists(id('cache')), true, 'cache.exists did not see the key'],
      [() => r.cache.expire(id('cache'), 30), true, 'cache.expire failed'],
      [() => r.cache.mget([id('cache'), id('missing')]), ['hello', null], 'cache.mget answered wrongly'],
      [async () => [await r.cache.del(id('cache')), await r.cache.get(id('cache'))], [true, null], 'cache.del left the key'],
      [async () => [await r.cache.incr(id('counter')), await r.cache.incr(id('counter'))], [1, 2], 'cache.incr did not count 1, 2'],
      [() => r.cache.delPattern(`${run}-counter*`), 1, 'cache.delPattern did not delete the counter'],
    ], () => [r.cache.del(id('cache')), r.cache.del(id('counter'))]],
    ['JSON values', 'nested object intact', [
      [() => r.cache.set(id('json'), json, 60)],
      [() => r.cache.get(id('json')), json, 'a nested object did not round-trip intact'],
    ], () => [r.cache.del(id('json'))]],
    ['sessions', 'store, get, refresh, destroy', [
      [() => r.sessions.store(id('session'), { userId: 1, role: 'fan' }, 60)],
      [() => r.sessions.get(id('session')), { userId: 1, role: 'fan' }, 'sessions.get did not read back the session'],
      [() => r.sessions.refresh(id('session'), 120)],
      [() => r.sessions.destroy(id('session'))],
      [() => r.sessions.get(id('session')), null, 'sessions.destroy left the session'],
    ], () => [r.sessions.destroy(id('session'))]],
    ['users and token balances', 'users.cache/get/invalidate, tokens.cacheBalance/getBalance/invalidate', [
      [() => r.users.cache(id('user'), { name: 'Ada' }, 60)],
      [() => r.users.get(id('user')), { name: 'Ada' }, 'users.get did not read back the profile'],
      [() => r.users.invalidate(id('user'))],
      [() => r.tokens.cacheBalance(id('user'), 12345678901234567890n, 60)],
      [() => r.tokens.getBalance(id('user')), 12345678901234567890n, 'a large balance did not round-trip exactly'],
      [() => r.tokens.invalidate(id('user'))],
    ], () => [r.users.invalidate(id('user')), r.tokens.invalidate(id('user'))]],
    ['creators', 'cache, get, setStatus, getStatus', [
      [() => r.creators.cache(id('creator'), { name: 'Creator' }, 60)],
      [() => r.creators.get(id('creator')), { name: 'Creator' }, 'creators.get did not read back the creator'],
      [() => r.creators.setStatus(id('creator'), 'online', 60)],
      [() => r.creators.getStatus(id('creator')), 'online', 'creators.getStatus did not read back the status'],
      [() => r.creators.setStatus(id('creator'), 'offline')],
      [() => r.creators.getStatus(id('creator')), 'offline', 'offline did not clear the status'],
      // Not creators.invalidate: it also drops the shared creator:list.
    ], () => [r.cache.del(`${r.CACHE_PREFIXES.CREATOR}${id('creator')}`), r.creators.setStatus(id('creator'), 'offline')]],
    ['streams', 'setActive, getActive, viewerJoined, viewerCount, viewerLeft, removeActive', [
      [() => r.streams.setActive(id('stream'), { title: 'doctor' }, 60)],
      [() => r.streams.getActive(id('stream')), { title: 'doctor' }, 'streams.getActive did not read back the stream'],
      [() => r.streams.viewerJoined(id('stream'), 'viewer-1')],
      [() => r.streams.viewerCount(id('stream')), 1, 'streams.viewerCount did not count the viewer'],
      [() => r.streams.viewerLeft(id('stream'), 'viewer-1')],
      [() => r.streams.removeActive(id('stream'))],
      [() => r.streams.getActive(id('stream')), null, 'streams.removeActive left the stream'],
    ], () => [r.streams.removeActive(id('stream'))]],
    ['rate limiting', 'check (allowed, allowed, blocked), reset', [
      [async () => [await limit(), await limit(), await limit()], [true, true, false], (seen) => `limit 2 answered ${seen.join(', ')}`],
      [() => r.rateLimiter.reset(id('rate'))],
      [limit, true, 'rateLimiter.reset did not lift the block'],
    ], () => [r.rateLimiter.reset(id('rate'))]],
    ['one-time codes', 'generate, wrong code refused, right code accepted once', [
      [async () => (s.code = await r.otp.generate(id('otp'), { ttl: 60 }))],
      [() => r.otp.verify(id('otp'), s.code === '000000' ? '111111' : '000000'), false, 'a wrong code verified'],
      [() => r.otp.verify(id('otp'), s.code), true, 'the right code did not verify'],
      [() => r.otp.get(id('otp')), null, 'the code was not consumed'],
    ], () => [r.cache.del(`${r.CACHE_PREFIXES.OTP}${id('otp')}`)]],
    ['cache-aside, locks and idempotency', 'cache.wrap (one load for two callers), locks.acquire/release, idempotency.claim', [
      [async () => [await Promise.all([r.cache.wrap(id('wrap'), loader, 60), r.cache.wrap(id('wrap'), loader, 60)]), s.loads], [[{ n: 1 }, { n: 1 }], 1], 'cache.wrap did not load once for two callers'],
      [() => r.cache.get(id('wrap')), { n: 1 }, 'cache.wrap did not cache the loaded value'],
      [async () => (s.lock = await r.locks.acquire(id('lock'), { ttl: 5000 })) !== null, true, 'locks.acquire did not take a free lock'],
      [() => r.locks.acquire(id('lock')), null, 'locks.acquire took a lock that was held'],
      [() => s.lock.release()],
      [() => r.idempotency.claim(id('claim'), 60), true, 'idempotency.claim did not answer true to the first claim'],
      [() => r.idempotency.claim(id('claim'), 60), false, 'idempotency.claim answered true twice'],
      // The fencing counter outlives the lock by 30 days; a throwaway lock's is removed.
    ], () => [r.cache.del(id('wrap')), r.idempotency.release(id('claim')), r.redis.del(binding.lockFenceKey(id('lock')))]],
    ['express adapters', 'SessionStore set/get/destroy, RateLimitStore increment/resetKey', [
      [() => (s.sessions = new r.SessionStore({ prefix: `${run}-sess:` })).set('s1', { cookie: {}, user: 'ada' })],
      [() => s.sessions.get('s1'), { cookie: {}, user: 'ada' }, 'SessionStore.get did not read back the session'],
      [() => s.sessions.destroy('s1')],
      [() => (s.limits = new r.RateLimitStore({ prefix: `${run}-rl:` })).init({ windowMs: 60_000 })],
      [() => s.limits.increment('client')],
      [async () => (await s.limits.increment('client')).totalHits, 2, 'RateLimitStore did not count 2 hits'],
      [() => s.limits.resetKey('client')],
    ], () => [s.sessions?.clear(), s.limits?.resetKey('client')]],
    ['raw client and expiry', 'set with px, get, expiry honoured', [
      [() => r.redis.set(id('raw'), { a: 1 }, { px: 150 }), 'OK', 'redis.set did not answer OK'],
      [() => r.redis.get(id('raw')), { a: 1 }, 'redis.get did not read back the value'],
      [() => new Promise((resolve) => setTimeout(resolve, 250))],
      [() => r.redis.get(id('raw')), null, 'a key with a 150 ms expiry was still there after 250 ms'],
    ], () => [r.redis.del(id('raw'))]],
  ]
}

/**
 * Whether the server announces key changes to this process (CLIENT TRACKING), which the near
 * cache needs to serve anything on Redis and Redis Cluster; turned off again afterwards.
 */
async function nearCacheCheck(r, kind, key) {
  if (kind === 'embedded') return 'not needed: reads are in process already'
  if (kind === 'upstash') return 'REST has no push channel: configure({ nearCache: { maxStalenessMs } }) serves an entry for at most that long'
  const near = () => r.analytics.stats().nearCache
  const waitFor = async (what, done) => {
    const started = performance.now()
    while (!done()) {
      if (performance.now() - started > NEAR_WAIT_MS) throw new Error(`${what} within ${NEAR_WAIT_MS} ms${near().lastError ? `: ${near().lastError}` : ''}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return round(performance.now() - started)
  }
  r.configure({ nearCache: true })
  try {
    const liveMs = await waitFor('CLIENT TRACKING did not start', () => near().tracking === 'live')
    // The write's own announcement reaches the tracking connection after the write's reply;
    // read only once it has arrived, or it could drop the entry the first read just stored.
    const beforeWrite = near().announced
    await r.cache.set(key, 'near', 60)
    await waitFor('the server did not announce a write', () => near().announced > beforeWrite)
    await r.cache.get(key)
    const { hits, announced } = near()
    if ((await r.cache.get(key)) !== 'near' || near().hits !== hits + 1) throw new Error('a second read was not answered from memory')
    await r.cache.set(key, 'changed', 60)
    const heardMs = await waitFor('the server did not announce a change', () => near().announced > announced)
    return `tracking live in ${liveMs} ms; a change was announced in ${heardMs} ms`
  } finally {
    r.configure({ nearCache: false })
    await r.cache.del(key)
  }
}

/** Runs a check's steps in order, throwing at the first answer that is not the expected one; resolves with what it covered. */
async function runSteps(covered, steps, cleanup) {
  try {
    for (const [call, ...expected] of steps) {
      const answer = await call()
      if (expected.length > 0 && !isDeepStrictEqual(answer, expected[0])) {
        throw new Error(typeof expected[1] === 'function' ? expected[1](answer) : expected[1])
      }
    }
    return covered
  } finally {
    await Promise.allSettled(cleanup())
  }
}

/** Loads the package for `env` (it reads the environment once, at require time). */
function loadPackage(env) {
  Object.assign(process.env, env)
  const { warn, error } = console
  // The embedded-store warning and the production error are shown as notes instead.
  console.warn = (...args) => void (args[0] !== EMBEDDED_WARNING && warn(...args))
  console.error = (...args) => void (args[0] !== UNCONFIGURED_ERROR && error(...args))
  try {
    return require(PACKAGE)
  } finally {
    Object.assign(console, { warn, error })
  }
}

/** Runs every check; resolves with the report (`ok` true only when every check passed). */
async function diagnose(env = process.env) {
  // As the package does at require time: .env from the working directory, never overriding.
  if (env === process.env) require('dotenv').config({ quiet: true })
  const { backend, options, notes } = describeEnvironment(env)
  const r = loadPackage(env)
  // Failures reach the checks as typed errors, and nothing is logged behind the report's back.
  r.configure({ strict: true, logger: null })
  const checks = []
  const record = async (name, work) => {
    const started = performance.now()
    try {
      const detail = await work()
      checks.push({ name, ok: true, ms: round(performance.now() - started), detail })
      return true
    } catch (err) {
      const message = err && err.message ? err.message : String(err)
      const error = err.code ? `${err.code}: ${message}` : message
      checks.push({ name, ok: false, ms: round(performance.now() - started), error, hint: binding.doctorFailureHint(String(message), backend.kind, backend.secure) })
      return false
    }
  }

  let latency = null
  const connected = await record('connection', async () => {
    const health = await r.health()
    if (!health.ok) throw new Error(health.lastError ?? 'PING did not answer PONG')
    return `PING answered in ${round(health.latencyMs)} ms (transport: ${health.transport})`
  })
  const run = `doctor-${crypto.randomBytes(6).toString('hex')}`
  const features = featureChecks(r, run)
  if (connected) {
    await record('latency', async () => {
      const samples = []
      for (let i = 0; i < BURST; i++) {
        const started = performance.now()
        await r.redis.ping()
        samples.push(performance.now() - started)
      }
      // p50 and p99 (nearest rank, ms to 0.01) by the core's doctor.rs.
      latency = binding.doctorLatency(samples)
      return `${BURST} PINGs one after another: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms`
    })
    for (const [name, covered, steps, cleanup] of features) await record(name, () => runSteps(covered, steps, cleanup))
    await record('near cache', () => nearCacheCheck(r, backend.kind, `${run}-near`))
  } else {
    for (const name of ['latency', ...features.map(([name]) => name), 'near cache']) {
      checks.push({ name, ok: false, skipped: true, detail: 'skipped: no connection' })
    }
  }
  return { ok: checks.every((c) => c.ok), backend, options, notes, latency, checks }
}

/** The command: prints the report (JSON with `json`), resolves with the exit code. */
async function doctor({ json = false, env = process.env, write = (text) => process.stdout.write(text) } = {}) {
  const report = await diagnose(env)
  const text = json ? JSON.stringify(report, null, 2) : binding.doctorReportText(JSON.stringify(report))
  write(`${redact(text, env)}\n`)
  return report.ok ? 0 : 1
}

module.exports = { doctor, diagnose, describeEnvironment, redact }
