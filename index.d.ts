/**
 * digis-redis: a drop-in replacement for the `utils/redis` module.
 *
 * Every function returns a Promise that never rejects for an operational failure or bad input:
 * the failure is logged once (through `configure({ logger })`, `console` by default) and the
 * contract's fallback is returned. Under `configure({ strict: true })` the same calls reject
 * with a `DigisRedisError` (operational) or a `TypeError` with `code: 'ERR_INVALID_ARGUMENT'`.
 *
 * Values: a string is stored as-is, anything else as `JSON.stringify` writes it; reads
 * `JSON.parse` the stored text when they can, else return it raw.
 * TTLs are whole seconds; a falsy TTL (0, null) means no expiry.
 */

/** Keys and ids: non-empty strings, or finite numbers (`42` and `'42'` are the same key). */
export type Id = string | number
/** Whole seconds (or a string of digits); 0 / null / false: no expiry. */
export type Ttl = number | string | null | false

export interface Cache {
  /** Stores `value` under `key` (as given) for `ttl` seconds (default TTL.MEDIUM). Fallback `false`. */
  set(key: Id, value: unknown, ttl?: Ttl): Promise<boolean>
  /** The value, or `null` only on a real miss (stored 0, false and '' come back as themselves). Fallback `null`. */
  get<T = any>(key: Id): Promise<T | null>
  /** Fallback `false`. */
  del(key: Id): Promise<boolean>
  /** Fallback `false`. */
  exists(key: Id): Promise<boolean>
  /** Sets a new expiry in seconds (0 deletes, as in Redis). Fallback `false`. */
  expire(key: Id, seconds: number | string): Promise<boolean>
  /** The new value. Fallback `null`. */
  incr(key: Id): Promise<number | null>
  /** Values in order, `null` for misses. Fallback: an array of `null`. */
  mget<T = any>(keys: Id[]): Promise<Array<T | null>>
  /** Deletes keys matching a Redis glob pattern (found with SCAN, never KEYS). The number deleted; fallback `0`. */
  delPattern(pattern: string): Promise<number>
}

export interface Sessions {
  /** `session:<id>`, default TTL.DAY. Fallback `false`. */
  store(sessionId: Id, data: unknown, ttl?: Ttl): Promise<boolean>
  get<T = any>(sessionId: Id): Promise<T | null>
  destroy(sessionId: Id): Promise<boolean>
  /** Resets the expiry to `ttl` seconds (default TTL.DAY, at least 1). Fallback `false`. */
  refresh(sessionId: Id, ttl?: number | string): Promise<boolean>
}

export interface Users {
  /** `user:<id>`, default TTL.LONG. */
  cache(userId: Id, userData: unknown, ttl?: Ttl): Promise<boolean>
  get<T = any>(userId: Id): Promise<T | null>
  invalidate(userId: Id): Promise<boolean>
}

export interface Creators {
  /** `creator:<id>`, default TTL.MEDIUM. */
  cache(creatorId: Id, creatorData: unknown, ttl?: Ttl): Promise<boolean>
  get<T = any>(creatorId: Id): Promise<T | null>
  /** `creator:list`, default TTL.SHORT. */
  cacheList(creators: unknown, ttl?: Ttl): Promise<boolean>
  getList<T = any>(): Promise<T | null>
  /** Deletes `creator:<id>` and `creator:list`. */
  invalidate(creatorId: Id): Promise<boolean>
  /** Availability for `ttl` seconds (default TTL.SHORT); 'offline' clears it. Fallback `false`. */
  setStatus(creatorId: Id, status: CreatorStatus, ttl?: number | string): Promise<boolean>
  /** 'offline' when unknown or expired (also the fallback). */
  getStatus(creatorId: Id): Promise<CreatorStatus>
  /** Creators with a live status, from an index (never KEYS). Fallback `[]`. */
  getOnline(): Promise<Array<{ creatorId: string; status: Exclude<CreatorStatus, 'offline'> }>>
}

export type CreatorStatus = 'online' | 'busy' | 'away' | 'offline'

