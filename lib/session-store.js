'use strict'

const { EventEmitter } = require('node:events')
const { guarded } = require('./public-call')
const { MAX_TTL_SECONDS, toKey, encodeValue, decodeValue, describe } = require('./codec')
const { invalidArgument, refuseUnknownOptions } = require('./errors')

/** Failures that mean the backend is unreachable (not a bad reply): express-session bypasses. */
const OUTAGE_CODES = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_CIRCUIT_OPEN'])
/** How often a disconnected store asks the backend whether it is back. */
const PROBE_INTERVAL_MS = 1000
/** Keys per MGET when listing every session. */
const MGET_CHUNK = 500
/** connect-redis's default SCAN COUNT. */
const DEFAULT_SCAN_COUNT = 100
/** What the constructor takes: connect-redis's options (but `client`), and express-session's module. */
const OPTIONS = ['prefix', 'ttl', 'serializer', 'disableTouch', 'disableTTL', 'scanCount', 'session']
/** Peer options that have no meaning here, with why. */
const PEER_OPTIONS = {
  client: 'not needed: the store uses the backend this package is configured with',
}

/**
 * `callback(err)` or `callback(null, value)`. A throwing callback is the caller's bug: an
 * uncaught exception, as from any callback API, not an unhandled rejection of a promise nobody
 * holds.
 */
