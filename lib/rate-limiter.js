'use strict'

const { guarded } = require('./public-call')
const { toKey, toPositiveInteger, readOptionValues } = require('./codec')
const { invalidArgument } = require('./errors')
const { clientAddressKey, requestAddress } = require('./client-ip')
const { createCoalescer } = require('./coalescer')

/** Entries kept at most; past this, expired ones are dropped, then the oldest. */
const MAX_ENTRIES = 10000

/**
 * How long a block is answered from memory before the server is asked again: a
 * `rateLimiter.reset` in another process (which cannot reach this memory) lifts the block here
 * within this bound, while a blocked client hammering the limiter still costs at most one round
 * trip per second and per process.
 */
const MAX_LOCAL_BLOCK_MS = 1000

/**
 * Identifiers known to be blocked until a time: answered locally, without a round trip, until
 * then (at most MAX_LOCAL_BLOCK_MS at a time). Keyed by every parameter of the check, since a
 * block for one limit says nothing about another.
 */
class BlockCache {
  constructor(now = Date.now) {
    this.now = now
    this.entries = new Map()
  }

  static key(identifier, algorithm, limit, window, cost) {
    return `${identifier}\u0000${algorithm}\u0000${limit}\u0000${window}\u0000${cost}`
  }

  /** `{ until, resetAt }` (ms) while it may be answered from memory, else undefined. */
  get(key) {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.localUntil <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  set(key, until, resetAt) {
    if (this.entries.size >= MAX_ENTRIES) this.prune()
    this.entries.set(key, { until, resetAt, localUntil: Math.min(until, this.now() + MAX_LOCAL_BLOCK_MS) })
  }

  /** Forgets every block of `identifier` (after `rateLimiter.reset`). */
  forget(identifier) {
    const prefix = `${identifier}\u0000`
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key)
  }

  prune() {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.localUntil <= now) this.entries.delete(key)
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break
      this.entries.delete(key)
    }
  }
}

const ALGORITHM_NAMES = ['token-bucket', 'sliding-window', 'fixed-window']

/** The caller's number (or digit string) for a fallback answer, else the default. */
function numberOr(value, otherwise) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) ? n : otherwise
}

/** The contract's fail-open answer, or a block when the caller asked to fail closed. */
function fallbackResult(limit, window, failClosed) {
  const lim = numberOr(limit, 10)
  const win = numberOr(window, 60)
  return failClosed
    ? { allowed: false, remaining: 0, reset: win, limit: lim, retryAfter: win }
    : { allowed: true, remaining: lim, reset: win, limit: lim, retryAfter: 0 }
}

const OPTION_NAMES = ['failClosed', 'algorithm', 'cost']

/** `{ algorithm, cost, failClosed }` checked (cost is checked against the limit by the caller). */
function checkOptions({ algorithm = 'token-bucket', cost = 1, failClosed = false }) {
  if (!ALGORITHM_NAMES.includes(algorithm)) {
    throw invalidArgument(`algorithm must be one of ${ALGORITHM_NAMES.join(', ')}, got ${JSON.stringify(algorithm)}`)
  }
  if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
  return { algorithm, cost, failClosed }
}

function createRateLimiter(native, RateLimitAlgorithm) {
  const blocks = new BlockCache()
  // On a server backend the checks of one tick go down as one pipeline of scripts.
  const runOne = (args) => native.rateLimitCheck(...args)
  const checkScript =
    native.backend === 'embedded'
      ? runOne
      : createCoalescer(runOne, (items) =>
          native.rateLimitCheckMany(...[0, 1, 2, 3, 4].map((field) => items.map((args) => args[field]))),
        )
  const algorithmIds = {
    'token-bucket': RateLimitAlgorithm.TokenBucket,
    'sliding-window': RateLimitAlgorithm.SlidingWindow,
    'fixed-window': RateLimitAlgorithm.FixedWindow,
  }

  function check(identifier, limit = 10, window = 60, options = undefined) {
    // Options are read once, inside the guard; the fallback fails closed only when asked to.
    let failClosed = false
    return guarded(
      'rateLimiter.check',
      () => fallbackResult(limit, window, failClosed),
      async () => {
        const values = readOptionValues(options, OPTION_NAMES)
        failClosed = values.failClosed === true
        const { algorithm, cost: rawCost } = checkOptions(values)
        const id = toKey(identifier, 'identifier')
        const lim = toPositiveInteger(limit, 'limit')
        const win = toPositiveInteger(window, 'window')
        const cost = toPositiveInteger(rawCost, 'cost')
        if (cost > lim) throw invalidArgument(`cost (${cost}) must not exceed limit (${lim}): it could never be allowed`)
        const cacheKey = BlockCache.key(id, algorithm, lim, win, cost)
        const known = blocks.get(cacheKey)
        if (known) {
          const now = Date.now()
          return {
            allowed: false,
            remaining: 0,
            reset: Math.ceil(Math.max(0, known.resetAt - now) / 1000),
            limit: lim,
            retryAfter: Math.ceil((known.until - now) / 1000),
          }
        }
        const d = await checkScript([id, algorithmIds[algorithm], lim, win, cost])
        if (!d.allowed && d.retryAfterMs > 0) {
          const now = Date.now()
          blocks.set(cacheKey, now + d.retryAfterMs, now + d.resetMs)
        }
        return {
          allowed: d.allowed,
          remaining: d.remaining,
          reset: Math.ceil(d.resetMs / 1000),
          limit: lim,
          // A refusal always asks for at least a second, even in a window's last millisecond.
          retryAfter: d.allowed ? 0 : Math.max(1, Math.ceil(d.retryAfterMs / 1000)),
        }
      },
    )
  }

  const reset = (identifier) =>
    guarded('rateLimiter.reset', false, async () => {
      const id = toKey(identifier, 'identifier')
      blocks.forget(id)
      await native.rateLimitReset(id)
      return true
    })

  /**
   * Express middleware: one check per request, keyed by client address unless `key(req)` says
   * otherwise; IETF draft-7 `RateLimit` / `RateLimit-Policy` headers on every answer; 429 with
   * `Retry-After` and `{ error, retryAfter }` when blocked. Bad options throw at setup.
   */
  function middleware(options = {}) {
    const { limit = 10, window = 60, key, algorithm = 'token-bucket', failClosed = false, cost = 1 } = options ?? {}
    toPositiveInteger(limit, 'limit')
    toPositiveInteger(window, 'window')
    checkOptions({ algorithm, failClosed, cost })
    if (key !== undefined && typeof key !== 'function') throw invalidArgument('key must be a function (req) => string')
    const policy = `${limit};w=${window}`
    return async function digisRateLimit(req, res, next) {
      let result
      try {
        const identifier = key ? await key(req) : `ip:${clientAddressKey(requestAddress(req))}`
        result = await check(identifier, limit, window, { algorithm, failClosed, cost })
      } catch (err) {
        // Only a throwing `key` (or strict mode) lands here: hand it to Express's error handling.
        return next(err)
      }
      res.setHeader('RateLimit-Policy', policy)
      res.setHeader('RateLimit', `limit=${result.limit}, remaining=${result.remaining}, reset=${result.reset}`)
      if (result.allowed) return next()
      res.statusCode = 429
      res.setHeader('Retry-After', String(result.retryAfter))
      res.setHeader('Content-Type', 'application/json; charset=utf-8')
      res.end(JSON.stringify({ error: 'Too many requests', retryAfter: result.retryAfter }))
    }
  }

  return { check, reset, middleware }
}

module.exports = { createRateLimiter, ALGORITHM_NAMES }
