'use strict'

const binding = require('../binding')
const metrics = require('./metrics')
const { guarded, inBackground } = require('./public-call')
const { typed } = require('./errors')
const { toKey } = require('./codec')

/** The period of a repeating timer: whole milliseconds from 10 (checked by the core's options.rs). */
const toEvery = (every) => typed(() => binding.timerPeriod(every))

/** `analytics`: the core writes the reports (crates/core/src/metrics.rs) from this process's counters. */
function createAnalytics(native) {
  // What has reached the totals hash, per counter: a flush sends the difference.
  const flushed = new Float64Array(metrics.counters.length)
  let flushing = null
  let flushTimer = null
  // null: the binding's default totals hash.
  let totalsKey = null

  // The native client adds its near cache's numbers.
  const stats = () => JSON.parse(native.analyticsStatsJson(metrics.snapshot(native)))
  const prometheus = () => native.analyticsPrometheus(metrics.snapshot(native))

  function reset() {
    // Keep what is still to be flushed: the totals hash must not lose counts a reset hid.
    metrics.counters.forEach((value, i) => (flushed[i] -= value))
    metrics.reset()
  }

  /** Sends the counts since the last flush, all together; true when they arrived. */
  function flush() {
    flushing ??= guarded('analytics.flush', false, async () => {
      const deltas = Array.from(metrics.counters, (value, i) => value - flushed[i])
      if (deltas.every((delta) => delta === 0)) return true
      await native.analyticsAddTotals(totalsKey, deltas)
      // Only what was sent is marked as flushed: counts made meanwhile go with the next flush.
      deltas.forEach((delta, i) => (flushed[i] += delta))
      return true
    }).finally(() => (flushing = null))
    return flushing
  }

  /** Flushes every `every` ms on an unref'd timer (it never keeps the process alive). */
  function startFlushing(options = {}) {
    const { every = 10000, key } = options ?? {}
    const period = toEvery(every)
    totalsKey = key === undefined ? null : toKey(key, 'key')
    stopFlushing()
    flushTimer = setInterval(() => inBackground('analytics.flush', flush()), period).unref()
    return { stop: stopFlushing }
  }

  function stopFlushing() {
    clearInterval(flushTimer)
    flushTimer = null
  }

  /** The fleet's totals from the hash every instance flushes into; null when it cannot be read. */
  const totals = (key) =>
    guarded('analytics.totals', null, async () => JSON.parse(await native.analyticsTotalsJson(key === undefined ? totalsKey : toKey(key, 'key'))))

  return { stats, prometheus, reset, flush, startFlushing, stopFlushing, totals }
}

module.exports = { createAnalytics, toEvery }
