'use strict'

/**
 * In-process call counters behind `analytics`: every public call already passes through the
 * guard (lib/public-call.js), which hands its outcome to the meter of that operation. Counting
 * is a few number increments on objects made once per operation name: no allocation per call,
 * no round trip, no crossing to Rust. Which counters an operation bumps, the latency buckets
 * and the reports are the core's (crates/core/src/metrics.rs).
 */

const binding = require('../binding')

const { MeterKind } = binding
const { counters: COUNTERS, bucketBoundsMs: BUCKET_BOUNDS_MS, timeOneIn: TIME_ONE_IN } = binding.metricsLayout()

/** Namespace counters then the rate-limit decisions, flat, in the order of the fleet totals. */
const counters = new Float64Array(COUNTERS)
const meters = new Map()
let since = Date.now()

class Meter {
  constructor(operation) {
    this.operation = operation
    const { kind, success, miss, error } = binding.meterSlots(operation)
    Object.assign(this, { kind, success, miss, error })
    this.reset()
  }

  reset() {
    /** Timed calls per latency bucket; the last one is above every bound. */
    this.buckets = new Float64Array(BUCKET_BOUNDS_MS.length + 1)
    this.calls = 0
    this.timed = 0
    this.errors = 0
    this.sumMs = 0
    this.maxMs = 0
  }

  /** The start of a call to time, or -1 for a call that is only counted. */
  start() {
    return this.calls % TIME_ONE_IN === 0 ? performance.now() : -1
  }

  /** One finished call: the answer given (a fallback when `failed`), timed from `started` unless -1. */
  record(started, value, failed) {
    this.calls++
    if (started >= 0) this.time(performance.now() - started)
    if (failed) {
      // A fallback null is an error, not a miss.
      this.errors++
      if (this.error >= 0) counters[this.error]++
    } else if (this.kind === MeterKind.Read) {
      counters[value === null ? this.miss : this.success]++
    } else if (this.kind === MeterKind.Count) {
      counters[this.success]++
    } else if (this.kind === MeterKind.ReadMany && Array.isArray(value)) {
      for (const item of value) counters[item === null ? this.miss : this.success]++
    }
    // The answer the caller acted on: a fail-open fallback let the request through.
    if (this.kind === MeterKind.Decision && value && typeof value.allowed === 'boolean') counters[value.allowed ? this.success : this.miss]++
  }

  time(ms) {
    let bucket = 0
    while (bucket < BUCKET_BOUNDS_MS.length && ms > BUCKET_BOUNDS_MS[bucket]) bucket++
    this.buckets[bucket]++
    this.timed++
    this.sumMs += ms
    if (ms > this.maxMs) this.maxMs = ms
  }
}

/** The meter of one operation name, made on its first call. */
function meterFor(operation) {
  let meter = meters.get(operation)
  if (meter === undefined) {
    meter = new Meter(operation)
    meters.set(operation, meter)
  }
  return meter
}

/** Counts `n` successes of `operation` made outside a guarded call (e.g. the entries one warm() writes). */
function add(operation, n) {
  counters[meterFor(operation).success] += n
}

function reset() {
  counters.fill(0)
  for (const meter of meters.values()) meter.reset()
  since = Date.now()
}

/** What the core's reports are made of; `backend` and `circuit` from the native client. */
function snapshot({ backend, circuit }) {
  const numbers = []
  for (const m of meters.values()) numbers.push(m.calls, m.errors, m.timed, m.sumMs, m.maxMs, ...m.buckets)
  return { backend, circuit, since: new Date(since).toISOString(), counters: [...counters], operations: [...meters.keys()], numbers }
}

module.exports = { BUCKET_BOUNDS_MS, TIME_ONE_IN, counters, meterFor, add, reset, snapshot }