function deliver(callback, err, value) {
  try {
    if (err) callback(err)
    else callback(null, value)
  } catch (thrown) {
    process.nextTick(() => {
      throw thrown
    })
  }
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
function createSessionStoreClass({ native, readRaw, expireRaw, binding, TTL }) {
  const { Namespace } = binding
  const { SESSION_STORE_PREFIX } = JSON.parse(binding.keyNamesJson())
  let parented = false

  class SessionStore extends EventEmitter {
    /**
     * connect-redis's options (see index.d.ts), with this package's prefix default.
     * @param {object} [options]
     */
    constructor(options = {}) {
      if (options === null || typeof options !== 'object') throw invalidArgument('SessionStore takes an options object')
      refuseUnknownOptions('SessionStore', options, OPTIONS, PEER_OPTIONS)
      const {
        prefix = SESSION_STORE_PREFIX,
        ttl = TTL.DAY,
        session,
        serializer = null,
        disableTouch = false,
        disableTTL = false,
        scanCount = DEFAULT_SCAN_COUNT,
      } = options
      if (!parented) {
        const Store = findExpressSessionStore(session)
        if (Store && !(SessionStore.prototype instanceof Store)) {
          Object.setPrototypeOf(SessionStore.prototype, Store.prototype)
          Object.setPrototypeOf(SessionStore, Store)
        }
        parented = true
      }
      super()
      if (typeof prefix !== 'string' || prefix.length === 0) {
        // An empty prefix would make clear() delete every key of the database.
        throw invalidArgument(`prefix must be a non-empty string, got ${describe(prefix)}`)
      }
      if (typeof ttl !== 'function' && !(Number.isInteger(ttl) && ttl >= 1 && ttl <= MAX_TTL_SECONDS)) {
        throw invalidArgument(`ttl must be whole seconds from 1 to ${MAX_TTL_SECONDS} or a function (session) => seconds, got ${describe(ttl)}`)
      }
      if (serializer !== null && !(typeof serializer === 'object' && typeof serializer.parse === 'function' && typeof serializer.stringify === 'function')) {
        throw invalidArgument(`serializer must be an object with parse and stringify functions, got ${describe(serializer)}`)
      }
      if (typeof disableTouch !== 'boolean') throw invalidArgument(`disableTouch must be a boolean, got ${describe(disableTouch)}`)
      if (typeof disableTTL !== 'boolean') throw invalidArgument(`disableTTL must be a boolean, got ${describe(disableTTL)}`)
      if (!(Number.isInteger(scanCount) && scanCount >= 1)) throw invalidArgument(`scanCount must be a whole number from 1, got ${describe(scanCount)}`)
      this.prefix = prefix
      this.ttl = ttl
      this.serializer = serializer
      this.disableTouch = disableTouch
      this.disableTTL = disableTTL
      this.scanCount = scanCount
    }

    #connected = true
    #probe = null

    /** `callback(err, session | null)`; also returns a promise of the session (null on failure). */
    get(sid, callback) {
      // Through the features' per-tick read batch: many sessions read in one tick are one round trip.
      return this.#run('SessionStore.get', null, callback, () => readRaw(this.#key(sid)).then(this.#parse))
    }

    /**
     * Stores `sess` for its cookie's remaining life (else `ttl`), without expiry under
     * `disableTTL`; a life of 0 or less destroys it (as connect-redis, even under disableTTL).
     */
    set(sid, sess, callback) {
      return this.#run('SessionStore.set', undefined, callback, async () => {
        const key = this.#key(sid)
        const ttl = this.#ttlOf(sess)
        if (ttl <= 0) return void (await native.del(Namespace.Raw, key))
        const text = await this.#stringify(sess)
        await native.set(Namespace.Raw, key, text, this.disableTTL ? null : Math.min(ttl, MAX_TTL_SECONDS))
      })
    }

    /** Resets the expiry as set() would, without rewriting the record (nothing under disableTouch or disableTTL). */
    touch(sid, sess, callback) {
      return this.#run('SessionStore.touch', undefined, callback, async () => {
        if (this.disableTouch || this.disableTTL) return
        const key = this.#key(sid)
        const ttl = this.#ttlOf(sess)
        if (ttl <= 0) await native.del(Namespace.Raw, key)
        // Through the per-tick batch of expiries, like get's reads.
        else await expireRaw(key, Math.min(ttl, MAX_TTL_SECONDS))
      })
    }

    destroy(sid, callback) {
      return this.#run('SessionStore.destroy', undefined, callback, async () => {
        await native.del(Namespace.Raw, this.#key(sid))
      })
    }

    /** Every session under the prefix, each with its `id` (an incremental SCAN, then MGET). */
    all(callback) {
      return this.#run('SessionStore.all', () => [], callback, async () => {
        const keys = await this.#keys()
        const sessions = []
        for (let i = 0; i < keys.length; i += MGET_CHUNK) {
          const chunk = keys.slice(i, i + MGET_CHUNK)
          const texts = await native.mget(chunk)
          const parsed = await Promise.all(texts.map((text) => this.#parse(text)))
          parsed.forEach((sess, j) => {
            // Gone between SCAN and MGET, or not a session object: skip it.
            if (sess !== null && typeof sess === 'object' && !Array.isArray(sess)) {
              sessions.push({ ...sess, id: chunk[j].slice(this.prefix.length) })
            }
          })
        }
        return sessions
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
      return binding.prefixedKey(this.prefix, toKey(sid, 'sid'))
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

    /** A session as its record: the serializer's stringify (sync or async), else the package's JSON. */
    async #stringify(sess) {
      if (!this.serializer) return encodeValue(sess)
      const text = await this.serializer.stringify(sess)
      if (typeof text !== 'string') throw invalidArgument(`serializer.stringify returned ${describe(text)}, not a string`)
      return text
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
      let failure = null
      const failed = (err) => {
        failure = err
        return typeof fallback === 'function' ? fallback() : fallback
      }
      const withCallback = typeof callback === 'function'
      return guarded(operation, failed, work).then(
        (value) => {
          this.#noteOutcome(failure)
          return withCallback ? deliver(callback, failure, value) : value
        },
        (err) => {
          // Strict mode: the guard rethrew the typed error.
          this.#noteOutcome(err)
          if (!withCallback) throw err
          deliver(callback, err, undefined)
        },
      )
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
      this.#probe = setInterval(async () => {
        const { ok } = await native.health()
        if (ok && !this.#connected) this.#markConnected()
      }, PROBE_INTERVAL_MS)
      // The probe never keeps the process alive.
      this.#probe.unref()
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

module.exports = { createSessionStoreClass, findExpressSessionStore }
