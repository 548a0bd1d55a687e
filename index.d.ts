/// <reference types="node" />
import { EventEmitter } from 'node:events'

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
  /**
   * Deletes every response `cacheResponse` stored under `tag` (read from the tag's own set, never
   * by scanning keys). Resolves with the number of cached responses removed; fallback `0`.
   */
  invalidateTag(tag: Id): Promise<number>
  /**
   * Cache-aside: the cached value of `key`, or `loader()`'s result, cached for `ttl` seconds
   * (default TTL.MEDIUM) with the same bytes `cache.set` writes (so `cache.get` reads it).
   * Concurrent calls for one key in this process share one loader call; across processes one
   * instance loads under a short lock (`{key}:loading`) while the others wait for its value, at
   * most `lockTtl` ms, then load themselves. Hits decode like `cache.get` (JSON round trip).
   * Backend failures never reject: the loader's value is answered uncached, the failure logged
   * (strict mode rejects). The loader's own error rejects every caller waiting on it.
   */
  wrap<T>(key: Id, loader: () => T | Promise<T>, ttl?: Ttl, options?: WrapOptions): Promise<T>
}

export interface WrapOptions {
  /**
   * Seconds a value stays servable after `ttl` (default 0: none). A call finding it stale gets
   * it at once while one caller (across processes) reloads it in the background; a failing
   * reload keeps the stale value and is logged. Freshness is a companion key, `{key}:fresh`.
   */
  staleTtl?: number
  /** Milliseconds the loading lock lives, and so the longest wait for a peer's value. Default 5000. */
  lockTtl?: number
  /** Cache `null` / `undefined` results (stored as `null`). Default false: not cached. */
  cacheNull?: boolean
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
  /**
   * The `n` (default 10) most read creator profiles, most read first. `score` is the number of
   * `creators.get` reads with each read's weight halved every `popularityHalfLifeSeconds`
   * (default 3600) of age. Reads are counted in process and reach the backend in batches (at
   * most a second later; this call sends pending counts first). Fallback `[]`.
   */
  popular(n?: number): Promise<Array<{ creatorId: string; score: number }>>
  /**
   * Caches the `top` most popular creators that are not cached: one pipelined EXISTS, then
   * `loader` for the missing ids only, then one pipelined write with the key, bytes and TTL of
   * `creators.cache`. Fallback `{ popular: 0, missing: 0, warmed: 0 }` (also when the loader throws).
   */
  warm(loader: CreatorLoader, options?: WarmOptions): Promise<WarmResult>
  /**
   * Runs `warm(loader, options)` every `every` ms (default 60000, at least 10) on an unref'd
   * timer (it never keeps the process alive), one run at a time. Throws a TypeError for bad options.
   */
  startWarming(loader: CreatorLoader, options?: WarmOptions & { every?: number }): { stop(): void }
}

/**
 * Loads creators by id (most popular first): an array in the same order, or a Map / object keyed
 * by id. `null` / `undefined` entries (not found) are not cached.
 */
export type CreatorLoader = (creatorIds: string[]) => Promise<unknown[] | Map<string, unknown> | Record<string, unknown>> | unknown[] | Map<string, unknown> | Record<string, unknown>

export interface WarmOptions {
  /** How many of the most popular creators to consider. Default 50. */
  top?: number
  /** Seconds the warmed entries live. Default TTL.MEDIUM, as `creators.cache`. */
  ttl?: Ttl
}

