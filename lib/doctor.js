'use strict'

// `digis-redis doctor`: the design document's `node testRedis.js`, grown up. Shows the backend the
// environment selects (secrets masked), checks the connection, measures latency over a short
// burst, runs one round trip of every feature under a throwaway id and removes what it wrote,
// and explains failures in plain words. Exit code 0 only when every check passes.

const crypto = require('node:crypto')
const path = require('node:path')
const { isDeepStrictEqual } = require('node:util')
const binding = require('../binding')
const { selectBackend, BACKEND_OPTIONS, EMBEDDED_WARNING, UNCONFIGURED_ERROR } = require('./environment')

const PACKAGE = path.resolve(__dirname, '..')
const BURST = 50

/** `url` with its credentials masked, by the core's rule; unparseable text is not echoed. */
function maskUrl(url) {
  const masked = binding.redactUrl(url)
  return masked === '<unparseable url>' ? '(not a valid URL)' : masked.replace(/\/$/, '')
}

/** Replaces every secret the environment holds (tokens, URL credentials) by ***, by the core's rule. */
function redact(text, env) {
  const tokens = [env.UPSTASH_REDIS_REST_TOKEN, env.KV_REST_API_TOKEN].filter((t) => typeof t === 'string')
  const clusterSeeds = (env.REDIS_CLUSTER_URLS ?? '').split(',')
  const urls = [env.REDIS_URL, env.UPSTASH_REDIS_REST_URL, env.KV_REST_API_URL, ...clusterSeeds].filter((u) => typeof u === 'string' && u.trim())
  return binding.redactSecrets(text, tokens, urls)
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1'])

/** Whether `url` speaks `protocol` (one without TLS) to another machine; an unparseable URL is left to the connection check. */
function plainToRemote(url, protocol) {
  try {
    const parsed = new URL(url)
    return parsed.protocol === protocol && !LOCAL_HOSTS.has(parsed.hostname)
  } catch {
    return false
  }
}

/** What the environment selects, for display, and notes on what looks wrong. */
function describeEnvironment(env) {
  const selection = selectBackend(env)
  const notes = []
  const backend = { kind: selection.kind }
  if (selection.kind === 'upstash') {
    const viaKv = !(env.UPSTASH_REDIS_REST_URL && env.UPSTASH_REDIS_REST_TOKEN)
    backend.variables = viaKv ? 'KV_REST_API_URL + KV_REST_API_TOKEN' : 'UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN'
    backend.url = maskUrl(selection.url)
    backend.token = `set, ${selection.token.length} characters (hidden)`
    if (env.REDIS_URL) notes.push('REDIS_URL is also set and ignored: Upstash REST wins when its URL and token are both set.')
    if (plainToRemote(selection.url, 'http:')) {
      notes.push('The REST URL is plain http:// to a remote host: the token crosses the network unencrypted. Use https://.')
    }
  } else if (selection.kind === 'cluster') {
    backend.variables = 'REDIS_CLUSTER_URLS'
    backend.url = selection.urls.map(maskUrl).join(', ')
    if (env.REDIS_URL) notes.push('REDIS_URL is also set and ignored: REDIS_CLUSTER_URLS wins over it.')
    if (selection.urls.some((url) => plainToRemote(url, 'redis:'))) {
      notes.push('A cluster seed is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.')
    }
  } else if (selection.kind === 'redis') {
    backend.variables = 'REDIS_URL'
    backend.url = maskUrl(selection.url)
    const halfUpstash = (env.UPSTASH_REDIS_REST_URL || env.KV_REST_API_URL) ? 'token' : (env.UPSTASH_REDIS_REST_TOKEN || env.KV_REST_API_TOKEN) ? 'URL' : null
    if (halfUpstash) notes.push(`An Upstash REST ${halfUpstash === 'token' ? 'URL' : 'token'} is set without its ${halfUpstash}: Upstash is not used.`)
    if (plainToRemote(selection.url, 'redis:')) notes.push('REDIS_URL is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.')
  } else if (selection.kind === 'unconfigured') {
    backend.variables = 'none set, NODE_ENV=production'
    notes.push(UNCONFIGURED_ERROR.replace('[digis-redis] ', ''))
  } else {
    backend.variables = env.DIGIS_REDIS_EMBEDDED === '1' ? 'none set, DIGIS_REDIS_EMBEDDED=1' : 'none set'
    notes.push(
      'No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL: the embedded in-process store. ' +
        'Each process has its own data, lost on exit; fine for tests and local work, not for production.',
    )
  }
  const options = Object.values(BACKEND_OPTIONS)
    .map(([, variable]) => variable)
    .filter((variable) => env[variable] !== undefined && env[variable] !== '')
    .map((variable) => `${variable}=${env[variable]}`)
  backend.secure = /^(rediss|https):/i.test(selection.url ?? selection.urls?.[0] ?? '')
  return { backend, options, notes }
}

/** A failure in plain words: what it most likely means and what to do (the core's reading of its errors). */
function explain(message, kind, secure = false) {
  return binding.doctorFailureHint(String(message), kind, secure)
}

/** Nearest-rank percentile of sorted numbers. */
function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

const round = (ms) => Math.round(ms * 100) / 100

/** Throws unless `ok`, with `what` as the failure's message. */
function expectTrue(ok, what) {
  if (!ok) throw new Error(what)
}

/**
 * One round trip of every feature under ids that start with `run`: `[name, work]` pairs, where
 * work resolves with what it covered and then removes what it wrote, whatever happened.
 */
function featureChecks(r, run) {
  const id = (what) => `${run}-${what}`
  const same = isDeepStrictEqual
  // The express stores of the adapters check, once it has made them.
  let adapters = null
  const check = (name, work, cleanup) => [
    name,
    async () => {
      try {
        return await work()
      } finally {
        await Promise.allSettled(cleanup())
      }
    },
  ]
  return [
    check(
      'cache',
      async () => {
        const key = id('cache')
        expectTrue((await r.cache.set(key, 'hello', 60)) === true, 'cache.set did not answer true')
        expectTrue((await r.cache.get(key)) === 'hello', 'cache.get did not read back the value')
        expectTrue((await r.cache.exists(key)) === true, 'cache.exists did not see the key')
        expectTrue((await r.cache.expire(key, 30)) === true, 'cache.expire failed')
        expectTrue(same(await r.cache.mget([key, id('missing')]), ['hello', null]), 'cache.mget answered wrongly')
        expectTrue((await r.cache.del(key)) === true && (await r.cache.get(key)) === null, 'cache.del left the key')
        expectTrue((await r.cache.incr(id('counter'))) === 1 && (await r.cache.incr(id('counter'))) === 2, 'cache.incr did not count 1, 2')
        expectTrue((await r.cache.delPattern(`${run}-counter*`)) === 1, 'cache.delPattern did not delete the counter')
        return 'set, get, exists, expire, mget, del, incr, delPattern'
      },
      () => [r.cache.del(id('cache')), r.cache.del(id('counter'))],
    ),
    check(
      'JSON values',
      async () => {
        const value = { user: { id: 7, tags: ['a', 'b'], verified: true, balance: 12.5 }, zero: 0, empty: '', none: null }
        await r.cache.set(id('json'), value, 60)
        expectTrue(same(await r.cache.get(id('json')), value), 'a nested object did not round-trip intact')
        return 'nested object intact'
      },
      () => [r.cache.del(id('json'))],
    ),
    check(
      'sessions',
      async () => {
        const data = { userId: 1, role: 'fan' }
        await r.sessions.store(id('session'), data, 60)
        expectTrue(same(await r.sessions.get(id('session')), data), 'sessions.get did not read back the session')
        await r.sessions.refresh(id('session'), 120)
        await r.sessions.destroy(id('session'))
        expectTrue((await r.sessions.get(id('session'))) === null, 'sessions.destroy left the session')
        return 'store, get, refresh, destroy'
      },
      () => [r.sessions.destroy(id('session'))],
    ),
    check(
      'users and token balances',
      async () => {
        const uid = id('user')
        await r.users.cache(uid, { name: 'Ada' }, 60)
        expectTrue(same(await r.users.get(uid), { name: 'Ada' }), 'users.get did not read back the profile')
        await r.users.invalidate(uid)
        await r.tokens.cacheBalance(uid, 12345678901234567890n, 60)
        expectTrue((await r.tokens.getBalance(uid)) === 12345678901234567890n, 'a large balance did not round-trip exactly')
        await r.tokens.invalidate(uid)
        return 'users.cache/get/invalidate, tokens.cacheBalance/getBalance/invalidate'
      },
      () => [r.users.invalidate(id('user')), r.tokens.invalidate(id('user'))],
    ),
    check(
      'creators',
      async () => {
        const cid = id('creator')
        await r.creators.cache(cid, { name: 'Creator' }, 60)
        expectTrue(same(await r.creators.get(cid), { name: 'Creator' }), 'creators.get did not read back the creator')
        await r.creators.setStatus(cid, 'online', 60)
        expectTrue((await r.creators.getStatus(cid)) === 'online', 'creators.getStatus did not read back the status')
        await r.creators.setStatus(cid, 'offline')
        expectTrue((await r.creators.getStatus(cid)) === 'offline', 'offline did not clear the status')
        return 'cache, get, setStatus, getStatus'
      },
      // Not creators.invalidate: it also drops the shared creator:list.
      () => [r.cache.del(`${r.CACHE_PREFIXES.CREATOR}${id('creator')}`), r.creators.setStatus(id('creator'), 'offline')],
    ),
    check(
      'streams',
      async () => {
        const sid = id('stream')
        await r.streams.setActive(sid, { title: 'doctor' }, 60)
        expectTrue(same(await r.streams.getActive(sid), { title: 'doctor' }), 'streams.getActive did not read back the stream')
        await r.streams.viewerJoined(sid, 'viewer-1')
        expectTrue((await r.streams.viewerCount(sid)) === 1, 'streams.viewerCount did not count the viewer')
        await r.streams.viewerLeft(sid, 'viewer-1')
        await r.streams.removeActive(sid)
        expectTrue((await r.streams.getActive(sid)) === null, 'streams.removeActive left the stream')
        return 'setActive, getActive, viewerJoined, viewerCount, viewerLeft, removeActive'
      },
      () => [r.streams.removeActive(id('stream'))],
    ),
    check(
      'rate limiting',
      async () => {
        const seen = []
        for (let i = 0; i < 3; i++) seen.push((await r.rateLimiter.check(id('rate'), 2, 60)).allowed)
        expectTrue(same(seen, [true, true, false]), `limit 2 answered ${seen.join(', ')}`)
        await r.rateLimiter.reset(id('rate'))
        expectTrue((await r.rateLimiter.check(id('rate'), 2, 60)).allowed, 'rateLimiter.reset did not lift the block')
        return 'check (allowed, allowed, blocked), reset'
      },
      () => [r.rateLimiter.reset(id('rate'))],
    ),
    check(
      'one-time codes',
      async () => {
        const code = await r.otp.generate(id('otp'), { ttl: 60 })
        const wrong = code === '000000' ? '111111' : '000000'
        expectTrue((await r.otp.verify(id('otp'), wrong)) === false, 'a wrong code verified')
        expectTrue((await r.otp.verify(id('otp'), code)) === true, 'the right code did not verify')
        expectTrue((await r.otp.get(id('otp'))) === null, 'the code was not consumed')
        return 'generate, wrong code refused, right code accepted once'
      },
      () => [r.cache.del(`${r.CACHE_PREFIXES.OTP}${id('otp')}`)],
    ),
    check(
      'cache-aside, locks and idempotency',
      async () => {
        let loads = 0
        const loader = async () => {
          loads += 1
          return { n: 1 }
        }
        const values = await Promise.all([r.cache.wrap(id('wrap'), loader, 60), r.cache.wrap(id('wrap'), loader, 60)])
        expectTrue(loads === 1 && same(values, [{ n: 1 }, { n: 1 }]), 'cache.wrap did not load once for two callers')
        expectTrue(same(await r.cache.get(id('wrap')), { n: 1 }), 'cache.wrap did not cache the loaded value')
        const lock = await r.locks.acquire(id('lock'), { ttl: 5000 })
        expectTrue(lock !== null, 'locks.acquire did not take a free lock')
        expectTrue((await r.locks.acquire(id('lock'))) === null, 'locks.acquire took a lock that was held')
        await lock.release()
        expectTrue((await r.idempotency.claim(id('claim'), 60)) === true, 'idempotency.claim did not answer true to the first claim')
        expectTrue((await r.idempotency.claim(id('claim'), 60)) === false, 'idempotency.claim answered true twice')
        return 'cache.wrap (one load for two callers), locks.acquire/release, idempotency.claim'
      },
      // The fencing counter outlives the lock by 30 days; a throwaway lock's is removed.
      () => [r.cache.del(id('wrap')), r.idempotency.release(id('claim')), r.redis.del(binding.lockFenceKey(id('lock')))],
    ),
    check(
      'express adapters',
      async () => {
        adapters = { sessions: new r.SessionStore({ prefix: `${run}-sess:` }), limits: new r.RateLimitStore({ prefix: `${run}-rl:` }) }
        await adapters.sessions.set('s1', { cookie: {}, user: 'ada' })
        expectTrue(same(await adapters.sessions.get('s1'), { cookie: {}, user: 'ada' }), 'SessionStore.get did not read back the session')
        await adapters.sessions.destroy('s1')
        adapters.limits.init({ windowMs: 60_000 })
        await adapters.limits.increment('client')
        expectTrue((await adapters.limits.increment('client')).totalHits === 2, 'RateLimitStore did not count 2 hits')
        await adapters.limits.resetKey('client')
        return 'SessionStore set/get/destroy, RateLimitStore increment/resetKey'
      },
      () => (adapters ? [adapters.sessions.clear(), adapters.limits.resetKey('client')] : []),
    ),
    check(
      'raw client and expiry',
      async () => {
        expectTrue((await r.redis.set(id('raw'), { a: 1 }, { px: 150 })) === 'OK', 'redis.set did not answer OK')
        expectTrue(same(await r.redis.get(id('raw')), { a: 1 }), 'redis.get did not read back the value')
        await new Promise((resolve) => setTimeout(resolve, 250))
        expectTrue((await r.redis.get(id('raw'))) === null, 'a key with a 150 ms expiry was still there after 250 ms')
        return 'set with px, get, expiry honoured'
      },
      () => [r.redis.del(id('raw'))],
    ),
  ]
}

/** Loads the package for `env` (it reads the environment once, at require time). */
function loadPackage(env) {
  Object.assign(process.env, env)
  const { warn, error } = console
  // The embedded-store warning and the production error are shown as notes instead.
  console.warn = (...args) => {
    if (args[0] !== EMBEDDED_WARNING) warn(...args)
  }
  console.error = (...args) => {
    if (args[0] !== UNCONFIGURED_ERROR) error(...args)
  }
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
      checks.push({ name, ok: false, ms: round(performance.now() - started), error: err.code ? `${err.code}: ${message}` : message, hint: explain(message, backend.kind, backend.secure) })
      return false
    }
  }

  let latency = null
  const connected = await record('connection', async () => {
    const health = await r.health()
    if (!health.ok) throw new Error(health.lastError ?? 'PING did not answer PONG')
    return `PING answered in ${round(health.latencyMs)} ms (transport: ${health.transport})`
  })
  const features = featureChecks(r, `doctor-${crypto.randomBytes(6).toString('hex')}`)
  if (connected) {
    await record('latency', async () => {
      const samples = []
      for (let i = 0; i < BURST; i++) {
        const started = performance.now()
        await r.redis.ping()
        samples.push(performance.now() - started)
      }
      samples.sort((a, b) => a - b)
      latency = { samples: BURST, p50Ms: round(percentile(samples, 50)), p99Ms: round(percentile(samples, 99)) }
      return `${BURST} PINGs one after another: p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms`
    })
    for (const [name, work] of features) await record(name, work)
  } else {
    for (const name of ['latency', ...features.map(([name]) => name)]) {
      checks.push({ name, ok: false, skipped: true, detail: 'skipped: no connection' })
    }
  }
  return { ok: checks.every((c) => c.ok), backend, options, notes, latency, checks }
}

