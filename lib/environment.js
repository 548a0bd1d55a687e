'use strict'

const { invalidArgument } = require('./errors')

/**
 * The backend the environment selects, read once at require time like the original:
 * Upstash REST when both its URL and token are set (KV_REST_API_* as fallbacks, as
 * @upstash/redis does), else Redis Cluster for REDIS_CLUSTER_URLS, else the Redis protocol for
 * REDIS_URL, else the embedded store, except under NODE_ENV=production without
 * DIGIS_REDIS_EMBEDDED=1, where it is 'unconfigured'.
 */
function selectBackend(env = process.env) {
  const url = env.UPSTASH_REDIS_REST_URL || env.KV_REST_API_URL
  const token = env.UPSTASH_REDIS_REST_TOKEN || env.KV_REST_API_TOKEN
  if (url && token) return { kind: 'upstash', url, token }
  if (env.REDIS_CLUSTER_URLS && env.REDIS_CLUSTER_URLS.trim()) {
    return { kind: 'cluster', urls: clusterUrls(env.REDIS_CLUSTER_URLS, 'REDIS_CLUSTER_URLS') }
  }
  if (env.REDIS_URL) return { kind: 'redis', url: env.REDIS_URL }
  // In production a per-process store would silently split rate limits and sessions between
  // instances: without an explicit opt-in, no backend at all (calls answer their fallbacks).
  if (env.NODE_ENV === 'production' && env.DIGIS_REDIS_EMBEDDED !== '1') return { kind: 'unconfigured' }
  return { kind: 'embedded' }
}

/**
 * Seed node URLs of a cluster: a comma-separated string or an array of strings. Throws a
 * TypeError naming `source` when there is none or one is not a string; the URLs themselves are
 * checked by the binding, which masks their passwords.
 */
function clusterUrls(value, source = 'cluster') {
  const list = typeof value === 'string' ? value.split(',') : value
  if (!Array.isArray(list) || list.some((url) => typeof url !== 'string')) {
    throw invalidArgument(`${source} takes seed node URLs: an array of strings or a comma-separated string`)
  }
  const urls = list.map((url) => url.trim()).filter((url) => url !== '')
  if (urls.length === 0) throw invalidArgument(`${source} names no seed node`)
  return urls
}

/**
 * The backends' options: configure() name → [binding field, environment variable, smallest and
 * largest allowed value].
 */
const BACKEND_OPTIONS = {
  timeoutMs: ['callTimeoutMs', 'DIGIS_REDIS_TIMEOUT_MS', 1, 600000],
  connectTimeoutMs: ['connectTimeoutMs', 'DIGIS_REDIS_CONNECT_TIMEOUT_MS', 1, 600000],
  retries: ['retries', 'DIGIS_REDIS_RETRIES', 0, 600000],
  breakerThreshold: ['breakerThreshold', 'DIGIS_REDIS_BREAKER_THRESHOLD', 1, 600000],
  breakerCooldownMs: ['breakerCooldownMs', 'DIGIS_REDIS_BREAKER_COOLDOWN_MS', 0, 600000],
  // 0: no bound.
  embeddedMaxBytes: ['embeddedMaxBytes', 'DIGIS_REDIS_EMBEDDED_MAX_BYTES', 0, Number.MAX_SAFE_INTEGER],
}

/**
 * configure()-style options → the binding's BackendOptions. Throws a TypeError naming `source`
 * (an option or a variable) for anything but a whole number in range.
 */
function toBackendOptions(options, source = (name) => name) {
  const out = {}
  for (const [name, [field, , min, max]] of Object.entries(BACKEND_OPTIONS)) {
    const raw = options[name]
    if (raw === undefined) continue
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw
    if (!Number.isInteger(n) || n < min || n > max) {
      throw invalidArgument(`${source(name)} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
    }
    out[field] = n
  }
  return out
}

/** Backend options from DIGIS_REDIS_* variables; a bad value is reported and ignored. */
function backendOptionsFromEnv(env = process.env, report = console.error) {
  const options = {}
  for (const [name, [, variable]] of Object.entries(BACKEND_OPTIONS)) {
    if (env[variable] === undefined || env[variable] === '') continue
    try {
      Object.assign(options, toBackendOptions({ [name]: env[variable] }, () => variable))
    } catch (err) {
      report(`[digis-redis] ignoring ${err.message}`)
    }
  }
  return options
}

/**
 * Whether a REDIS_URL socket is driven by Node's own loop (`loop`, the default on Node) or by the
 * addon's I/O thread (`thread`, the default on Bun and Deno, whose libuv is partial):
 * DIGIS_REDIS_TRANSPORT. A bad value is reported and ignored.
 */
function redisOnNodeLoop(env = process.env, report = console.error, versions = process.versions) {
  const raw = env.DIGIS_REDIS_TRANSPORT
  if (raw === 'loop') return true
  if (raw === 'thread') return false
  if (raw !== undefined && raw !== '') report(`[digis-redis] ignoring DIGIS_REDIS_TRANSPORT must be loop or thread, got ${JSON.stringify(raw)}`)
  return !versions.bun && !versions.deno
}

/** Default interval between two lines about one kind of outage failure. */
const DEFAULT_LOG_INTERVAL_MS = 10000

/** DIGIS_REDIS_LOG_INTERVAL_MS, whole milliseconds up to `max`; a bad value is reported and ignored. */
function logIntervalFromEnv(max, env = process.env, report = console.error) {
  const raw = env.DIGIS_REDIS_LOG_INTERVAL_MS
  if (raw === undefined || raw === '') return DEFAULT_LOG_INTERVAL_MS
  if (/^\d+$/.test(raw) && Number(raw) <= max) return Number(raw)
  report(`[digis-redis] ignoring DIGIS_REDIS_LOG_INTERVAL_MS must be a whole number from 0 to ${max}, got ${JSON.stringify(raw)}`)
  return DEFAULT_LOG_INTERVAL_MS
}

const EMBEDDED_WARNING =
  '[digis-redis] No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL is set: using the ' +
  'embedded in-process store. Data lives in this process only: other processes do not see it and it ' +
  'is lost when the process exits.'

const UNCONFIGURED_ERROR =
  '[digis-redis] NODE_ENV=production and no backend is configured: every call answers its fallback ' +
  '(testConnection() is false, rate limits fail open, nothing is cached or stored). Set ' +
  'UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL; or set ' +
  'DIGIS_REDIS_EMBEDDED=1 to use the per-process embedded store on purpose.'

/** What every call of an unconfigured process fails with (and logs). */
const UNCONFIGURED_REASON =
  'no backend configured (NODE_ENV=production): set UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN, ' +
  'REDIS_CLUSTER_URLS or REDIS_URL, or DIGIS_REDIS_EMBEDDED=1'

module.exports = {
  UNCONFIGURED_ERROR,
  UNCONFIGURED_REASON,
  selectBackend,
  clusterUrls,
  toBackendOptions,
  backendOptionsFromEnv,
  logIntervalFromEnv,
  redisOnNodeLoop,
  BACKEND_OPTIONS,
  EMBEDDED_WARNING,
}
