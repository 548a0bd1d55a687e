'use strict'

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

const EMBEDDED_WARNING =
  '[digis-redis] No UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN or REDIS_URL is set: using the ' +
  'embedded in-process store. Data lives in this process only: other processes do not see it and it ' +
  'is lost when the process exits.'

module.exports = { selectBackend, EMBEDDED_WARNING }
