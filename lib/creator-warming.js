'use strict'

const { guarded, trueWhenDone, inBackground } = require('./public-call')
const { settings } = require('./settings')
const { toKey, toTtl, toPositiveInteger, encodeValue, describe } = require('./codec')
const { invalidArgument } = require('./errors')
const metrics = require('./metrics')
const { writeMany } = require('./packed')
const { toEvery } = require('./analytics')

/**
 * Popularity of creator profiles, and cache warming for the most popular ones.
 *
 * Reads are counted in process (a Map increment inside `creators.get`, no round trip) and
 * flushed at most once per FLUSH_DELAY_MS in one call. The decayed counting and the ranking are
 * the core's (features/popularity.rs).
 */
const FLUSH_DELAY_MS = 1000
/** Distinct creators counted before a flush is forced, so the pending map stays small. */
const MAX_PENDING = 10000
const NOTHING_WARMED = Object.freeze({ popular: 0, missing: 0, warmed: 0 })

function createCreatorWarming(native, binding, TTL) {
  const { Namespace } = binding
  let pending = new Map()
  let flushTimer = null

  /** Counts one profile read; called by creators.get before its own (unchanged) read. */
  function countRead(creatorId) {
    let id
    try {
      id = toKey(creatorId, 'id')
    } catch {
      return // creators.get itself answers a bad id with its fallback.
    }
    pending.set(id, (pending.get(id) ?? 0) + 1)
    if (pending.size >= MAX_PENDING) {
      flushInBackground()
    } else if (flushTimer === null) {
      flushTimer = setTimeout(flushInBackground, FLUSH_DELAY_MS)
      flushTimer.unref()
    }
  }

  const flushInBackground = () => inBackground('creators.countReads', flushReads())

  /** Sends the pending counts in one call; lost (and logged) if the backend fails. */
  function flushReads() {
    if (flushTimer !== null) clearTimeout(flushTimer)
    flushTimer = null
    if (pending.size === 0) return Promise.resolve(true)
    const batch = pending
    pending = new Map()
    return trueWhenDone('creators.countReads', () => native.creatorsCountReads(settings.popularityHalfLifeSeconds, [...batch.keys()], [...batch.values()]))
  }

  /** `[{ creatorId, score }]`, most read first; score = reads, each halved per half-life of age. */
  async function ranking(n) {
    await flushReads()
    return native.creatorsPopular(settings.popularityHalfLifeSeconds, n)
  }

  const popular = (n = 10) =>
    guarded('creators.popular', () => [], () => ranking(toPositiveInteger(n, 'n')))

  /**
   * Caches the `top` most popular creators that are not cached: one existence check for all, the
   * loader for the missing ones only, one pipeline of writes through the creators.cache path
   * (same key and bytes). Resolves with `{ popular, missing, warmed }`.
   */
  const warm = (loader, options = {}) =>
    guarded('creators.warm', NOTHING_WARMED, async () => {
      checkLoader(loader)
      const { top = 50, ttl = TTL.MEDIUM } = options ?? {}
      const count = toPositiveInteger(top, 'top')
      const expiry = toTtl(ttl)
      const ids = (await ranking(count)).map((entry) => entry.creatorId)
      const missing = ids.length === 0 ? [] : await native.creatorsUncached(ids)
      if (missing.length === 0) return { popular: ids.length, missing: 0, warmed: 0 }
      const items = loadedEntries(missing, await loader(missing)).map(([id, data]) => [Namespace.Creator, id, encodeValue(data), expiry])
      const errors = items.length === 0 ? [] : ((await writeMany(native, items)) ?? []).filter((error) => error !== null && error !== undefined)
      metrics.add('creators.cache', items.length - errors.length)
      if (errors.length > 0) throw errors[0]
      return { popular: ids.length, missing: missing.length, warmed: items.length }
    })

  /** Runs warm() every `every` ms on an unref'd timer, one run at a time; `stop()` ends it. */
  function startWarming(loader, options = {}) {
    checkLoader(loader)
    const { every = 60000, ...warmOptions } = options ?? {}
    let running = null
    const timer = setInterval(() => {
      running ??= inBackground('creators.warm', warm(loader, warmOptions)).finally(() => (running = null))
    }, toEvery(every)).unref()
    return { stop: () => clearInterval(timer) }
  }

  return { countRead, popular, warm, startWarming }
}

function checkLoader(loader) {
  if (typeof loader !== 'function') throw invalidArgument(`loader must be a function (creatorIds) => data, got ${describe(loader)}`)
}

/**
 * The loader's answer as `[id, data]` pairs: an array in the order of the ids asked, or a Map
 * or plain object keyed by id. `undefined` / `null` entries (not found) are skipped.
 */
function loadedEntries(ids, loaded) {
  let lookup
  if (Array.isArray(loaded)) lookup = (id, i) => loaded[i]
  else if (loaded instanceof Map) lookup = (id) => loaded.get(id)
  else if (loaded !== null && typeof loaded === 'object') lookup = (id) => (Object.hasOwn(loaded, id) ? loaded[id] : undefined)
  else throw invalidArgument(`loader must resolve with an array, a Map or an object keyed by id, got ${describe(loaded)}`)
  return ids.map((id, i) => [toKey(id, 'id'), lookup(id, i)]).filter(([, data]) => data !== undefined && data !== null)
}

module.exports = { createCreatorWarming }
