'use strict'

const { guarded, inBackground, logFailure } = require('./public-call')
const { toKey, encodeValue, decodeValue, toTtl, toSeconds, toPositiveInteger, describe, readOptionValues } = require('./codec')
const { invalidArgument } = require('./errors')
const { newOwner } = require('./locks')

/**
 * How long one instance may hold a key's loading lock, and so the longest other instances wait
 * for its value before loading themselves: long enough for a slow query, short enough that a
 * crashed loader delays its peers by seconds, not minutes.
 */
const DEFAULT_LOCK_TTL_MS = 5000

/** A read that failed: the backend is unhealthy, so the loader runs without lock or store. */
const FAILED = Object.freeze({ value: null, fresh: false, loading: false, failed: true })


function parseRequest(key, loader, ttl, options) {
  const id = toKey(key)
  if (typeof loader !== 'function') throw invalidArgument(`loader must be a function, got ${describe(loader)}`)
  const { staleTtl = 0, lockTtl = DEFAULT_LOCK_TTL_MS, cacheNull = false } = readOptionValues(options, ['staleTtl', 'lockTtl', 'cacheNull'])
  if (typeof cacheNull !== 'boolean') throw invalidArgument('cacheNull must be a boolean')
  return {
    key: id,
    loader,
    ttl: toTtl(ttl),
    staleTtl: toSeconds(staleTtl, 'staleTtl'),
    lockTtl: toPositiveInteger(lockTtl, 'lockTtl'),
    cacheNull,
  }
}

/**
 * `cache.wrap(key, loader, ttl, options)`: cache-aside with stampede protection in this process
 * (one promise per key) and across processes (a short loading lock, `{key}:loading`), and
 * optional stale-while-revalidate (a freshness marker, `{key}:fresh`). The value is stored
 * exactly as `cache.set` stores it. Backend failures never reject (outside strict mode): the
 * loader's value is answered uncached. The loader's own errors do reject, as in peer libraries:
 * there is no value to answer.
 */
function createCacheWrap(native, readValue, TTL, Namespace) {
  const inflight = new Map()
  const refreshing = new Set()

  const readState = (request, withMarkers) =>
    guarded('cache.wrap', FAILED, async () =>
      withMarkers
        ? native.cacheWrapRead(request.key)
        : // The common read goes through the per-tick batching of cache.get.
          { value: await readValue([Namespace.Raw, request.key]), fresh: true, loading: false },
    )

  /**
   * 'claimed', 'busy' (another instance loads), 'failed' (logged), or `{ value }`: the value
   * (a fresh one when `refreshing`) found in the same atomic step, stored by another instance
   * since this one looked, so there is nothing to load.
   */
  const tryClaim = (request, owner, refreshing = false) =>
    guarded('cache.wrap', 'failed', async () => {
      const claim = await native.cacheWrapClaim(request.key, owner, request.lockTtl, refreshing)
      if (claim.claimed) return 'claimed'
      return claim.value === undefined || claim.value === null ? 'busy' : { value: claim.value }
    })

  // Unlogged: if it fails, the lock expires after lockTtl, which only delays other instances.
  const releaseQuietly = async (request, owner) => {
    try {
      await native.cacheWrapRelease(request.key, owner)
    } catch {}
  }

  const callLoader = async (request) => request.loader()

  async function store(request, value, owner) {
    if ((value === null || value === undefined) && !request.cacheNull) {
      if (owner) await releaseQuietly(request, owner)
      return
    }
    await guarded('cache.wrap', undefined, async () => {
      let text
      try {
        text = encodeValue(value ?? null)
      } catch (err) {
        if (owner) await releaseQuietly(request, owner)
        throw err
      }
      await native.cacheWrapStore(request.key, text, request.ttl, request.staleTtl, owner)
    })
  }

  async function loadAndStore(request, owner) {
    let value
    try {
      value = await callLoader(request)
    } catch (err) {
      if (owner) await releaseQuietly(request, owner)
      throw err
    }
    await store(request, value, owner)
    return value
  }

  /**
   * A miss: one instance loads under the loading lock while the others wait for its value (the
   * binding waits, as long as lockTtl: the holder may have crashed or be slow; then it loads).
   */
  async function loadCold(request) {
    const owner = newOwner()
    const claim = await tryClaim(request, owner)
    if (typeof claim === 'object') return decodeValue(claim.value)
    if (claim === 'failed') return callLoader(request)
    return loadAndStore(request, claim === 'claimed' ? owner : null)
  }

  /** A stale hit: one instance (across processes) reloads while every caller gets the old value. */
  function refreshInBackground(request) {
    if (refreshing.has(request.key)) return
    refreshing.add(request.key)
    const refresh = async () => {
      const owner = newOwner()
      // 'busy': another instance is refreshing; a value: it has just refreshed; 'failed' was logged.
      if ((await tryClaim(request, owner, true)) !== 'claimed') return
      try {
        await loadAndStore(request, owner)
      } catch (err) {
        logFailure('cache.wrap background refresh', err) // the stale value stays
      }
    }
    // Strict mode makes guarded steps throw; out here nobody awaits, so log instead.
    inBackground('cache.wrap background refresh', refresh()).finally(() => refreshing.delete(request.key))
  }

  async function resolve(request) {
    const state = await readState(request, request.staleTtl > 0)
    if (state.failed) return callLoader(request)
    if (state.value !== null) {
      if (request.staleTtl > 0 && !state.fresh) refreshInBackground(request)
      return decodeValue(state.value)
    }
    return loadCold(request)
  }

  return function wrap(key, loader, ttl = TTL.MEDIUM, options = undefined) {
    let request
    try {
      request = parseRequest(key, loader, ttl, options)
    } catch (err) {
      // Bad input: logged (or a TypeError in strict mode), and the loader's value uncached.
      return guarded(
        'cache.wrap',
        () => (typeof loader === 'function' ? loader() : undefined),
        () => Promise.reject(err),
      )
    }
    // Single-flight: concurrent calls for one key share the first call's work (and loader).
    const running = inflight.get(request.key)
    if (running) return running
    const promise = resolve(request).finally(() => {
      if (inflight.get(request.key) === promise) inflight.delete(request.key)
    })
    inflight.set(request.key, promise)
    return promise
  }
}

module.exports = { createCacheWrap, DEFAULT_LOCK_TTL_MS }
