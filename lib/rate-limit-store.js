'use strict'

const { guarded } = require('./guard')
const { toKey, describe } = require('./codec')
const { invalidArgument } = require('./errors')

/** express-rate-limit's default window, used until init() gives the limiter's own. */
const DEFAULT_WINDOW_MS = 60_000
/** The binding takes the window as u32 milliseconds (about 49 days). */
const MAX_WINDOW_MS = 0xffffffff
/** A count no limit reaches: what a failing-closed store answers. */
const OVER_ANY_LIMIT = Number.MAX_SAFE_INTEGER

/**
 * `RateLimitStore`: express-rate-limit's store interface (v7/v8) over the selected backend. A
 * fixed window per client: each increment is one atomic script call (INCRBY, and the window's
 * expiry on the first hit), one round trip, shared by every process on the same backend.
 * Counters are plain integers at `<prefix><key>` (rate-limit-redis's layout, prefix `rl:`).
 *
 * On a failure it answers like rateLimiter.check: one logged reason and fail open (this request
 * counts as the client's first hit), or with `failClosed: true` a count over any limit, so
 * express-rate-limit answers 429. Strict mode throws instead, and express-rate-limit's own
 * `passOnStoreError` decides.
 */
function createRateLimitStoreClass({ native, Namespace }) {
  return class RateLimitStore {
    /** @param {{ prefix?: string, failClosed?: boolean }} [options] */
    constructor(options = {}) {
      if (options === null || typeof options !== 'object') throw invalidArgument('RateLimitStore takes an options object')
      const { prefix = 'rl:', failClosed = false } = options
      if (typeof prefix !== 'string') throw invalidArgument(`prefix must be a string, got ${describe(prefix)}`)
      if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
      this.prefix = prefix
      this.failClosed = failClosed
      this.windowMs = DEFAULT_WINDOW_MS
      // Counters live on a shared backend, not in this process.
      this.localKeys = false
    }

    /** Called by express-rate-limit with the limiter's options; takes its `windowMs`. */
    init(options) {
      const windowMs = options && options.windowMs
      if (windowMs === undefined) return
      if (!Number.isInteger(windowMs) || windowMs < 1 || windowMs > MAX_WINDOW_MS) {
        throw invalidArgument(`windowMs must be whole milliseconds from 1 to ${MAX_WINDOW_MS}, got ${describe(windowMs)}`)
      }
      this.windowMs = windowMs
    }

    /** Counts a hit: `{ totalHits, resetTime }`. */
    increment(key) {
      const failed = () => ({
        totalHits: this.failClosed ? OVER_ANY_LIMIT : 1,
        resetTime: new Date(Date.now() + this.windowMs),
      })
      return guarded('RateLimitStore.increment', failed, async () => this.#change(key, 1))
    }

    /** Takes a hit back (skipSuccessfulRequests / skipFailedRequests); never creates a counter. */
    decrement(key) {
      return guarded('RateLimitStore.decrement', undefined, async () => {
        await this.#change(key, -1)
      })
    }

    /** `{ totalHits, resetTime }` of a running window, else undefined. */
    get(key) {
      return guarded('RateLimitStore.get', undefined, async () => {
        const info = await this.#change(key, 0)
        return info.totalHits > 0 ? info : undefined
      })
    }

    resetKey(key) {
      return guarded('RateLimitStore.resetKey', undefined, async () => {
        await native.del(Namespace.Raw, this.#key(key))
      })
    }

    #key(key) {
      return `${this.prefix}${toKey(key, 'key')}`
    }

    async #change(key, change) {
      const { hits, resetMs } = await native.windowHits(this.#key(key), this.windowMs, change)
      return { totalHits: hits, resetTime: hits > 0 ? new Date(Date.now() + resetMs) : undefined }
    }
  }
}

module.exports = { createRateLimitStoreClass }
