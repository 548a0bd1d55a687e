// ES module entry point: the CommonJS module, loaded once (one backend, one client, whichever way
// it is imported) and re-exported by name. `import r from 'digis-redis'` is the whole object.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const digisRedis = require('./index.js')

export default digisRedis
export const {
  redis,
  cache,
  sessions,
  users,
  creators,
  streams,
  rateLimiter,
  otp,
  tokens,
  testConnection,
  CACHE_PREFIXES,
  TTL,
  health,
  configure,
  DigisRedisError,
  SessionStore,
  RateLimitStore,
  locks,
  idempotency,
  cacheResponse,
  analytics,
} = digisRedis
