'use strict'

const { guarded, guardedSend, guardedNow, trueWhenDone, same } = require('./public-call')
const { toKey, encodeValue, decodeValue, encodeBalance, decodeBalance, toTtl, toSeconds, toPositiveInteger, describe, wellFormed, readOptionValues } = require('./codec')
const { invalidArgument } = require('./errors')
const { createRateLimiter } = require('./rate-limiter')
const { settings } = require('./settings')
const { createCoalescer } = require('./coalescer')
const { readMany, writeMany, expireMany, windowHitsMany } = require('./packed')
const { createCacheWrap } = require('./cache-wrap')
const { createLocks } = require('./locks')
const { createIdempotency } = require('./idempotency')

const CREATOR_STATUSES = ['online', 'busy', 'away', 'offline']

/**
 * The contract's namespaces over one native client, plus the design document's additions.
 * Parameter lists (names, defaults and so `fn.length`) follow the original module; each call
 * answers its contract fallback on failure.
 */
function createFeatures(native, binding, TTL) {
  const { Namespace } = binding
  // Whether the near cache is on (configure({ nearCache })): reads ask it first, and writes
  // held for the next batch drop their entries at once (crates/core/src/near_cache).
  let nearOn = false
  const forgetNear = (ns, id) => {
    if (nearOn) native.nearForget(ns, id)
  }
  // The embedded store answers at once on the calling thread; server backends gather the reads
  // and writes of one tick into one pipeline.
  const embedded = native.backend === 'embedded'
  // The embedded store's reads and writes are synchronous; free functions over a handle skip
  // the per-method bookkeeping napi-rs does for `this`.
  const embeddedHandle = embedded ? native.embeddedHandle : null
  const readNow = (ns, id) => binding.embeddedGet(embeddedHandle, ns, id)
  const read = embedded ? answeredNow(([ns, id]) => readNow(ns, id)) : createCoalescer(([ns, id, fill]) => native.get(ns, id, fill), (items) => readMany(native, items))
  const batchedWrite = embedded
    ? null
    : createCoalescer(
        ([ns, id, value, ttl]) => native.set(ns, id, value, ttl),
        (items) => writeMany(native, items).then((errors) => ({ values: [], errors })),
      )
  const sendWrite = forgettingNear(batchedWrite, (item) => forgetNear(item[0], item[1]))

  /**
   * A call gathered per tick into one batch on a server backend; on the embedded store, whose
   * calls answer at once, `runNow`'s answer (by default `runOne`'s): as a promise, or through
   * `send`'s callbacks before it returns.
   */
  const perTick = (runOne, runMany, runNow = runOne) => (embedded ? answeredNow(runNow) : createCoalescer(runOne, runMany))
  // The express stores' touches and counter changes; on the embedded store, free functions over
  // its handle (no per-method bookkeeping for `this`), the counter's answer in a reused array.
  const counted = new Float64Array(2)
  const batchedExpire = perTick(
    ([ns, id, seconds]) => native.expire(ns, id, seconds),
    (items) => expireMany(native, items),
    ([ns, id, seconds]) => binding.embeddedExpire(embeddedHandle, ns, id, seconds),
  )
  const sendExpire = forgettingNear(batchedExpire, (item) => forgetNear(item[0], item[1]))
  const batchedWindowHits = perTick(
    ([key, windowMs, change, restart]) => native.windowHits(key, windowMs, change, restart),
    (items) => windowHitsMany(native, items),
    ([key, windowMs, change, restart]) => {
      binding.embeddedWindowHits(embeddedHandle, key, windowMs, change, restart, counted)
      return { hits: counted[0], resetMs: counted[1] }
    },
  )
  const sendWindowHits = forgettingNear(batchedWindowHits, (item) => forgetNear(Namespace.Raw, item[0]))
  // One-time code checks; one attempt cap per batch: every item of a tick read the same setting.
  const batchedVerifyCode = perTick(
    ([id, code, max]) => native.otpVerify(id, code, max),
    (items) => native.otpVerifyMany(items.map((item) => item[0]), items.map((item) => item[1]), items[0][2]),
  )
  const sendVerifyCode = forgettingNear(batchedVerifyCode, (item) => forgetNear(Namespace.Otp, item[0]))

  // Single-value helpers shared by every namespace: the key is built in Rust from (ns, id).
  const set = embedded
    ? (op, ns, id, value, ttl, encode = encodeValue) =>
        guardedNow(op, false, () => {
          binding.embeddedSet(embeddedHandle, ns, toKey(id, 'id'), encode(value), toTtl(ttl))
          return true
        })
    : (op, ns, id, value, ttl, encode = encodeValue) =>
        guardedSend(op, false, (onValue, onError) => sendWrite([ns, toKey(id, 'id'), encode(value), toTtl(ttl)], onValue, onError), written)
  const get = embedded
    ? (op, ns, id, decode = decodeValue) => guardedNow(op, null, () => decode(readNow(ns, toKey(id, 'id'))))
    : (op, ns, id, decode = decodeValue) => {
        const near = nearOn ? nearValue(ns, id) : undefined
        // A string or null: answered from memory. A number: the placeholder the read's reply fills.
        if (near !== undefined && typeof near !== 'number') return guardedNow(op, null, () => decode(near))
        return guardedSend(op, null, (onValue, onError) => read.send([ns, toKey(id, 'id'), near], onValue, onError), decode)
      }
  /** The near cache's answer: a value (string, or null for no such key), a placeholder (number), or undefined. */
  function nearValue(ns, id) {
    try {
      return native.nearGet(ns, toKey(id, 'id'))
    } catch {
      return undefined // bad input, answered by the read's guard; or the read goes to the server
    }
  }
  const del = (op, ns, id) => trueWhenDone(op, () => native.del(ns, toKey(id, 'id')))

  const cache = {
    set: (key, value, ttl = TTL.MEDIUM) => set('cache.set', Namespace.Raw, key, value, ttl),
    get: (key) => get('cache.get', Namespace.Raw, key),
    del: (key) => del('cache.del', Namespace.Raw, key),
    exists: (key) => guarded('cache.exists', false, () => native.exists(Namespace.Raw, toKey(key))),
    expire: (key, seconds) => trueWhenDone('cache.expire', () => native.expire(Namespace.Raw, toKey(key), toSeconds(seconds, 'seconds'))),
    incr: (key) => guarded('cache.incr', null, () => native.incr(Namespace.Raw, toKey(key))),
    mget: (keys) => {
      // The keys are read once, inside the guard; the fallback has a null for each.
      let count = 0
      return guarded(
        'cache.mget',
        () => new Array(count).fill(null),
        async () => {
          let list = null
          try {
            if (Array.isArray(keys)) list = Array.from(keys)
          } catch {
            // A revoked proxy, or an array whose items cannot be read: bad input like any other.
          }
          if (list === null) throw invalidArgument(`keys must be an array of keys, got ${describe(keys)}`)
          count = list.length
          const names = list.map((key) => toKey(key))
          let fills
          if (nearOn) {
            const near = names.map((key) => native.nearGet(Namespace.Raw, key))
            if (near.every((answer) => answer === null || typeof answer === 'string')) return near.map(decodeValue)
            // Placeholders to fill; the keys answered from memory are read again with the rest.
            fills = Float64Array.from(near, (answer) => (typeof answer === 'number' ? answer : 0))
          }
          const values = await native.mget(names, fills)
          return values.map(decodeValue)
        },
      )
    },
    delPattern: (pattern) => guarded('cache.delPattern', 0, () => native.delPattern(toKey(pattern, 'pattern'))),
    /** Extra: cache-aside with stampede protection (lib/cache-wrap.js). */
    wrap: createCacheWrap(native, read, TTL, Namespace),
  }

  const sessions = {
    store: (sessionId, data, ttl = TTL.DAY) => set('sessions.store', Namespace.Session, sessionId, data, ttl),
    get: (sessionId) => get('sessions.get', Namespace.Session, sessionId),
    destroy: (sessionId) => del('sessions.destroy', Namespace.Session, sessionId),
    // At least 1 s: EXPIRE 0 would delete the session instead of refreshing it.
    refresh: (sessionId, ttl = TTL.DAY) =>
      trueWhenDone('sessions.refresh', () => native.expire(Namespace.Session, toKey(sessionId, 'id'), toPositiveInteger(ttl, 'ttl'))),
  }

  const users = {
    cache: (userId, userData, ttl = TTL.LONG) => set('users.cache', Namespace.User, userId, userData, ttl),
    get: (userId) => get('users.get', Namespace.User, userId),
    invalidate: (userId) => del('users.invalidate', Namespace.User, userId),
  }

  const creators = {
    cache: (creatorId, creatorData, ttl = TTL.MEDIUM) =>
      set('creators.cache', Namespace.Creator, creatorId, creatorData, ttl),
    get: (creatorId) => get('creators.get', Namespace.Creator, creatorId),
    // The list key ignores the id; 'list' only satisfies the id check.
    cacheList: (creatorList, ttl = TTL.SHORT) => set('creators.cacheList', Namespace.CreatorList, 'list', creatorList, ttl),
    getList: () => get('creators.getList', Namespace.CreatorList, 'list'),
    invalidate: (creatorId) => trueWhenDone('creators.invalidate', () => native.creatorsInvalidate(toKey(creatorId, 'id'))),
    /** Availability: 'online', 'busy' or 'away' for `ttl` seconds; 'offline' clears it. */
    setStatus: (creatorId, status, ttl = TTL.SHORT) =>
      trueWhenDone('creators.setStatus', () => {
        if (!CREATOR_STATUSES.includes(status)) {
          throw invalidArgument(`status must be one of ${CREATOR_STATUSES.join(', ')}, got ${describe(status)}`)
        }
        const id = toKey(creatorId, 'id')
        return native.creatorsSetStatus(id, status === 'offline' ? null : status, toPositiveInteger(ttl, 'ttl'))
      }),
    getStatus: (creatorId) =>
      guarded('creators.getStatus', 'offline', async () => {
        return (await read([Namespace.CreatorStatus, toKey(creatorId, 'id')])) ?? 'offline'
      }),
    /** `[{ creatorId, status }]` of every creator with a live status, from an index. */
    getOnline: () => guarded('creators.getOnline', () => [], () => native.creatorsOnline()),
  }

  const presenceMs = () => settings.viewerPresenceSeconds * 1000
  // Streams the original module set have no index entry: adopt them once, before the first
  // listing, with an incremental SCAN (server backends only; an embedded store starts empty).
  let adopted = native.backend === 'embedded' ? Promise.resolve() : null
  const adoptLegacyStreams = () => (adopted ??= guarded('streams.reindex', 0, () => native.streamsReindex()))

  const streams = {
    setActive: (streamId, streamData, ttl = TTL.LONG) =>
      trueWhenDone('streams.setActive', () => native.streamsSetActive(toKey(streamId, 'id'), encodeValue(streamData), toTtl(ttl))),
    getActive: (streamId) => get('streams.getActive', Namespace.ActiveStream, streamId),
    removeActive: (streamId) => trueWhenDone('streams.removeActive', () => native.streamsRemoveActive(toKey(streamId, 'id'))),
    /** Live streams' data by id; object data gains a `viewers` count. */
    getAllActive: () =>
      guarded(
        'streams.getAllActive',
        () => [],
        async () => {
          await adoptLegacyStreams()
          const items = await native.streamsAllActive(presenceMs())
          return items.map(({ data, viewers }) => {
            const value = decodeValue(data)
            return value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...value, viewers } : value
          })
        },
      ),
    /** Extra: indexes `stream:active:*` keys written without the index (by the original module). */
    reindex: () => guarded('streams.reindex', 0, () => native.streamsReindex()),
    /** A viewer is present for the presence window (default 60 s); call again as a heartbeat. */
    viewerJoined: (streamId, viewerId) =>
      trueWhenDone('streams.viewerJoined', () => native.streamsViewerJoined(toKey(streamId, 'id'), toKey(viewerId, 'viewerId'), presenceMs())),
    viewerLeft: (streamId, viewerId) =>
      trueWhenDone('streams.viewerLeft', () => native.streamsViewerLeft(toKey(streamId, 'id'), toKey(viewerId, 'viewerId'))),
    /** Unique viewers seen within the presence window. */
    viewerCount: (streamId) =>
      guarded('streams.viewerCount', 0, () => native.streamsViewerCount(toKey(streamId, 'id'), presenceMs())),
  }

  const otp = {
    store: (identifier, code, ttl = TTL.SHORT) =>
      trueWhenDone('otp.store', () => native.otpStore(toKey(identifier, 'identifier'), toCode(code), toTtl(ttl))),
    // Compared as strings (the original compared a number with a string and always failed);
    // wrong guesses are counted and destroy the code after settings.otpMaxAttempts.
    verify: (identifier, code) =>
      guardedSend(
        'otp.verify',
        false,
        (onValue, onError) => sendVerifyCode([toKey(identifier, 'identifier'), toCode(code), settings.otpMaxAttempts], onValue, onError),
        same,
      ),
    // The code as stored, a string: codes are not numbers ('012345' keeps its zero).
    get: (identifier) => guarded('otp.get', null, () => read([Namespace.Otp, toKey(identifier, 'identifier')])),
    /** Draws a code, stores it (a resend resets the guess count), returns it. */
    generate: (identifier, options = {}) =>
      guarded('otp.generate', null, async () => {
        const { digits = 6, ttl = TTL.SHORT } = readOptionValues(options, ['digits', 'ttl'])
        // Checked (4 to 12) and drawn from the OS's CSPRNG by the core (features/otp.rs).
        const code = binding.otpCode(digits)
        await native.otpStore(toKey(identifier, 'identifier'), code, toTtl(ttl))
        return code
      }),
  }

  const tokens = {
    /** `token:<userId>`; numbers, BigInts and decimal strings round-trip exactly. */
    cacheBalance: (userId, balance, ttl = TTL.SHORT) =>
      set('tokens.cacheBalance', Namespace.TokenBalance, userId, balance, ttl, encodeBalance),
    getBalance: (userId) => get('tokens.getBalance', Namespace.TokenBalance, userId, decodeBalance),
    invalidate: (userId) => del('tokens.invalidate', Namespace.TokenBalance, userId),
  }

  const rateLimiter = createRateLimiter(native)

  const testConnection = () => guarded('testConnection', false, () => native.ping())

  const locks = createLocks(native)
  const idempotency = createIdempotency(native, TTL)

  const namespaces = { cache, sessions, users, creators, streams, rateLimiter, otp, tokens, locks, idempotency, testConnection }
  // For the express stores: a read and an expiry of a raw key, and a window-counter change, in
  // the same per-tick batches as the namespaces' calls. Not enumerable, so not exported.
  Object.defineProperties(namespaces, {
    // configure({ nearCache }): options, or null for off (the core checks them; throws a TypeError).
    setNearCache: {
      value: (options) => {
        native.configureNearCache(options)
        nearOn = options !== null && !embedded
      },
    },
    // In the coalescer's callback form (lib/coalescer.js send), for the guard's (public-call.js guardCall).
    sendRaw: { value: (key, onValue, onError) => read.send([Namespace.Raw, key], onValue, onError) },
    sendExpireRaw: { value: (key, seconds, onValue, onError) => sendExpire([Namespace.Raw, key, seconds], onValue, onError) },
    sendWindowHits: { value: (key, windowMs, change, restart, onValue, onError) => sendWindowHits([key, windowMs, change, restart], onValue, onError) },
  })
  return namespaces
}