export interface Streams {
  /** `stream:active:<id>`, default TTL.LONG, and an entry in the live-stream index. */
  setActive(streamId: Id, streamData: unknown, ttl?: Ttl): Promise<boolean>
  getActive<T = any>(streamId: Id): Promise<T | null>
  removeActive(streamId: Id): Promise<boolean>
  /** The data of every live stream, ordered by id (from the index, never KEYS); object data gains `viewers`. Fallback `[]`. */
  getAllActive<T = any>(): Promise<Array<T & { viewers: number }>>
  /** Indexes `stream:active:*` keys written without the index (e.g. by the original module), using SCAN. The number found; fallback `0`. */
  reindex(): Promise<number>
  /** Marks a viewer present for the presence window (default 60 s); call again as a heartbeat. */
  viewerJoined(streamId: Id, viewerId: Id): Promise<boolean>
  viewerLeft(streamId: Id, viewerId: Id): Promise<boolean>
  /** Unique viewers seen within the presence window. Fallback `0`. */
  viewerCount(streamId: Id): Promise<number>
}

export interface RateLimitResult {
  allowed: boolean
  remaining: number
  /** Whole seconds until the whole quota is available again. */
  reset: number
  limit: number
  /** Whole seconds until a request of the same cost would be allowed; 0 when allowed. */
  retryAfter: number
}

export type RateLimitAlgorithm = 'token-bucket' | 'sliding-window' | 'fixed-window'

export interface RateLimitOptions {
  /** Default 'token-bucket'; 'fixed-window' shares the original module's `rate:<id>` counter. */
  algorithm?: RateLimitAlgorithm
  /** Tokens this request takes (default 1, at most `limit`). */
  cost?: number
  /** On a backend failure, block instead of allowing (default false: fail open). */
  failClosed?: boolean
}

export interface RateLimitMiddlewareOptions extends RateLimitOptions {
  limit?: number
  window?: number
  /** The identifier of a request; default: its client address (IPv6 grouped by /56). */
  key?: (req: any) => string | Promise<string>
}

export interface RateLimiter {
  /** Checks one request against `limit` per `window` seconds (defaults 10 and 60), atomically, in one round trip. Fails open: `{ allowed: true, remaining: limit, reset: window, limit, retryAfter: 0 }`. */
  check(identifier: Id, limit?: number, window?: number, options?: RateLimitOptions): Promise<RateLimitResult>
  /** Clears every algorithm's state for the identifier, and any local block. */
  reset(identifier: Id): Promise<boolean>
  /** Express middleware with draft-7 RateLimit headers; 429 + Retry-After + `{ error, retryAfter }` when blocked. Throws a TypeError for bad options. */
  middleware(options?: RateLimitMiddlewareOptions): (req: any, res: any, next: (err?: unknown) => void) => Promise<void>
}

export interface Otp {
  /** `otp:<identifier>`, default TTL.SHORT; the code is stored as a string. */
  store(identifier: Id, code: string | number, ttl?: Ttl): Promise<boolean>
  /** Compares as strings; a match consumes the code (atomically). Fallback `false`. */
  verify(identifier: Id, code: string | number): Promise<boolean>
  /** The stored code as a string, or `null`. */
  get(identifier: Id): Promise<string | null>
  /** Draws a code from the OS CSPRNG (digits 4–12, default 6), stores it for `ttl` (default TTL.SHORT), resets the guess count, returns it. Fallback `null`. */
  generate(identifier: Id, options?: { digits?: number; ttl?: Ttl }): Promise<string | null>
}

/** A token balance: numbers, BigInts and decimal strings round-trip exactly. */
export type Balance = number | bigint | string

export interface Tokens {
  /** `token:<userId>`, default TTL.SHORT. Fallback `false`. */
  cacheBalance(userId: Id, balance: Balance, ttl?: Ttl): Promise<boolean>
  /** The balance as cached (integers beyond 2^53 as BigInt), or `null`. */
  getBalance(userId: Id): Promise<Balance | null>
  invalidate(userId: Id): Promise<boolean>
}

