'use strict'

const { invalidArgument } = require('./errors')

/**
 * The backend the environment selects, read once at require time like the original:
 * Upstash REST when both its URL and token are set (KV_REST_API_* as fallbacks, as
 * @upstash/redis does), else the Redis protocol for REDIS_URL, else the embedded store.
 */
function selectBackend(env = process.env) {
  const url = env.UPSTASH_REDIS_REST_URL || env.KV_REST_API_URL
  const token = env.UPSTASH_REDIS_REST_TOKEN || env.KV_REST_API_TOKEN
  if (url && token) return { kind: 'upstash', url, token }
  if (env.REDIS_URL) return { kind: 'redis', url: env.REDIS_URL }
  return { kind: 'embedded' }
}

/** Environment names of the timeout options, beside their configure() names. */
const TIMEOUT_VARIABLES = {
  timeoutMs: 'DIGIS_REDIS_TIMEOUT_MS',
  connectTimeoutMs: 'DIGIS_REDIS_CONNECT_TIMEOUT_MS',
  retries: 'DIGIS_REDIS_RETRIES',
}

/**
 * `{ timeoutMs, connectTimeoutMs, retries }` → the binding's TimeoutOptions. Throws a TypeError
 * naming `source` (an option or a variable) for anything but a whole number in range.
 */
function toTimeoutOptions(options, source = (name) => name) {
  const out = {}
  const fields = { timeoutMs: 'callTimeoutMs', connectTimeoutMs: 'connectTimeoutMs', retries: 'retries' }
  for (const [name, field] of Object.entries(fields)) {
    const raw = options[name]
    if (raw === undefined) continue
    const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : raw
    const min = name === 'retries' ? 0 : 1
    if (!Number.isInteger(n) || n < min || n > 600000) {
      throw invalidArgument(`${source(name)} must be a whole number from ${min} to 600000, got ${JSON.stringify(raw)}`)
    }
    out[field] = n
  }
  return out
}

/** Timeout options from DIGIS_REDIS_* variables; a bad value is reported and ignored. */
function timeoutsFromEnv(env = process.env, report = console.error) {
  const options = {}
  for (const [name, variable] of Object.entries(TIMEOUT_VARIABLES)) {
    if (env[variable] === undefined || env[variable] === '') continue
    try {
      Object.assign(options, toTimeoutOptions({ [name]: env[variable] }, () => variable))
    } catch (err) {
      report(`[digis-redis] ignoring ${err.message}`)
    }
  }
  return options
}

const EMBEDDED_WARNING =
  '[digis-redis] No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN or REDIS_URL is set: using the ' +
  'embedded in-process store. Data lives in this process only: other processes do not see it and it ' +
  'is lost when the process exits.'

module.exports = { selectBackend, toTimeoutOptions, timeoutsFromEnv, TIMEOUT_VARIABLES, EMBEDDED_WARNING }
