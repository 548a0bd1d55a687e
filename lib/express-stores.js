'use strict'

// The express adapters: `SessionStore` for express-session, `RateLimitStore` for express-rate-limit.

const { EventEmitter } = require('node:events')
const { guarded, guardedSend, guardCall, sendingPromise, same } = require('./public-call')
const { MAX_TTL_SECONDS, toKey, encodeValue, decodeValue, describe } = require('./codec')
const binding = require('../binding')
const { invalidArgument, throwUncaught } = require('./errors')

/** Failures that mean the backend is unreachable (not a bad reply): express-session bypasses. */
const OUTAGE_CODES = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN'])
/** How often a disconnected store asks the backend whether it is back. */
const PROBE_INTERVAL_MS = 1000
/** connect-redis's default SCAN COUNT. */
const DEFAULT_SCAN_COUNT = 100
/** express-rate-limit's default window, used until init() gives the limiter's own. */
const DEFAULT_WINDOW_MS = 60_000
/** The binding takes the window as u32 milliseconds (about 49 days). */
const MAX_WINDOW_MS = 0xffffffff
/** A count no limit reaches: what a failing-closed store answers. */
const OVER_ANY_LIMIT = Number.MAX_SAFE_INTEGER

/**
 * A store record's key: `<prefix><id>`, connect-redis's and rate-limit-redis's layout (ids()
 * and all() strip the prefix by the same layout). The one key the JS layer joins itself: a napi
 * call per store call to join two strings cost about a sixth of the call's CPU (BENCHMARKS.md).
 */
const recordKey = (prefix, id) => prefix + id

const nothing = () => undefined
const isThenable = (value) => value !== null && (typeof value === 'object' || typeof value === 'function') && typeof value.then === 'function'

/** A serializer's stringify answer, refused unless it is a string. */
function recordText(text) {
  if (typeof text !== 'string') throw invalidArgument(`serializer.stringify returned ${describe(text)}, not a string`)
  return text
}

/**
 * Refuses a constructor's options that are not an object, or not all known: the core names every
 * unknown one (a misspelt option silently ignored is a bug found in production) and explains the
 * peers' connection options (crates/core/src/express_options.rs).
 */
function checkOptions(owner, options) {
  if (options === null || typeof options !== 'object') throw invalidArgument(`${owner} takes an options object`)
  const refused = binding.refusedOptions(owner, Object.keys(options))
  if (refused) throw invalidArgument(refused)
}

/** `callback(err)` or `callback(null, value)`; a throwing callback is the caller's bug (throwUncaught). */
function deliver(callback, err, value) {
  try {
    if (err) callback(err)
    else callback(null, value)
  } catch (thrown) {
    throwUncaught(thrown)
  }
}

/** Refuses an option that is not `what`. */
function must(ok, name, what, value) {
  if (!ok) throw invalidArgument(`${name} must be ${what}, got ${describe(value)}`)
}

/**
 * express-session's Store class, when the application has express-session: from the module the
 * caller passed (`{ session }`, as connect-redis up to v6 took it), else resolved from this
 * package, else from the working directory. null when there is none.
 */
function findExpressSessionStore(sessionModule) {
  if (sessionModule && typeof sessionModule.Store === 'function') return sessionModule.Store
  for (const paths of [undefined, [process.cwd()]]) {
    try {
      const resolved = require.resolve('express-session', paths ? { paths } : undefined)
      return require(resolved).Store
    } catch {
      // Not installed where we looked.
    }
  }
  return null
}

/**
 * `SessionStore`: express-session's store interface over the selected backend, in the manner of
 * connect-redis. It is declared over EventEmitter and, on first construction, re-parented onto
 * express-session's own Store (itself an EventEmitter) when the application has it, so
 * express-session's regenerate/load/createSession are the real ones and `instanceof Store`
 * holds, without making express-session a dependency of this package. Records are the exact
 * bytes `sessions.store` writes: with the default prefix, `sessions.get(sid)` reads them.
 */