export interface SetOptions {
  ex?: number
  px?: number
  exat?: number
  pxat?: number
  nx?: boolean
  xx?: boolean
  get?: boolean
  keepTtl?: boolean
}

export interface ScoreMember {
  score: number
  member: unknown
}

/**
 * Commands in the style of @upstash/redis: non-string arguments are JSON-encoded, replies are
 * JSON-parsed where possible. Unlike the feature namespaces, its calls reject on errors.
 */
export interface RawCommands<R> {
  get<T = any>(key: string): R
  set(key: string, value: unknown, opts?: SetOptions): R
  setex(key: string, seconds: number, value: unknown): R
  psetex(key: string, ms: number, value: unknown): R
  setnx(key: string, value: unknown): R
  getdel<T = any>(key: string): R
  del(...keys: string[]): R
  unlink(...keys: string[]): R
  exists(...keys: string[]): R
  expire(key: string, seconds: number, option?: 'NX' | 'XX' | 'GT' | 'LT'): R
  pexpire(key: string, ms: number, option?: 'NX' | 'XX' | 'GT' | 'LT'): R
  expireat(key: string, unixSeconds: number): R
  ttl(key: string): R
  pttl(key: string): R
  persist(key: string): R
  type(key: string): R
  incr(key: string): R
  incrby(key: string, by: number): R
  incrbyfloat(key: string, by: number): R
  decr(key: string): R
  decrby(key: string, by: number): R
  mget(...keys: string[] | [string[]]): R
  mset(kv: Record<string, unknown>): R
  append(key: string, value: string): R
  strlen(key: string): R
  keys(pattern: string): R
  scan(cursor: string | number, opts?: { match?: string; count?: number; type?: string }): R
  dbsize(): R
  hget(key: string, field: string): R
  hset(key: string, kv: Record<string, unknown>): R
  hmget(key: string, ...fields: string[]): R
  hgetall(key: string): R
  hdel(key: string, ...fields: string[]): R
  hexists(key: string, field: string): R
  hlen(key: string): R
  hkeys(key: string): R
  hincrby(key: string, field: string, by: number): R
  sadd(key: string, ...members: unknown[]): R
  srem(key: string, ...members: unknown[]): R
  smembers(key: string): R
  sismember(key: string, member: unknown): R
  scard(key: string): R
  spop(key: string, count?: number): R
  zadd(key: string, first: ScoreMember & { nx?: boolean; xx?: boolean; ch?: boolean; incr?: boolean; gt?: boolean; lt?: boolean }, ...rest: ScoreMember[]): R
  zrem(key: string, ...members: unknown[]): R
  zrange(key: string, min: number | string, max: number | string, opts?: { byScore?: boolean; byLex?: boolean; rev?: boolean; offset?: number; count?: number; withScores?: boolean }): R
  zscore(key: string, member: unknown): R
  zincrby(key: string, increment: number, member: unknown): R
  zcard(key: string): R
  zcount(key: string, min: number | string, max: number | string): R
  zrank(key: string, member: unknown): R
  zremrangebyscore(key: string, min: number | string, max: number | string): R
  lpush(key: string, ...elements: unknown[]): R
  rpush(key: string, ...elements: unknown[]): R
  lpop(key: string, count?: number): R
  rpop(key: string, count?: number): R
  lrange(key: string, start: number, stop: number): R
  llen(key: string): R
  ltrim(key: string, start: number, stop: number): R
  ping(message?: string): R
  echo(message: string): R
  time(): R
  /** Server backends only; the embedded store answers ERR_UNSUPPORTED. */
  eval(script: string, keys?: string[], args?: unknown[]): R
  evalsha(sha: string, keys?: string[], args?: unknown[]): R
}

export interface Pipeline extends RawCommands<Pipeline> {
  length(): number
  /** Sends the chain in one round trip. Rejects if any command failed, unless `keepErrors`. */
  exec<T extends unknown[] = any[]>(): Promise<T>
  exec(options: { keepErrors: true }): Promise<Array<{ error?: string; result: any }>>
}