/** The report as text for a terminal. */
function formatReport(report) {
  const lines = ['digis-redis doctor', '', `Backend   ${report.backend.kind} (${report.backend.variables})`]
  if (report.backend.url) lines.push(`URL       ${report.backend.url}`)
  if (report.backend.token) lines.push(`Token     ${report.backend.token}`)
  if (report.options.length) lines.push(`Options   ${report.options.join(' ')}`)
  for (const note of report.notes) lines.push(`Note      ${note}`)
  lines.push('')
  const width = Math.max(...report.checks.map((c) => c.name.length))
  for (const c of report.checks) {
    const mark = c.ok ? 'ok  ' : c.skipped ? 'skip' : 'FAIL'
    lines.push(`${mark}  ${c.name.padEnd(width)}  ${c.ok || c.skipped ? c.detail : c.error}`)
    if (c.hint) lines.push(`${' '.repeat(width + 8)}→ ${c.hint}`)
  }
  const failed = report.checks.filter((c) => !c.ok && !c.skipped).length
  const skipped = report.checks.filter((c) => c.skipped).length
  lines.push(
    '',
    report.ok
      ? `All ${report.checks.length} checks passed.`
      : `${failed} of ${report.checks.length} checks failed${skipped ? `, ${skipped} skipped` : ''}: see the FAIL lines above.`,
  )
  return lines.join('\n')
}

/** The command: prints the report (JSON with `json`), resolves with the exit code. */
async function doctor({ json = false, env = process.env, write = (text) => process.stdout.write(text) } = {}) {
  const report = await diagnose(env)
  const text = json ? JSON.stringify(report, null, 2) : formatReport(report)
  write(`${redact(text, env)}\n`)
  return report.ok ? 0 : 1
}

module.exports = { doctor, diagnose, describeEnvironment, explain, maskUrl, redact, formatReport }