export interface WarmResult {
  /** Popular creators considered (at most `top`). */
  popular: number
  /** Those that were not cached (handed to the loader). */
  missing: number
  /** Those the loader returned and that were written. */
  warmed: number
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

export interface LockOptions {
  /** Lifetime of the lock in milliseconds. Default 10000. */
  ttl?: number
  /** How long to keep retrying while another owner holds it (ms). Default 0: one attempt. */
  wait?: number
  /** Pause between attempts (ms, jittered ±50%). Default 50. */
  retryDelay?: number
}

/** A held lock. */
export interface Lock {
  /** The name given to acquire(); the key is `lock:<name>`. */
  readonly name: string
  /** Strictly above every earlier holder's token for this name, in any process. Pass it to the guarded resource to refuse stale writers. */
  readonly fencingToken: number
  /** The lifetime it was acquired with (ms). */
  readonly ttl: number
  /** Deletes the lock if this holder still owns it (atomically). `false` when it had expired or changed hands; fallback `false`. */
  release(): Promise<boolean>
  /** `ms` more (default: its ttl) from now, if still owned. `false` when lost; fallback `false`. */
  extend(ms?: number): Promise<boolean>
}

export type WithLockResult<T> =
  | { acquired: true; value: T; lost: boolean; fencingToken: number }
  | { acquired: false; value: undefined; lost: false; fencingToken: null }

export interface Locks {
  /** Takes `lock:<name>` for `ttl` ms, retrying for up to `wait` ms. The lock, or `null` when it is held elsewhere. Fallback `null` (logged). */
  acquire(name: Id, options?: LockOptions): Promise<Lock | null>
  /**
   * Runs `fn(signal)` holding the lock; extends it every ttl/3 while `fn` runs; always releases
   * it. If the lock is lost (gone or taken when extending, or expired before an extension got
   * through) `signal` aborts with a `DigisRedisError` `ERR_LOCK_LOST`, the loss is logged and
   * reported as `lost: true`; it is never re-acquired. When the lock cannot be had (held, or a
   * backend failure) `fn` does not run: `{ acquired: false }`. `fn`'s own rejection propagates.
   */
  withLock<T>(name: Id, options: LockOptions | undefined, fn: (signal: AbortSignal) => T | Promise<T>): Promise<WithLockResult<Awaited<T>>>
  withLock<T>(name: Id, fn: (signal: AbortSignal) => T | Promise<T>): Promise<WithLockResult<Awaited<T>>>
}

export interface Idempotency {
  /**
   * `true` only for the first claim of `key` (`idempotency:<key>`, kept `ttl` seconds, default
   * TTL.DAY; 0 or null: forever). On a backend failure: `true` (process it: senders deliver at
   * least once, so duplicates must be tolerable anyway, while `false` would drop the event),
   * or `false` with `failClosed: true`. Strict mode rejects, e.g. to answer 5xx and be retried.
   */
  claim(key: Id, ttl?: Ttl, options?: { failClosed?: boolean }): Promise<boolean>
  /** Forgets a claim (e.g. the work failed and should run on redelivery). `true` when there was one; fallback `false`. */
  release(key: Id): Promise<boolean>
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
  /** How many subscriptions received it. */
  publish(channel: string, message: unknown): R
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

/** What a Subscriber's listeners receive, by event type (as @upstash/redis's Subscriber). */
export interface SubscriberEvents<M = any> {
  subscribe: number
  psubscribe: number
  message: { channel: string; message: M }
  pmessage: { pattern: string; channel: string; message: M }
  error: Error
}

/**
 * `redis.subscribe()` / `psubscribe()`, in @upstash/redis's shape: one subscription per name
 * (an SSE request on Upstash, a pub/sub connection on Redis and Cluster, in process on the
 * embedded store). `message:<channel>` and `pmessage:<pattern>` listen to one name.
 */
export interface Subscriber<M = any> {
  on<T extends keyof SubscriberEvents<M>>(type: T, listener: (data: SubscriberEvents<M>[T]) => void): void
  on(type: `message:${string}`, listener: (data: SubscriberEvents<M>['message']) => void): void
  on(type: `pmessage:${string}`, listener: (data: SubscriberEvents<M>['pmessage']) => void): void
  removeAllListeners(): void
  /** Ends the given subscriptions, or all of them (and removes the listeners). */
  unsubscribe(names?: string[]): Promise<void>
  getSubscribedChannels(): string[]
}

export interface RawClient extends RawCommands<Promise<any>> {
  /** `[digis-redis raw client: <backend and address, secrets masked>]` */
  toString(): string
  pipeline(): Pipeline
  /** Like pipeline(), but atomic (MULTI/EXEC). */
  multi(): Pipeline
  subscribe<M = any>(channels: string | string[], options?: { automaticDeserialization?: boolean }): Subscriber<M>
  psubscribe<M = any>(patterns: string | string[], options?: { automaticDeserialization?: boolean }): Subscriber<M>
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
export declare const locks: Locks
export declare const idempotency: Idempotency
/** PING; `true` when the backend answers. Fallback `false`. */
export declare function testConnection(): Promise<boolean>

export interface CacheResponseOptions {
  /** Seconds a response stays cached. Default TTL.SHORT (300). */
  ttl?: number | string
  /**
   * The cache key of a request (stored as `response:<key>`); `null` / `undefined` skip caching
   * for that request. Default `<method>:<originalUrl>`, and requests carrying an
   * `Authorization` header are then never cached: give a key when answers depend on the caller.
   */
  key?: (req: any) => string | number | null | undefined | Promise<string | number | null | undefined>
  /** Tags to invalidate the response by (`cache.invalidateTag`); a function is called once the answer is complete. Default none. */
  tags?: string[] | ((req: any, res: any) => string[] | Promise<string[]>)
  /** Response headers stored and replayed (lower case). Default content-type, content-encoding, content-language, content-disposition, cache-control, etag, last-modified, vary. */
  headers?: string[]
  /** Larger bodies are not cached (bytes). Default 1 MiB. */
  maxBytes?: number
}

/**
 * Express middleware caching successful (2xx except 206) GET answers: status, allow-listed
 * headers and body. Hits answer without running the route, with `X-Cache: HIT` and `Age`;
 * misses carry `X-Cache: MISS`. Never cached: non-GET requests, answers that set cookies or
 * say `Cache-Control: private`, `no-store` or `no-cache`, `Vary: *`. A backend failure is a
 * miss (logged), never an error; in strict mode it goes to `next(err)`. Throws a TypeError for bad options.
 */
export declare function cacheResponse(options?: CacheResponseOptions): (req: any, res: any, next: (err?: unknown) => void) => Promise<void>

export interface NamespaceStats {
  /** Reads that found a value (`cache.mget` counts each key). */
  hits: number
  /** Reads that found nothing (a failed read is an error, not a miss). */
  misses: number
  /** hits / (hits + misses); `null` before the first read. */
  hitRatio: number | null
  /** Successful writes (calls). */
  sets: number
  /** Successful deletions and invalidations (calls). */
  deletes: number
  /** Calls answered with their fallback (or rejected in strict mode) after a failure. */
  errors: number
}

export type AnalyticsNamespace = 'cache' | 'users' | 'creators' | 'sessions' | 'streams' | 'tokens' | 'responses'

export interface OperationStats {
  calls: number
  /** Calls whose duration was measured (one in 8, the first always): the percentiles' sample. */
  timed: number
  errors: number
  /** Milliseconds, estimated from a fixed-bucket histogram (interpolated within a bucket); `null` before the first call. */
  p50Ms: number | null
  p99Ms: number | null
  maxMs: number
}

export interface AnalyticsStats {
  backend: 'embedded' | 'redis' | 'redis-cluster' | 'upstash' | 'unconfigured'
  circuit: 'closed' | 'open' | 'half-open'
  /** ISO time of the process start or the last `reset()`. */
  since: string
  namespaces: Record<AnalyticsNamespace, NamespaceStats>
  /** Per public operation (e.g. `cache.get`), only those called since `since`. */
  operations: Record<string, OperationStats>
  /** `rateLimiter.check` answers; fail-open fallbacks count as allowed. */
  rateLimit: { allowed: number; denied: number }
  /** The near cache (`configure({ nearCache })`); zeros and `enabled: false` when it is off. */
  nearCache: NearCacheStats
}

export type NearCacheNamespace = 'cache' | 'users' | 'creators' | 'sessions' | 'tokens'

export interface NearCacheStats {
  enabled: boolean
  /**
   * `live`: the server's invalidations flow and entries are served; `connecting`: they do not
   * (yet, or since a disconnect), nothing is served; `ttl-only`: Upstash REST, entries are
   * served for at most `maxStalenessMs`; `off`.
   */
  tracking: 'live' | 'connecting' | 'ttl-only' | 'off'
  entries: number
  /** Keys, values and an estimate of each entry's bookkeeping. */
  bytes: number
  maxBytes: number
  maxEntries: number
  hits: number
  misses: number
  /** Entries dropped because the server said their key changed (or flushed). */
  invalidations: number
  /** Entries dropped to stay within the bounds. */
  evictions: number
  /** Key changes the server announced, cached here or not. */
  announced: number
  /** Why tracking is not live (secrets masked), else null. */
  lastError: string | null
  /** While tracking is live: the servers (`host:port`, or a Unix socket's path; sorted) it hears, one per master on a cluster; else empty. */
  trackedServers: string[]
  namespaces: Record<NearCacheNamespace, { hits: number; misses: number; invalidations: number }>
}

export interface NearCacheOptions {
  /** Memory bound in bytes (keys, values and ~190 bytes per entry), least recently used out first. Default 67108864 (64 MiB), at least 1024. */
  maxBytes?: number
  /** Entry bound. Default 100000. */
  maxEntries?: number
  /** The namespaces whose reads it answers. Default all five. */
  namespaces?: NearCacheNamespace[]
  /**
   * The raw keys `cache.get`/`mget` are answered for, by prefix (default: any key). With it,
   * the server announces changes of these prefixes (and the other namespaces') only, instead
   * of every write on the server: see README, "Near cache".
   */
  cachePrefixes?: string[]
  /**
   * The longest an entry is served, in ms. Required on Upstash REST (no push channel: entries
   * can only expire); on Redis and Cluster an optional extra bound beside the server's invalidations.
   */
  maxStalenessMs?: number
}

export interface Analytics {
  /** In-process counts of this process (no round trip). */
  stats(): AnalyticsStats
  /** The same, as Prometheus text exposition (format 0.0.4), metric names `digis_redis_*`. */
  prometheus(): string
  /** Zeroes this process's counts (counts not yet flushed still reach the totals). */
  reset(): void
  /**
   * Opt-in cross-instance totals: every `every` ms (default 10000, at least 10) adds the counts
   * since the last flush to the hash `key` (default `analytics:totals`) with one pipeline of
   * HINCRBY, on an unref'd timer. Replaces a previous timer. Throws a TypeError for bad options.
   */
  startFlushing(options?: { every?: number; key?: string }): { stop(): void }
  stopFlushing(): void
  /** Flushes now (e.g. at shutdown); `true` when the counts arrived. Fallback `false` (they are sent next time). */
  flush(): Promise<boolean>
  /** The fleet's totals from the hash (default: the flushing key). Fallback `null`. */
  totals(key?: string): Promise<{ namespaces: Record<AnalyticsNamespace, NamespaceStats>; rateLimit: { allowed: number; denied: number } } | null>
}

export declare const analytics: Analytics

export interface Health {
  backend: 'embedded' | 'redis' | 'redis-cluster' | 'upstash' | 'unconfigured'
  ok: boolean
  /** Round trip of a PING in ms; null when it failed. */
  latencyMs: number | null
  circuit: 'closed' | 'open' | 'half-open'
  /** The failing PING's error, else the last transport failure seen (secrets masked). */
  lastError: string | null
  /**
   * How calls reach the store: `node-loop` (a plain-TCP REDIS_URL's socket driven by Node's own
   * event loop), `io-thread` (the addon's I/O thread: TLS, cluster, REST, or
   * DIGIS_REDIS_TRANSPORT=thread) or `in-process` (the embedded store).
   */
  transport: 'node-loop' | 'io-thread' | 'in-process'
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

/**
 * The environment variables the package reads, once, when it is first required (a `.env` file in
 * the working directory is loaded first and never overrides variables already set). The backend
 * is Upstash REST when its URL and token are both set, else the Redis protocol when `REDIS_URL`
 * is set, else the embedded in-process store (with a warning). The `DIGIS_REDIS_*` variables are
 * the defaults of the matching {@link ConfigureOptions}; a bad value is reported and ignored.
 */
export interface Environment {
  /** Upstash REST URL, `https://<name>.upstash.io`. */
  UPSTASH_REDIS_REST_URL?: string
  /** Upstash REST token (read-write). Never logged: errors and `toString()` mask it. */
  UPSTASH_REDIS_REST_TOKEN?: string
  /** Fallback for UPSTASH_REDIS_REST_URL (Vercel KV naming), as @upstash/redis reads it. */
  KV_REST_API_URL?: string
  /** Fallback for UPSTASH_REDIS_REST_TOKEN (Vercel KV naming). */
  KV_REST_API_TOKEN?: string
  /**
   * Redis Cluster seed nodes, comma-separated `redis://[user:password@]host:port` or `rediss://`;
   * used when Upstash is not configured, before REDIS_URL. Passwords masked in output.
   */
  REDIS_CLUSTER_URLS?: string
  /** `redis://[user:password@]host:port[/db]` or `rediss://` (TLS); used when neither Upstash nor a cluster is configured. Password masked in output. */
  REDIS_URL?: string
  /** {@link ConfigureOptions.timeoutMs}, whole ms from 1. Default 1000. */
  DIGIS_REDIS_TIMEOUT_MS?: string
  /** {@link ConfigureOptions.connectTimeoutMs}, whole ms from 1. Default 1000. */
  DIGIS_REDIS_CONNECT_TIMEOUT_MS?: string
  /** {@link ConfigureOptions.retries}, from 0. Default 2. */
  DIGIS_REDIS_RETRIES?: string
  /** {@link ConfigureOptions.breakerThreshold}, from 1. Default 5. */
  DIGIS_REDIS_BREAKER_THRESHOLD?: string
  /** {@link ConfigureOptions.breakerCooldownMs}, whole ms from 0. Default 1000. */
  DIGIS_REDIS_BREAKER_COOLDOWN_MS?: string
  /** {@link ConfigureOptions.embeddedMaxBytes}, whole bytes from 0. Default 268435456 (256 MiB). */
  DIGIS_REDIS_EMBEDDED_MAX_BYTES?: string
  /** `1`: use the embedded store even under NODE_ENV=production (which otherwise gets no backend). */
  DIGIS_REDIS_EMBEDDED?: string
  /** {@link ConfigureOptions.logIntervalMs}, whole ms from 0. Default 10000. */
  DIGIS_REDIS_LOG_INTERVAL_MS?: string
}

/** Options of `configure()`, all optional; any other name is refused with a TypeError. The server-backend options (`timeoutMs` … `breakerCooldownMs`: whole numbers, at most 600000), `embeddedMaxBytes` and `cluster` also have an {@link Environment} variable. */
export interface ConfigureOptions {
  /** Reject with typed errors instead of answering fallbacks. Default false. */
  strict?: boolean
  /** Where failures are reported, once per call. Default `console`; `null` silences. A logger that throws loses that line, never the call's answer. */
  logger?: Logger | null | false
  /**
   * An outage failure (ERR_CONNECTION, ERR_TIMEOUT, ERR_PROTOCOL, ERR_CIRCUIT_OPEN) of one
   * operation is logged once per interval, then one line counts the ones not logged (ms, 0 to
   * 3600000; 0 logs every one). Default 10000; env DIGIS_REDIS_LOG_INTERVAL_MS.
   */
  logIntervalMs?: number
  /** Deadline of one call on a server backend, connecting and retries included (ms). Default 1000; env DIGIS_REDIS_TIMEOUT_MS. */
  timeoutMs?: number
  /** Bound on opening a connection (ms); the script loads after it get one `timeoutMs` more. An attempt outlives the call that started it (the next call takes its connection). Default 1000; env DIGIS_REDIS_CONNECT_TIMEOUT_MS. */
  connectTimeoutMs?: number
  /** Extra attempts after a transport failure of an idempotent REST command. Default 2; env DIGIS_REDIS_RETRIES. */
  retries?: number
  /** Consecutive transport failures that open the circuit. Default 5; env DIGIS_REDIS_BREAKER_THRESHOLD. */
  breakerThreshold?: number
  /** How long an open circuit fails fast before one probe (ms). Default 1000; env DIGIS_REDIS_BREAKER_COOLDOWN_MS. */
  breakerCooldownMs?: number
  /**
   * Memory bound of the embedded store (bytes, estimated; 0: none). Past it, writes evict the
   * least recently used keys with a TTL, then the least recently used of all; a write that
   * cannot fit at all answers its fallback. Default 268435456 (256 MiB); env
   * DIGIS_REDIS_EMBEDDED_MAX_BYTES.
   */
  embeddedMaxBytes?: number
  /**
   * Moves every later call to a Redis Cluster with these seed nodes (`redis://` / `rediss://`
   * URLs, or one comma-separated string), like `REDIS_CLUSTER_URLS`. Meant for start-up: the
   * exported namespaces and `redis` follow, but functions taken out of a namespace and
   * middleware made before keep the previous backend.
   */
  cluster?: string[] | string
  /**
   * Serves `cache.get`/`mget`, `users.get`, `creators.get`/`getList`, `sessions.get` and
   * `tokens.getBalance` from process memory after the first read, kept fresh by the server's
   * invalidations (Redis, Cluster) or for at most `maxStalenessMs` (Upstash REST, where it is
   * required). Off by default; `false` turns it off; nothing to do on the embedded store.
   */
  nearCache?: boolean | NearCacheOptions
  /** Wrong guesses that destroy a one-time code. Default 5. */
  otpMaxAttempts?: number
  /** Seconds a viewer counts as present after their last viewerJoined(). Default 60. */
  viewerPresenceSeconds?: number
  /** Age (seconds, fractions allowed, 0.01 to 2592000) at which a creator read weighs half in `creators.popular`. Default 3600; every instance should use the same. */
  popularityHalfLifeSeconds?: number
}

/** Changes process-wide settings; returns the current feature settings. Throws a TypeError (`code: 'ERR_INVALID_ARGUMENT'`) for a bad option. */
export declare function configure(options?: ConfigureOptions): {
  strict: boolean
  logIntervalMs: number
  otpMaxAttempts: number
  viewerPresenceSeconds: number
  popularityHalfLifeSeconds: number
}

export type ErrorCode =
  | 'ERR_COMMAND'
  | 'ERR_UNSUPPORTED'
  | 'ERR_CONNECTION'
  | 'ERR_TIMEOUT'
  | 'ERR_PROTOCOL'
  | 'ERR_INTERNAL'
  | 'ERR_CIRCUIT_OPEN'
  /** The reason of a `withLock` signal aborted because the lock was lost. */
  | 'ERR_LOCK_LOST'

/** An operational failure, thrown in strict mode and by the raw client. */
export declare class DigisRedisError extends Error {
  readonly name: 'DigisRedisError'
  readonly code: ErrorCode
}

/** The session object express-session hands a store (`req.session` as JSON). */
export interface SessionData {
  cookie?: { expires?: string | Date | null; maxAge?: number | null; originalMaxAge?: number | null }
  [key: string]: unknown
}

export interface SessionStoreOptions {
  /** Key prefix; default `'session:'`, the `sessions.*` namespace, so `sessions.get(sid)` reads the same records. Non-empty. */
  prefix?: string
  /**
   * Seconds to keep a session whose cookie has no expiry (default TTL.DAY), or a function of the
   * session that decides for every session (it wins over the cookie). A TTL of 0 or less destroys
   * the session.
   */
  ttl?: number | ((session: SessionData) => number)
  /** Your `express-session` module, when this package cannot resolve it itself (pnpm, bundlers). */
  session?: { Store: abstract new (...args: any[]) => any }
  /**
   * connect-redis's: how records are written and read (sync or async). Default: the package's
   * JSON (the bytes `sessions.*` reads). `stringify` must give a string.
   */
  serializer?: { stringify(session: SessionData): string | Promise<string>; parse(text: string): SessionData | Promise<SessionData> }
  /** connect-redis's: store records without expiry (touch then does nothing). Default false. */
  disableTTL?: boolean
  /** connect-redis's: touch does nothing (express-session's rolling expiry off). Default false. */
  disableTouch?: boolean
  /** connect-redis's: keys per SCAN step of all/length/ids. Default 100. */
  scanCount?: number
}

/** express-session's callbacks; results typed `any` so express-session's own session type fits. */
type StoreCallback = (err: any, result?: any) => void

/**
 * express-session's store interface, in the manner of connect-redis: `app.use(session({ store:
 * new SessionStore(), secret, resave: false, saveUninitialized: false }))`. It is express-session's
 * own `Store` subclass when express-session can be resolved (else an EventEmitter). Records are
 * `<prefix><sid>` = `JSON.stringify(session)` with SETEX, TTL from `cookie.expires`, else `ttl`.
 *
 * Each method takes express-session's callback (an operational failure is `callback(err)`, after
 * one logged reason) and also returns a promise of the result that never rejects: on failure it
 * resolves with the fallback (`null`, `0`, `[]` or undefined); strict mode rejects when no
 * callback is given. Emits `'disconnect'` when the backend becomes unreachable (express-session
 * then serves requests without a session instead of failing them) and `'connect'` when a probe
 * (every second) finds it again. Its types extend Node's EventEmitter (@types/node).
 */
export declare class SessionStore extends EventEmitter {
  constructor(options?: SessionStoreOptions)
  readonly prefix: string
  readonly ttl: number | ((session: SessionData) => number)
  readonly serializer: SessionStoreOptions['serializer'] | null
  readonly disableTTL: boolean
  readonly disableTouch: boolean
  readonly scanCount: number
  /** The session, or null when there is none. */
  get(sid: string, callback?: StoreCallback): Promise<SessionData | null>
  /** `session`: any JSON-encodable object (express-session's session, or a SessionData). */
  set(sid: string, session: object, callback?: (err?: any) => void): Promise<void>
  /** Resets the expiry without rewriting the record. */
  touch(sid: string, session: object, callback?: (err?: any) => void): Promise<void>
  destroy(sid: string, callback?: (err?: any) => void): Promise<void>
  /** Every session under the prefix, each with its `id` (SCAN + MGET, never KEYS). */
  all(callback?: StoreCallback): Promise<Array<SessionData & { id: string }>>
  length(callback?: StoreCallback): Promise<number>
  ids(callback?: StoreCallback): Promise<string[]>
  /** Deletes every session under the prefix. */
  clear(callback?: (err?: any) => void): Promise<void>
  /** express-session's own (the class extends express-session's Store when it resolves). */
  regenerate(req: any, callback: (err?: any) => any): void
  load(sid: string, callback: (err: any, session?: any) => any): void
  createSession(req: any, session: any): any
}

export interface RateLimitStoreOptions {
  /** Key prefix; default `'rl:'` (rate-limit-redis's). Use one per limiter. */
  prefix?: string
  /** On a backend failure, answer a count over any limit (express-rate-limit sends 429) instead of failing open. Default false. */
  failClosed?: boolean
  /** rate-limit-redis's: every hit restarts the client's window. Default false. */
  resetExpiryOnChange?: boolean
}

/** express-rate-limit's `{ totalHits, resetTime }`. */
export interface ClientRateLimitInfo {
  totalHits: number
  resetTime: Date | undefined
}

/**
 * express-rate-limit's store interface (v7/v8): `rateLimit({ windowMs, limit, store: new
 * RateLimitStore() })`. A fixed window per client at `<prefix><key>`, counted by one atomic
 * script call per request and shared by every process on the backend. Never rejects: a failure
 * is logged once and fails open (`totalHits: 1`) or, with `failClosed`, closed; strict mode
 * rejects, and express-rate-limit's `passOnStoreError` decides.
 */
export declare class RateLimitStore {
  constructor(options?: RateLimitStoreOptions)
  readonly prefix: string
  readonly failClosed: boolean
  readonly resetExpiryOnChange: boolean
  /** Counters are shared across processes. */
  readonly localKeys: false
  /** Window in ms; express-rate-limit sets it through init(). Default 60000. */
  readonly windowMs: number
  /** Takes the limiter's `windowMs` (whole ms, 1 to 2^32-1); throws a TypeError otherwise. */
  init(options: { windowMs?: number; [key: string]: unknown }): void
  increment(key: string): Promise<ClientRateLimitInfo>
  /** Takes a hit back; never creates a counter. */
  /** Takes a hit back, never below zero. */
  decrement(key: string): Promise<void>
  /** The running window's count (0 after hits were taken back), or undefined when none runs. */
  get(key: string): Promise<ClientRateLimitInfo | undefined>
  resetKey(key: string): Promise<void>
  /** Deletes every counter under the prefix (SCAN, never KEYS); refused (logged) with an empty prefix. */
  resetAll(): Promise<void>
}
