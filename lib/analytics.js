'use strict'

const metrics = require('./metrics')
const { guarded, inBackground } = require('./public-call')
const { Exposition } = require('./prometheus')
const { invalidArgument } = require('./errors')
const { describe, toKey } = require('./codec')

const { NAMESPACES, FIELDS, RATE_LIMIT_FIELDS, BUCKET_BOUNDS_MS, TIME_ONE_IN } = metrics
const CIRCUIT_STATES = ['closed', 'open', 'half-open']
const QUANTILES = [0.5, 0.99]

const ratio = (hits, misses) => (hits + misses === 0 ? null : hits / (hits + misses))
const round = (ms) => (ms === null ? null : Math.round(ms * 1000) / 1000)

/** `{ cache: { hits, misses, hitRatio, sets, deletes, errors }, ... }` from flat counters. */
function namespaceTable(values) {
  const table = {}
  NAMESPACES.forEach((ns, i) => {
    const row = {}
    FIELDS.forEach((field, f) => (row[field] = values[i * FIELDS.length + f]))
    table[ns] = { hits: row.hits, misses: row.misses, hitRatio: ratio(row.hits, row.misses), sets: row.sets, deletes: row.deletes, errors: row.errors }
  })
  return table
}

/** The hash fields of the cross-instance totals: `<namespace>:<field>`, `rateLimit:<decision>`. */
const TOTAL_FIELDS = [
  ...NAMESPACES.flatMap((ns) => FIELDS.map((field) => `${ns}:${field}`)),
  ...RATE_LIMIT_FIELDS.map((field) => `rateLimit:${field}`),
]
const allCounters = () => [...metrics.counters, ...metrics.rateLimit]