function createSessionStoreClass({ native, sendRaw, sendExpireRaw, TTL }) {
  const { Namespace } = binding
  const { SESSION_STORE_PREFIX } = JSON.parse(binding.keyNamesJson())
  let parented = false

  class SessionStore extends EventEmitter {
    /**
     * connect-redis's options (see index.d.ts), with this package's prefix default.
     * @param {object} [options]
     */
    constructor(options = {}) {
      checkOptions('SessionStore', options)
      const { prefix = SESSION_STORE_PREFIX, ttl = TTL.DAY, session, serializer = null, disableTouch = false, disableTTL = false } = options
      const { scanCount = DEFAULT_SCAN_COUNT } = options
      if (!parented) {
        const Store = findExpressSessionStore(session)
        if (Store && !(SessionStore.prototype instanceof Store)) {
          Object.setPrototypeOf(SessionStore.prototype, Store.prototype)
          Object.setPrototypeOf(SessionStore, Store)
        }
        parented = true
      }
      super()
      // An empty prefix would make clear() delete every key of the database.
      must(typeof prefix === 'string' && prefix.length > 0, 'prefix', 'a non-empty string', prefix)
      const ttlOk = typeof ttl === 'function' || (Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS)
      must(ttlOk, 'ttl', `whole seconds from 1 to ${MAX_TTL_SECONDS} or a function (session) => seconds`, ttl)
      const serializerOk = serializer === null || (typeof serializer === 'object' && typeof serializer.parse === 'function' && typeof serializer.stringify === 'function')
      must(serializerOk, 'serializer', 'an object with parse and stringify functions', serializer)
      must(typeof disableTouch === 'boolean', 'disableTouch', 'a boolean', disableTouch)
      must(typeof disableTTL === 'boolean', 'disableTTL', 'a boolean', disableTTL)
      must(Number.isInteger(scanCount) && scanCount >= 1, 'scanCount', 'a whole number from 1', scanCount)
      Object.assign(this, { prefix, ttl, serializer, disableTouch, disableTTL, scanCount })
    }

    #connected = true
    #probe = null

    /** `callback(err, session | null)`; also returns a promise of the session (null on failure). */
    get(sid, callback) {
      // Through the features' per-tick read batch: many sessions read in one tick are one round trip.
      const read = (onValue, onError) => sendRaw(this.#key(sid), onValue, onError)
      // A serializer's parse may answer a promise: that goes through the promise form.
      if (this.serializer) return this.#run('SessionStore.get', null, callback, () => new Promise(read).then(this.#parse))
      return this.#guard('SessionStore.get', null, callback, read, decodeValue)
    }

    /**
     * Stores `sess` for its cookie's remaining life (else `ttl`), without expiry under
     * `disableTTL`; a life of 0 or less destroys it (as connect-redis, even under disableTTL).
     */
    set(sid, sess, callback) {
      const write = () => {
        const { key, seconds } = this.#lifeOf(sid, sess)
        if (seconds === 0) return native.del(Namespace.Raw, key)
        const store = (text) => native.set(Namespace.Raw, key, text, this.disableTTL ? null : seconds)
        // Issued now unless the serializer answers a promise: a get() right after reads this write.
        const text = this.#stringify(sess)
        return typeof text === 'string' ? store(text) : text.then(store)
      }
      return this.#guard('SessionStore.set', undefined, callback, sendingPromise(write), nothing)
    }

    /** Resets the expiry as set() would, without rewriting the record (nothing under disableTouch or disableTTL). */
    touch(sid, sess, callback) {
      const expire = (onValue, onError) => {
        if (this.disableTouch || this.disableTTL) return onValue()
        const { key, seconds } = this.#lifeOf(sid, sess)
        if (seconds === 0) return sendingPromise(() => native.del(Namespace.Raw, key))(onValue, onError)
        // Through the per-tick batch of expiries, like get's reads.
        sendExpireRaw(key, seconds, onValue, onError)
      }
      return this.#guard('SessionStore.touch', undefined, callback, expire, nothing)
    }

    destroy(sid, callback) {
      return this.#run('SessionStore.destroy', undefined, callback, async () => {
        await native.del(Namespace.Raw, this.#key(sid))
      })
    }

    /** Every session under the prefix, each with its `id` (an incremental SCAN, then MGETs). */
    all(callback) {
      return this.#run('SessionStore.all', () => [], callback, async () => {
        const { keys, values } = await native.scanValues(binding.prefixPattern(this.prefix), this.scanCount)
        const sessions = await Promise.all(values.map(this.#parse))
        // Gone between SCAN and MGET, or not a session object: skip it.
        const isSession = (sess) => sess !== null && typeof sess === 'object' && !Array.isArray(sess)
        return sessions.flatMap((sess, i) => (isSession(sess) ? [{ ...sess, id: keys[i].slice(this.prefix.length) }] : []))
      })
    }

    length(callback) {
      return this.#run('SessionStore.length', 0, callback, async () => (await this.#keys()).length)
    }

    /** The session ids under the prefix. */
    ids(callback) {
      return this.#run('SessionStore.ids', () => [], callback, async () =>
        (await this.#keys()).map((key) => key.slice(this.prefix.length)),
      )
    }

    /** Deletes every session under the prefix (SCAN + DEL, never KEYS). */
    clear(callback) {
      return this.#run('SessionStore.clear', undefined, callback, async () => {
        await native.delPattern(binding.prefixPattern(this.prefix))
      })
    }

    #key(sid) {
      return recordKey(this.prefix, toKey(sid, 'sid'))
    }

    #keys() {
      return native.scanKeys(binding.prefixPattern(this.prefix), this.scanCount)
    }

    /**
     * A stored record as a session: the serializer's parse (sync or async: the promise is
     * awaited by the caller's chain), else the package's reading.
     */
    #parse = (text) => {
      if (text === null) return null
      return this.serializer ? this.serializer.parse(text) : decodeValue(text)
    }

    /**
     * A session as its record: the package's JSON, or the serializer's stringify, a string or
     * (when it answers a promise) a promise of one.
     */
    #stringify(sess) {
      if (!this.serializer) return encodeValue(sess)
      const text = this.serializer.stringify(sess)
      return isThenable(text) ? Promise.resolve(text).then(recordText) : recordText(text)
    }

    /** The record's key, and its life in seconds: 0 for none left (set and touch then delete it). */
    #lifeOf(sid, sess) {
      const key = this.#key(sid)
      const ttl = this.#ttlOf(sess)
      return { key, seconds: ttl <= 0 ? 0 : Math.min(ttl, MAX_TTL_SECONDS) }
    }

    /** Seconds to keep `sess`: `ttl(sess)` when ttl is a function, else the cookie's, else `ttl`. */
    #ttlOf(sess) {
      if (typeof this.ttl === 'function') {
        const ttl = this.ttl(sess)
        if (typeof ttl !== 'number' || Number.isNaN(ttl)) throw invalidArgument(`the ttl function returned ${describe(ttl)}`)
        return Math.ceil(ttl)
      }
      const expires = sess && sess.cookie && sess.cookie.expires
      const ms = expires ? new Date(expires).getTime() - Date.now() : NaN
      return Number.isNaN(ms) ? this.ttl : Math.ceil(ms / 1000)
    }

    /**
     * One operation through the guard (one logged reason on failure), delivered to `callback` as
     * express-session expects (`callback(err)` on failure) and as a promise that resolves with the
     * result, or the fallback on failure (rejects only in strict mode without a callback).
     */
    #run(operation, fallback, callback, work) {
      return this.#guard(operation, fallback, callback, sendingPromise(work), same)
    }

    /** #run in the guard's callback form (public-call.js guardCall): `send(onValue, onError)`, then `finish(answer)`. */
    #guard(operation, fallback, callback, send, finish) {
      let failure = null
      const failed = (err) => {
        failure = err
        return typeof fallback === 'function' ? fallback() : fallback
      }
      const withCallback = typeof callback === 'function'
      return new Promise((resolve, reject) => {
        let issuing = true
        // `rethrown`: strict mode's typed error, from the guard; otherwise a failure is the fallback.
        const respond = (err, value, rethrown) => {
          try {
            this.#noteOutcome(err)
          } catch (thrown) {
            // A throwing 'disconnect'/'connect' listener: the caller still gets its answer.
            throwUncaught(thrown)
          }
          if (rethrown && !withCallback) return reject(err)
          resolve(withCallback ? deliver(callback, err, value) : value)
        }
        // A callback runs after the store method returned, as connect-redis's and MemoryStore's
        // do, even when the answer came at once (bad input, the embedded store).
        const answer = (err, value, rethrown) => {
          if (issuing) queueMicrotask(() => respond(err, value, rethrown))
          else respond(err, value, rethrown)
        }
        guardCall(operation, failed, send, finish, (value) => answer(failure, value, false), (err) => answer(err, undefined, true))
        issuing = false
      })
    }

    /**
     * Emits 'disconnect' on the first outage (express-session then bypasses the store) and
     * 'connect' once a probe finds the backend again.
     */
    #noteOutcome(err) {
      if (err && OUTAGE_CODES.has(err.code)) {
        if (!this.#connected) return
        this.#connected = false
        this.emit('disconnect')
        this.#startProbe()
      } else if (!err && !this.#connected) {
        this.#markConnected()
      }
    }

    #startProbe() {
      if (this.#probe) return
      // The probe never keeps the process alive.
      this.#probe = setInterval(async () => {
        const { ok } = await native.health()
        if (ok && !this.#connected) this.#markConnected()
      }, PROBE_INTERVAL_MS).unref()
    }

    #markConnected() {
      clearInterval(this.#probe)
      this.#probe = null
      this.#connected = true
      this.emit('connect')
    }
  }

  return SessionStore
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

