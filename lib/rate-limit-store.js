'use strict'

const { guarded } = require('./public-call')
const { toKey, describe } = require('./codec')
const { invalidArgument, refuseUnknownOptions } = require('./errors')

/** express-rate-limit's default window, used until init() gives the limiter's own. */
const DEFAULT_WINDOW_MS = 60_000
/** The binding takes the window as u32 milliseconds (about 49 days). */
const MAX_WINDOW_MS = 0xffffffff
/** A count no limit reaches: what a failing-closed store answers. */
const OVER_ANY_LIMIT = Number.MAX_SAFE_INTEGER
/** What the constructor takes: rate-limit-redis's options (but `sendCommand`), and failClosed. */
const OPTIONS = ['prefix', 'resetExpiryOnChange', 'failClosed']
/** Peer options that have no meaning here, with why. */
const PEER_OPTIONS = {
  sendCommand: 'not needed: the store uses the backend this package is configured with',
  client: 'not needed: the store uses the backend this package is configured with',
}

/**
 * `RateLimitStore`: express-rate-limit's store interface (v7/v8) over the selected backend. A
 * fixed window per client: each increment is one atomic script call (INCRBY, and the window's
 * expiry on the first hit), the calls of one tick sent in one round trip, shared by every
 * process on the same backend.
 * Counters are plain integers at `<prefix><key>` (rate-limit-redis's layout, prefix `rl:`).
 * Taking a hit back stops at zero, and a window at zero hits still runs (get reads 0), as
 * express-rate-limit's MemoryStore; a counter found without an expiry starts a new window.
 *
 * On a failure it answers like rateLimiter.check: one logged reason and fail open (this request
 * counts as the client's first hit), or with `failClosed: true` a count over any limit, so
 * express-rate-limit answers 429. Strict mode throws instead, and express-rate-limit's own
 * `passOnStoreError` decides.
 */
/** A counter as express-rate-limit's `{ totalHits, resetTime }`. */
function clientInfo({ hits, resetMs }) {
  // {0, 0} means no window is running; a window at zero hits has time left.
  const running = hits > 0 || resetMs > 0
  return { totalHits: hits, resetTime: running ? new Date(Date.now() + resetMs) : undefined }
}

function createRateLimitStoreClass({ native, windowHits, binding }) {
  const { Namespace } = binding
  const { RATE_LIMIT_STORE_PREFIX } = JSON.parse(binding.keyNamesJson())
  return class RateLimitStore {
    /** @param {{ prefix?: string, resetExpiryOnChange?: boolean, failClosed?: boolean }} [options] */
    constructor(options = {}) {
      if (options === null || typeof options !== 'object') throw invalidArgument('RateLimitStore takes an options object')
      refuseUnknownOptions('RateLimitStore', options, OPTIONS, PEER_OPTIONS)
      const { prefix = RATE_LIMIT_STORE_PREFIX, resetExpiryOnChange = false, failClosed = false } = options
      if (typeof prefix !== 'string') throw invalidArgument(`prefix must be a string, got ${describe(prefix)}`)
      if (typeof resetExpiryOnChange !== 'boolean') throw invalidArgument('resetExpiryOnChange must be a boolean')
      if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
      this.prefix = prefix
      this.resetExpiryOnChange = resetExpiryOnChange
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
      return guarded('RateLimitStore.increment', failed, () => this.#change(key, 1))
    }

    /** Takes a hit back (skipSuccessfulRequests / skipFailedRequests), never below zero; never creates a counter. */
    decrement(key) {
      return guarded('RateLimitStore.decrement', undefined, async () => {
        await this.#change(key, -1)
      })
    }

    /** `{ totalHits, resetTime }` of a running window (totalHits may be 0), else undefined. */
    get(key) {
      return guarded('RateLimitStore.get', undefined, async () => {
        const info = await this.#change(key, 0)
        return info.resetTime ? info : undefined
      })
    }

    resetKey(key) {
      return guarded('RateLimitStore.resetKey', undefined, async () => {
        await native.del(Namespace.Raw, this.#key(key))
      })
    }

    /**
     * Deletes every counter under the prefix (SCAN + DEL, never KEYS). Refused with an empty
     * prefix, where it would delete every key of the database.
     */
    resetAll() {
      return guarded('RateLimitStore.resetAll', undefined, async () => {
        if (this.prefix === '') throw invalidArgument('resetAll needs a non-empty prefix: it would delete every key')
        await native.delPattern(binding.prefixPattern(this.prefix))
      })
    }

    #key(key) {
      return binding.prefixedKey(this.prefix, toKey(key, 'key'))
    }

    /** Through the per-tick batch of counter changes: still one atomic script call each. */
    #change(key, change) {
      return windowHits(this.#key(key), this.windowMs, change, this.resetExpiryOnChange).then(clientInfo)
    }
  }
}

module.exports = { createRateLimitStoreClass }