/** A write's answer: `true` once it is done (the contract's `false` is the guard's fallback). */
const written = () => true

/** `run()`'s answer to `onValue`, or what it throws to `onError`: the callback form of a call answered at once. */
function answerNow(run, onValue, onError) {
  let value
  try {
    value = run()
  } catch (thrown) {
    return onError(thrown)
  }
  onValue(value)
}

/** A per-tick batch as the coalescer's (promise and `send` forms) for calls answered at once (the embedded store). */
function answeredNow(runNow) {
  const enqueue = (item) => Promise.resolve(runNow(item))
  enqueue.send = (item, onValue, onError) => answerNow(() => runNow(item), onValue, onError)
  return enqueue
}

/** `batched.send` calling `forget(item)` first: the near cache drops what a call changes when it is issued. */
function forgettingNear(batched, forget) {
  return (item, onValue, onError) => {
    forget(item)
    batched.send(item, onValue, onError)
  }
}

/** One-time codes: strings of any length, or non-negative integers (123456 is '123456'). */
function toCode(code) {
  if (typeof code === 'string' && code.length > 0) return wellFormed(code, 'code')
  if (typeof code === 'number' && Number.isSafeInteger(code) && code >= 0) return String(code)
  throw invalidArgument(`code must be a non-empty string or a non-negative integer, got ${describe(code)}`)
}

module.exports = { createFeatures }
