'use strict'

const { guarded } = require('./guard')
const { toKey, encodeValue, decodeValue, toTtl, toSeconds, toPositiveInteger, describe } = require('./codec')
const { invalidArgument } = require('./errors')

/**
 * The contract's namespaces over one native client. Parameter lists (names, defaults and so
 * `fn.length`) follow the original module; each call answers its contract fallback on failure.
 */
function createFeatures(native, Namespace, TTL) {
  // Single-value helpers shared by every namespace: the key is built in Rust from (ns, id).
  const set = (op, ns, id, value, ttl, encode = encodeValue) =>
    guarded(op, false, async () => {
      await native.set(ns, toKey(id, 'id'), encode(value), toTtl(ttl))
      return true
    })
  const get = (op, ns, id) => guarded(op, null, async () => decodeValue(await native.get(ns, toKey(id, 'id'))))
  const del = (op, ns, id) =>
    guarded(op, false, async () => {
      await native.del(ns, toKey(id, 'id'))
      return true
    })

  const cache = {
    set: (key, value, ttl = TTL.MEDIUM) => set('cache.set', Namespace.Raw, key, value, ttl),
    get: (key) => get('cache.get', Namespace.Raw, key),
    del: (key) => del('cache.del', Namespace.Raw, key),
    exists: (key) => guarded('cache.exists', false, () => native.exists(Namespace.Raw, toKey(key))),
    expire: (key, seconds) =>
      guarded('cache.expire', false, async () => {
        await native.expire(Namespace.Raw, toKey(key), toSeconds(seconds, 'seconds'))
        return true
      }),
    incr: (key) => guarded('cache.incr', null, () => native.incr(Namespace.Raw, toKey(key))),
    mget: (keys) =>
      guarded(
        'cache.mget',
        () => (Array.isArray(keys) ? keys.map(() => null) : []),
        async () => {
          if (!Array.isArray(keys)) throw invalidArgument(`keys must be an array, got ${describe(keys)}`)
          const values = await native.mget(keys.map((key) => toKey(key)))
          return values.map(decodeValue)
        },
      ),
    delPattern: (pattern) => guarded('cache.delPattern', 0, () => native.delPattern(toKey(pattern, 'pattern'))),
  }

  const sessions = {
    store: (sessionId, data, ttl = TTL.DAY) => set('sessions.store', Namespace.Session, sessionId, data, ttl),
    get: (sessionId) => get('sessions.get', Namespace.Session, sessionId),
    destroy: (sessionId) => del('sessions.destroy', Namespace.Session, sessionId),
    refresh: (sessionId, ttl = TTL.DAY) =>
      guarded('sessions.refresh', false, async () => {
        // At least 1 s: EXPIRE 0 would delete the session instead of refreshing it.
        await native.expire(Namespace.Session, toKey(sessionId, 'id'), toPositiveInteger(ttl, 'ttl'))
        return true
      }),
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
    invalidate: (creatorId) =>
      guarded('creators.invalidate', false, async () => {
        await native.creatorsInvalidate(toKey(creatorId, 'id'))
        return true
      }),
  }

  const streams = {
    setActive: (streamId, streamData, ttl = TTL.LONG) =>
      guarded('streams.setActive', false, async () => {
        await native.streamsSetActive(toKey(streamId, 'id'), encodeValue(streamData), toTtl(ttl))
        return true
      }),
    getActive: (streamId) => get('streams.getActive', Namespace.ActiveStream, streamId),
    removeActive: (streamId) =>
      guarded('streams.removeActive', false, async () => {
        await native.streamsRemoveActive(toKey(streamId, 'id'))
        return true
      }),
    getAllActive: () =>
      guarded('streams.getAllActive', () => [], async () => (await native.streamsAllActive()).map(decodeValue)),
    /** Extra: indexes `stream:active:*` keys written without the index (by the original module). */
    reindex: () => guarded('streams.reindex', 0, () => native.streamsReindex()),
  }

  const rateLimiter = {
    check: (identifier, limit = 10, window = 60) =>
      guarded(
        'rateLimiter.check',
        // Fails open, as the original: a cache outage must not lock every user out.
        () => ({ allowed: true, remaining: numberOr(limit, 10), reset: numberOr(window, 60) }),
        async () => {
          const decision = await native.rateLimitCheck(
            toKey(identifier, 'identifier'),
            toPositiveInteger(limit, 'limit'),
            toPositiveInteger(window, 'window'),
          )
          return { allowed: decision.allowed, remaining: decision.remaining, reset: decision.reset }
        },
      ),
    reset: (identifier) =>
      guarded('rateLimiter.reset', false, async () => {
        await native.rateLimitReset(toKey(identifier, 'identifier'))
        return true
      }),
  }

  const otp = {
    store: (identifier, code, ttl = TTL.SHORT) => set('otp.store', Namespace.Otp, identifier, code, ttl, toCode),
    // Compared as strings (the original compared a number with a string and always failed).
    verify: (identifier, code) =>
      guarded('otp.verify', false, () => native.otpVerify(toKey(identifier, 'identifier'), toCode(code))),
    // The code as stored, a string: codes are not numbers ('012345' keeps its zero).
    get: (identifier) => guarded('otp.get', null, () => native.get(Namespace.Otp, toKey(identifier, 'identifier'))),
  }

  const testConnection = () => guarded('testConnection', false, () => native.ping())

  return { cache, sessions, users, creators, streams, rateLimiter, otp, testConnection }
}

/** The caller's number (or digit string) for a fail-open answer, else the default. */
function numberOr(value, otherwise) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) ? n : otherwise
}

/** One-time codes: strings of any length, or non-negative integers (123456 is '123456'). */
function toCode(code) {
  if (typeof code === 'string' && code.length > 0) return code
  if (typeof code === 'number' && Number.isSafeInteger(code) && code >= 0) return String(code)
  throw invalidArgument(`code must be a non-empty string or a non-negative integer, got ${describe(code)}`)
}

module.exports = { createFeatures }
