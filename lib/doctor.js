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
    try {
      const { protocol, hostname } = new URL(selection.url)
      if (protocol === 'http:' && !LOCAL_HOSTS.has(hostname)) {
        notes.push('The REST URL is plain http:// to a remote host: the token crosses the network unencrypted. Use https://.')
      }
    } catch {
      // Reported by the connection check.
    }
  } else if (selection.kind === 'cluster') {
    backend.variables = 'REDIS_CLUSTER_URLS'
    backend.url = selection.urls.map(maskUrl).join(', ')
    if (env.REDIS_URL) notes.push('REDIS_URL is also set and ignored: REDIS_CLUSTER_URLS wins over it.')
    const remotePlain = selection.urls.some((url) => {
      try {
        const { protocol, hostname } = new URL(url)
        return protocol === 'redis:' && !LOCAL_HOSTS.has(hostname)
      } catch {
        return false
      }
    })
    if (remotePlain) notes.push('A cluster seed is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.')
  } else if (selection.kind === 'redis') {
    backend.variables = 'REDIS_URL'
    backend.url = maskUrl(selection.url)
    const halfUpstash = (env.UPSTASH_REDIS_REST_URL || env.KV_REST_API_URL) ? 'token' : (env.UPSTASH_REDIS_REST_TOKEN || env.KV_REST_API_TOKEN) ? 'URL' : null
    if (halfUpstash) notes.push(`An Upstash REST ${halfUpstash === 'token' ? 'URL' : 'token'} is set without its ${halfUpstash}: Upstash is not used.`)
    try {
      const { protocol, hostname } = new URL(selection.url)
      if (protocol === 'redis:' && !LOCAL_HOSTS.has(hostname)) {
        notes.push('REDIS_URL is redis:// to a remote host: no TLS. Most hosted Redis wants rediss://.')
      }
    } catch {
      // Reported by the connection check.
    }
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

/** A failure in plain words: what it most likely means and what to do. */
function explain(message, kind, secure = false) {
  const text = String(message)
  const tls = /tls|ssl|certificate|handshake|InvalidContentType|CorruptMessage|UnknownIssuer/i
  if (/WRONGPASS|invalid or missing auth token|unauthori[sz]ed|\b401\b/i.test(text)) {
    return kind === 'upstash'
      ? 'The server answered 401 Unauthorized: UPSTASH_REDIS_REST_TOKEN is not the token of this database (copy the REST token, not the read-only one, from the console).'
      : `The server refused the credentials: the password (or user) in ${kind === 'cluster' ? 'REDIS_CLUSTER_URLS' : 'REDIS_URL'} is wrong.`
  }
  if (/NOAUTH|Authentication required|AuthenticationFailed|invalid username-password/i.test(text)) {
    return `The server refused the credentials: the password (or user) in ${kind === 'cluster' ? 'REDIS_CLUSTER_URLS' : 'REDIS_URL'} is wrong or missing.`
  }
  if (/Connection refused|ECONNREFUSED/i.test(text)) {
    return 'Nothing listens at that host and port: the server is down, or the URL has the wrong host or port.'
  }
  if (/dns error|failed to lookup|ENOTFOUND|Name or service not known|No address associated/i.test(text)) {
    return 'The host name does not resolve: check the spelling of the host in the URL.'
  }
  if (tls.test(text)) {
    return 'The TLS handshake failed: https:// or rediss:// against a server without TLS (or the reverse), or a certificate the system does not trust.'
  }
  if (/HTTP \d{3} with (a non-JSON|an empty) body|redirect|REST API.*disabled|disabled/i.test(text)) {
    return 'The URL answers HTTP but not with the Upstash REST API: REST may be disabled for this database, or the URL is not its REST URL.'
  }
  if (/timed out|timeout/i.test(text) && secure) {
    return 'No answer to the TLS handshake within the deadline: the server most likely does not speak TLS on that port (try redis:// or http://), or a firewall swallows the packets.'
  }
  if (/timed out|timeout/i.test(text)) {
    return 'No answer within the deadline: a firewall or wrong host that swallows packets, a TLS/plain mismatch (rediss:// or https:// against a plain server), or an overloaded server.'
  }
  if (/circuit open/i.test(text)) return 'Earlier calls kept failing, so calls now fail fast; see the first failure above.'
  if (/unsupported|unknown command/i.test(text)) return 'The server does not support a command this feature needs.'
  return null
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

/** One round trip of every feature, each a named check; ids start with `run`. */
function featureChecks(r, run) {
  const id = (what) => `${run}-${what}`
  return [
    [
      'cache',
      async () => {
        const key = id('cache')
        try {
          expectTrue((await r.cache.set(key, 'hello', 60)) === true, 'cache.set did not answer true')
          expectTrue((await r.cache.get(key)) === 'hello', 'cache.get did not read back the value')
          expectTrue((await r.cache.exists(key)) === true, 'cache.exists did not see the key')
          expectTrue((await r.cache.expire(key, 30)) === true, 'cache.expire failed')
          expectTrue(isDeepStrictEqual(await r.cache.mget([key, id('missing')]), ['hello', null]), 'cache.mget answered wrongly')
          expectTrue((await r.cache.del(key)) === true && (await r.cache.get(key)) === null, 'cache.del left the key')
          expectTrue((await r.cache.incr(id('counter'))) === 1 && (await r.cache.incr(id('counter'))) === 2, 'cache.incr did not count 1, 2')
          expectTrue((await r.cache.delPattern(`${run}-counter*`)) === 1, 'cache.delPattern did not delete the counter')
          return 'set, get, exists, expire, mget, del, incr, delPattern'
        } finally {
          await r.cache.del(key).catch(() => {})
          await r.cache.del(id('counter')).catch(() => {})
        }
      },
    ],
    [
      'JSON values',
      async () => {
        const key = id('json')
        const value = { user: { id: 7, tags: ['a', 'b'], verified: true, balance: 12.5 }, zero: 0, empty: '', none: null }
        try {
          await r.cache.set(key, value, 60)
          expectTrue(isDeepStrictEqual(await r.cache.get(key), value), 'a nested object did not round-trip intact')
          return 'nested object intact'
        } finally {
          await r.cache.del(key).catch(() => {})
        }
      },
    ],
    [
      'sessions',
      async () => {
        const sid = id('session')
        try {
          const data = { userId: 1, role: 'fan' }
          await r.sessions.store(sid, data, 60)
          expectTrue(isDeepStrictEqual(await r.sessions.get(sid), data), 'sessions.get did not read back the session')
          await r.sessions.refresh(sid, 120)
          await r.sessions.destroy(sid)
          expectTrue((await r.sessions.get(sid)) === null, 'sessions.destroy left the session')
          return 'store, get, refresh, destroy'
        } finally {
          await r.sessions.destroy(sid).catch(() => {})
        }
      },
    ],
    [
      'users and token balances',
      async () => {
        const uid = id('user')
        try {
          await r.users.cache(uid, { name: 'Ada' }, 60)
          expectTrue(isDeepStrictEqual(await r.users.get(uid), { name: 'Ada' }), 'users.get did not read back the profile')
          await r.users.invalidate(uid)
          await r.tokens.cacheBalance(uid, 12345678901234567890n, 60)
          expectTrue((await r.tokens.getBalance(uid)) === 12345678901234567890n, 'a large balance did not round-trip exactly')
          await r.tokens.invalidate(uid)
          return 'users.cache/get/invalidate, tokens.cacheBalance/getBalance/invalidate'
        } finally {
          await r.users.invalidate(uid).catch(() => {})
          await r.tokens.invalidate(uid).catch(() => {})
        }
      },
    ],
    [
      'creators',
      async () => {
        const cid = id('creator')
        try {
          await r.creators.cache(cid, { name: 'Creator' }, 60)
          expectTrue(isDeepStrictEqual(await r.creators.get(cid), { name: 'Creator' }), 'creators.get did not read back the creator')
          await r.creators.setStatus(cid, 'online', 60)
          expectTrue((await r.creators.getStatus(cid)) === 'online', 'creators.getStatus did not read back the status')
          await r.creators.setStatus(cid, 'offline')
          expectTrue((await r.creators.getStatus(cid)) === 'offline', 'offline did not clear the status')
          // Not creators.invalidate: it also drops the shared creator:list.
          return 'cache, get, setStatus, getStatus'
        } finally {
          await r.cache.del(`${r.CACHE_PREFIXES.CREATOR}${cid}`).catch(() => {})
          await r.creators.setStatus(cid, 'offline').catch(() => {})
        }
      },
    ],
    [
      'streams',
      async () => {
        const sid = id('stream')
        try {
          await r.streams.setActive(sid, { title: 'doctor' }, 60)
          expectTrue(isDeepStrictEqual(await r.streams.getActive(sid), { title: 'doctor' }), 'streams.getActive did not read back the stream')
          await r.streams.viewerJoined(sid, 'viewer-1')
          expectTrue((await r.streams.viewerCount(sid)) === 1, 'streams.viewerCount did not count the viewer')
          await r.streams.viewerLeft(sid, 'viewer-1')
          await r.streams.removeActive(sid)
          expectTrue((await r.streams.getActive(sid)) === null, 'streams.removeActive left the stream')
          return 'setActive, getActive, viewerJoined, viewerCount, viewerLeft, removeActive'
        } finally {
          await r.streams.removeActive(sid).catch(() => {})
        }
      },
    ],
    [
      'rate limiting',
      async () => {
        const rid = id('rate')
        try {
          const seen = []
          for (let i = 0; i < 3; i++) seen.push((await r.rateLimiter.check(rid, 2, 60)).allowed)
          expectTrue(isDeepStrictEqual(seen, [true, true, false]), `limit 2 answered ${seen.join(', ')}`)
          await r.rateLimiter.reset(rid)
          expectTrue((await r.rateLimiter.check(rid, 2, 60)).allowed, 'rateLimiter.reset did not lift the block')
          return 'check (allowed, allowed, blocked), reset'
        } finally {
          await r.rateLimiter.reset(rid).catch(() => {})
        }
      },
    ],
    [
      'one-time codes',
      async () => {
        const oid = id('otp')
        try {
          const code = await r.otp.generate(oid, { ttl: 60 })
          const wrong = code === '000000' ? '111111' : '000000'
          expectTrue((await r.otp.verify(oid, wrong)) === false, 'a wrong code verified')
          expectTrue((await r.otp.verify(oid, code)) === true, 'the right code did not verify')
          expectTrue((await r.otp.get(oid)) === null, 'the code was not consumed')
          return 'generate, wrong code refused, right code accepted once'
        } finally {
          await r.cache.del(`${r.CACHE_PREFIXES.OTP}${oid}`).catch(() => {})
        }
      },
    ],
    [
      'cache-aside, locks and idempotency',
      async () => {
        const wrapKey = id('wrap')
        const lockName = id('lock')
        const claimKey = id('claim')
        let loads = 0
        try {
          const loader = async () => {
            loads += 1
            return { n: 1 }
          }
          const values = await Promise.all([r.cache.wrap(wrapKey, loader, 60), r.cache.wrap(wrapKey, loader, 60)])
          expectTrue(loads === 1 && isDeepStrictEqual(values, [{ n: 1 }, { n: 1 }]), 'cache.wrap did not load once for two callers')
          expectTrue(isDeepStrictEqual(await r.cache.get(wrapKey), { n: 1 }), 'cache.wrap did not cache the loaded value')
          const lock = await r.locks.acquire(lockName, { ttl: 5000 })
          expectTrue(lock !== null, 'locks.acquire did not take a free lock')
          expectTrue((await r.locks.acquire(lockName)) === null, 'locks.acquire took a lock that was held')
          await lock.release()
          expectTrue((await r.idempotency.claim(claimKey, 60)) === true, 'idempotency.claim did not answer true to the first claim')
          expectTrue((await r.idempotency.claim(claimKey, 60)) === false, 'idempotency.claim answered true twice')
          return 'cache.wrap (one load for two callers), locks.acquire/release, idempotency.claim'
        } finally {
          await r.cache.del(wrapKey).catch(() => {})
          await r.idempotency.release(claimKey).catch(() => {})
          // The fencing counter outlives the lock by 30 days; a throwaway lock's is removed.
          await r.redis.del(binding.lockFenceKey(lockName)).catch(() => {})
        }
      },
    ],
    [
      'express adapters',
      async () => {
        const sessionStore = new r.SessionStore({ prefix: `${run}-sess:` })
        const limitStore = new r.RateLimitStore({ prefix: `${run}-rl:` })
        try {
          await sessionStore.set('s1', { cookie: {}, user: 'ada' })
          expectTrue(isDeepStrictEqual(await sessionStore.get('s1'), { cookie: {}, user: 'ada' }), 'SessionStore.get did not read back the session')
          await sessionStore.destroy('s1')
          limitStore.init({ windowMs: 60_000 })
          await limitStore.increment('client')
          expectTrue((await limitStore.increment('client')).totalHits === 2, 'RateLimitStore did not count 2 hits')
          await limitStore.resetKey('client')
          return 'SessionStore set/get/destroy, RateLimitStore increment/resetKey'
        } finally {
          await sessionStore.clear().catch(() => {})
          await limitStore.resetKey('client').catch(() => {})
        }
      },
    ],
    [
      'raw client and expiry',
      async () => {
        const key = id('raw')
        try {
          expectTrue((await r.redis.set(key, { a: 1 }, { px: 150 })) === 'OK', 'redis.set did not answer OK')
          expectTrue(isDeepStrictEqual(await r.redis.get(key), { a: 1 }), 'redis.get did not read back the value')
          await new Promise((resolve) => setTimeout(resolve, 250))
          expectTrue((await r.redis.get(key)) === null, 'a key with a 150 ms expiry was still there after 250 ms')
          return 'set with px, get, expiry honoured'
        } finally {
          await r.redis.del(key).catch(() => {})
        }
      },
    ],
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