function createAnalytics(native) {
  // What has reached the totals hash, per TOTAL_FIELDS entry: a flush sends the difference.
  const flushed = new Float64Array(TOTAL_FIELDS.length)
  let flushing = null
  let flushTimer = null
  // null: the binding's default totals hash.
  let totalsKey = null

  function stats() {
    const operations = {}
    for (const [name, meter] of [...metrics.meters].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (meter.calls === 0) continue
      operations[name] = {
        calls: meter.calls,
        errors: meter.errors,
        timed: meter.timed,
        p50Ms: round(meter.quantile(0.5)),
        p99Ms: round(meter.quantile(0.99)),
        maxMs: round(meter.maxMs),
      }
    }
    const [allowed, denied] = metrics.rateLimit
    return {
      backend: native.backend,
      circuit: native.circuit,
      since: new Date(metrics.since()).toISOString(),
      namespaces: namespaceTable(metrics.counters),
      operations,
      rateLimit: { allowed, denied },
    }
  }

  function prometheus() {
    const s = stats()
    const out = new Exposition()
    out.family('digis_redis_info', 'gauge', 'The backend this process uses (always 1).').sample({ backend: s.backend }, 1)
    out.family('digis_redis_circuit_state', 'gauge', 'Circuit breaker state: 1 for the current one, 0 for the others.')
    for (const state of CIRCUIT_STATES) out.sample({ state }, s.circuit === state ? 1 : 0)
    const perNamespace = [
      ['digis_redis_cache_hits_total', 'counter', 'Reads that found a value, by namespace.', 'hits'],
      ['digis_redis_cache_misses_total', 'counter', 'Reads that found nothing, by namespace.', 'misses'],
      ['digis_redis_cache_sets_total', 'counter', 'Successful writes, by namespace.', 'sets'],
      ['digis_redis_cache_deletes_total', 'counter', 'Successful deletions and invalidations, by namespace.', 'deletes'],
      ['digis_redis_errors_total', 'counter', 'Calls answered with their fallback after a failure, by namespace.', 'errors'],
    ]
    for (const [name, type, help, field] of perNamespace) {
      out.family(name, type, help)
      for (const ns of NAMESPACES) out.sample({ namespace: ns }, s.namespaces[ns][field])
    }
    out.family('digis_redis_cache_hit_ratio', 'gauge', 'hits / (hits + misses) by namespace; NaN before the first read.')
    for (const ns of NAMESPACES) out.sample({ namespace: ns }, s.namespaces[ns].hitRatio ?? NaN)

    const meters = Object.keys(s.operations).map((name) => metrics.meters.get(name))
    out.family('digis_redis_operation_calls_total', 'counter', 'Public calls, by operation.')
    for (const m of meters) out.sample({ operation: m.operation }, m.calls)
    out.family('digis_redis_operation_errors_total', 'counter', 'Failed calls, by operation.')
    for (const m of meters) out.sample({ operation: m.operation }, m.errors)
    out.family('digis_redis_operation_duration_seconds', 'histogram', `Duration of public calls, by operation (one call in ${TIME_ONE_IN} is timed).`)
    for (const m of meters) {
      let cumulative = 0
      BUCKET_BOUNDS_MS.forEach((bound, i) => {
        cumulative += m.buckets[i]
        out.sample({ operation: m.operation, le: bound / 1000 }, cumulative, '_bucket')
      })
      out.sample({ operation: m.operation, le: '+Inf' }, m.timed, '_bucket')
      out.sample({ operation: m.operation }, m.sumMs / 1000, '_sum')
      out.sample({ operation: m.operation }, m.timed, '_count')
    }
    out.family('digis_redis_operation_duration_quantile_seconds', 'gauge', 'p50 and p99 call duration estimated in process from the histogram buckets.')
    for (const m of meters) {
      for (const q of QUANTILES) out.sample({ operation: m.operation, quantile: q }, m.quantile(q) / 1000)
    }
    out.family('digis_redis_rate_limit_decisions_total', 'counter', 'rateLimiter.check answers (fail-open fallbacks count as allowed).')
    for (const decision of RATE_LIMIT_FIELDS) out.sample({ decision }, s.rateLimit[decision])
    return out.toString()
  }

  function reset() {
    // Keep what is still to be flushed: the totals hash must not lose counts a reset hid.
    allCounters().forEach((value, i) => (flushed[i] -= value))
    metrics.reset()
  }

  /** Sends the counts since the last flush, all together; true when they arrived. */
  function flush() {
    flushing ??= guarded('analytics.flush', false, async () => {
      const deltas = allCounters().map((value, i) => value - flushed[i])
      if (deltas.every((delta) => delta === 0)) return true
      await native.analyticsAddTotals(totalsKey, TOTAL_FIELDS, deltas)
      // Only what was sent is marked as flushed: counts made meanwhile go with the next flush.
      deltas.forEach((delta, i) => (flushed[i] += delta))
      return true
    }).finally(() => (flushing = null))
    return flushing
  }

  /** Flushes every `every` ms on an unref'd timer (it never keeps the process alive). */
  function startFlushing(options = {}) {
    const { every = 10000, key } = options ?? {}
    if (!Number.isInteger(every) || every < 10) throw invalidArgument(`every must be whole milliseconds (at least 10), got ${describe(every)}`)
    totalsKey = key === undefined ? null : toKey(key, 'key')
    stopFlushing()
    flushTimer = setInterval(() => inBackground('analytics.flush', flush()), every)
    flushTimer.unref()
    return { stop: stopFlushing }
  }

  function stopFlushing() {
    if (flushTimer !== null) clearInterval(flushTimer)
    flushTimer = null
  }

  /** The fleet's totals from the hash every instance flushes into; null when it cannot be read. */
  const totals = (key) =>
    guarded('analytics.totals', null, async () => {
      const flat = await native.analyticsTotals(key === undefined ? totalsKey : toKey(key, 'key'), TOTAL_FIELDS)
      const [allowed, denied] = flat.slice(-RATE_LIMIT_FIELDS.length)
      return { namespaces: namespaceTable(flat), rateLimit: { allowed, denied } }
    })

  return { stats, prometheus, reset, flush, startFlushing, stopFlushing, totals }
}

module.exports = { createAnalytics }