export interface RawClient extends RawCommands<Promise<any>> {
  /** `[digis-redis raw client: <backend and address, secrets masked>]` */
  toString(): string
  pipeline(): Pipeline
  /** Like pipeline(), but atomic (MULTI/EXEC). */
  multi(): Pipeline
}

export declare const redis: RawClient
export declare const cache: Cache
export declare const sessions: Sessions
export declare const users: Users
export declare const creators: Creators
export declare const streams: Streams
export declare const rateLimiter: RateLimiter
export declare const otp: Otp
export declare const tokens: Tokens
/** PING; `true` when the backend answers. Fallback `false`. */
export declare function testConnection(): Promise<boolean>

export interface Health {
  backend: 'embedded' | 'redis' | 'redis-cluster' | 'upstash'
  ok: boolean
  /** Round trip of a PING in ms; null when it failed. */
  latencyMs: number | null
  circuit: 'closed' | 'open' | 'half-open'
  /** The failing PING's error, else the last transport failure seen (secrets masked). */
  lastError: string | null
}

/** Never rejects. */
export declare function health(): Promise<Health>

export declare const CACHE_PREFIXES: Readonly<{
  USER: 'user:'
  SESSION: 'session:'
  TOKEN: 'token:'
  CREATOR: 'creator:'
  STREAM: 'stream:'
  RATE_LIMIT: 'rate:'
  EMAIL: 'email:'
  OTP: 'otp:'
  TEMP: 'temp:'
}>

/** Seconds. */
export declare const TTL: Readonly<{ SHORT: 300; MEDIUM: 1800; LONG: 3600; DAY: 86400; WEEK: 604800 }>

export interface Logger {
  error(message: string): void
  warn?(message: string): void
}

export interface ConfigureOptions {
  /** Reject with typed errors instead of answering fallbacks. Default false. */
  strict?: boolean
  /** Where failures are reported, once per call. Default `console`; `null` silences. */
  logger?: Logger | null | false
  /** Deadline of one call on a server backend, connecting and retries included (ms). Default 1000; env DIGIS_REDIS_TIMEOUT_MS. */
  timeoutMs?: number
  /** Bound on opening a connection (ms). Default 1000; env DIGIS_REDIS_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number
  /** Extra attempts after a transport failure of an idempotent REST command. Default 2; env DIGIS_REDIS_RETRIES. */
  retries?: number
  /** Consecutive transport failures that open the circuit. Default 5; env DIGIS_REDIS_BREAKER_THRESHOLD. */
  breakerThreshold?: number
  /** How long an open circuit fails fast before one probe (ms). Default 1000; env DIGIS_REDIS_BREAKER_COOLDOWN_MS. */
  breakerCooldownMs?: number
  /**
   * Moves every later call to a Redis Cluster with these seed nodes (`redis://` / `rediss://`
   * URLs, or one comma-separated string), like `REDIS_CLUSTER_URLS`. Meant for start-up: the
   * exported namespaces and `redis` follow, but functions taken out of a namespace and
   * middleware made before keep the previous backend.
   */
  cluster?: string[] | string
  /** Wrong guesses that destroy a one-time code. Default 5. */
  otpMaxAttempts?: number
  /** Seconds a viewer counts as present after their last viewerJoined(). Default 60. */
  viewerPresenceSeconds?: number
}

/** Changes process-wide settings; returns the current feature settings. */
export declare function configure(options: ConfigureOptions): { strict: boolean; otpMaxAttempts: number; viewerPresenceSeconds: number }

export type ErrorCode =
  | 'ERR_COMMAND'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CONNECTION'
  | 'ERR_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_INTERNAL'
  | 'ERR_CIRCUIT_OPEN'

/** An operational failure, thrown in strict mode and by the raw client. */
export declare class DigisRedisError extends Error {
  readonly name: 'DigisRedisError'
  readonly code: ErrorCode
}