function createRateLimitStoreClass({ native, sendWindowHits }) {
  const { Namespace } = binding
  const { RATE_LIMIT_STORE_PREFIX } = JSON.parse(binding.keyNamesJson())
  return class RateLimitStore {
    /** @param {{ prefix?: string, resetExpiryOnChange?: boolean, failClosed?: boolean }} [options] */
    constructor(options = {}) {
      checkOptions('RateLimitStore', options)
      const { prefix = RATE_LIMIT_STORE_PREFIX, resetExpiryOnChange = false, failClosed = false } = options
      must(typeof prefix === 'string', 'prefix', 'a string', prefix)
      if (typeof resetExpiryOnChange !== 'boolean') throw invalidArgument('resetExpiryOnChange must be a boolean')
      if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
      // localKeys: counters live on a shared backend, not in this process.
      Object.assign(this, { prefix, resetExpiryOnChange, failClosed, windowMs: DEFAULT_WINDOW_MS, localKeys: false })
    }

    /** Called by express-rate-limit with the limiter's options; takes its `windowMs`. */
    init(options) {
      const windowMs = options && options.windowMs
      if (windowMs === undefined) return
      must(Number.isInteger(windowMs) && windowMs >= 1 && windowMs <= MAX_WINDOW_MS, 'windowMs', `whole milliseconds from 1 to ${MAX_WINDOW_MS}`, windowMs)
      this.windowMs = windowMs
    }

    /** Counts a hit: `{ totalHits, resetTime }`. */
    increment(key) {
      const failed = () => ({
        totalHits: this.failClosed ? OVER_ANY_LIMIT : 1,
        resetTime: new Date(Date.now() + this.windowMs),
      })
      return guardedSend('RateLimitStore.increment', failed, this.#change(key, 1), clientInfo)
    }

    /** Takes a hit back (skipSuccessfulRequests / skipFailedRequests), never below zero; never creates a counter. */
    decrement(key) {
      return guardedSend('RateLimitStore.decrement', undefined, this.#change(key, -1), nothing)
    }

    /** `{ totalHits, resetTime }` of a running window (totalHits may be 0), else undefined. */
    get(key) {
      return guardedSend('RateLimitStore.get', undefined, this.#change(key, 0), (counter) => {
        const info = clientInfo(counter)
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
      return recordKey(this.prefix, toKey(key, 'key'))
    }

    /** The counter change for the guard (`send(onValue, onError)`), through the per-tick batch: still one atomic script call each. */
    #change(key, change) {
      return (onValue, onError) => sendWindowHits(this.#key(key), this.windowMs, change, this.resetExpiryOnChange, onValue, onError)
    }
  }
}

module.exports = { createSessionStoreClass, createRateLimitStoreClass, findExpressSessionStore }
