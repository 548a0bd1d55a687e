'use strict'

/**
 * In-process call counters behind `analytics`: every public call already passes through
 * `guarded(operation, ...)`, which hands its outcome to the meter of that operation. Counting
 * is a few number increments on objects made once per operation name: no allocation per call,
 * no round trip.
 */

const NAMESPACES = ['cache', 'users', 'creators', 'sessions', 'streams', 'tokens', 'responses']
const FIELDS = ['hits', 'misses', 'sets', 'deletes', 'errors']
const [HITS, MISSES, SETS, DELETES, ERRORS] = FIELDS.keys()
const RATE_LIMIT_FIELDS = ['allowed', 'denied']

/**
 * Upper bounds (ms) of the latency buckets, roughly 1-2.5-5 per decade: wide enough for an
 * in-process store (microseconds) and a slow REST round trip (seconds), 21 numbers per
 * operation whatever the traffic. Percentiles are read from these buckets, so they are
 * estimates within one bucket (interpolated), never an unbounded list of samples.
 */
const BUCKET_BOUNDS_MS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/**
 * One call in this many is timed. A clock read costs 100-150 ns on common VMs, two per call
 * would be most of the counting's cost; a regular sample (the first call always included)
 * estimates the same percentiles.
 */
const TIME_ONE_IN = 8

const READ = 1
const READ_MANY = 2
const WRITE = 3
const DELETE = 4
const DECISION = 5

/** `{ operation: kind }` for each of the space-separated operation names. */
const ofKind = (kind, names) => Object.fromEntries(names.split(' ').map((name) => [name, kind]))

/** Operations that count as reads, writes or deletes of a namespace (the rest: latency and errors). */
const OPERATION_KINDS = {
  ...ofKind(READ, 'cache.get users.get creators.get creators.getList sessions.get streams.getActive tokens.getBalance responses.get'),
  'cache.mget': READ_MANY,
  ...ofKind(WRITE, 'cache.set users.cache creators.cache creators.cacheList sessions.store streams.setActive tokens.cacheBalance responses.set'),
  ...ofKind(
    DELETE,
    'cache.del cache.delPattern users.invalidate creators.invalidate sessions.destroy streams.removeActive tokens.invalidate cache.invalidateTag',
  ),
  'rateLimiter.check': DECISION,
}

/** Operations counted under another namespace than their name's prefix. */
const OPERATION_NAMESPACES = { 'cache.invalidateTag': 'responses' }

/** Namespace counters, flat: `counters[namespaceIndex * FIELDS.length + field]`. */
const counters = new Float64Array(NAMESPACES.length * FIELDS.length)
const rateLimit = new Float64Array(RATE_LIMIT_FIELDS.length)
const meters = new Map()
let since = Date.now()

class Meter {
  constructor(operation) {
    this.operation = operation
    const ns = OPERATION_NAMESPACES[operation] ?? operation.slice(0, operation.indexOf('.'))
    const index = NAMESPACES.indexOf(ns)
    this.base = index < 0 ? -1 : index * FIELDS.length
    this.kind = OPERATION_KINDS[operation] ?? 0
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
      this.errors++
      if (this.base >= 0) counters[this.base + ERRORS]++
    }
    switch (this.kind) {
      case READ:
        // A fallback null is an error, not a miss.
        if (!failed) counters[this.base + (value === null ? MISSES : HITS)]++
        break
      case READ_MANY:
        if (!failed && Array.isArray(value)) {
          for (const item of value) counters[this.base + (item === null ? MISSES : HITS)]++
        }
        break
      case WRITE:
        if (!failed) counters[this.base + SETS]++
        break
      case DELETE:
        if (!failed) counters[this.base + DELETES]++
        break
      case DECISION:
        // The answer the caller acted on: a fail-open fallback let the request through.
        if (value && typeof value.allowed === 'boolean') rateLimit[value.allowed ? 0 : 1]++
        break
    }
  }

  time(ms) {
    let bucket = 0
    while (bucket < BUCKET_BOUNDS_MS.length && ms > BUCKET_BOUNDS_MS[bucket]) bucket++
    this.buckets[bucket]++
    this.timed++
    this.sumMs += ms
    if (ms > this.maxMs) this.maxMs = ms
  }

  /** The latency (ms) below which a fraction `q` of the calls finished, interpolated in its bucket. */
  quantile(q) {
    if (this.timed === 0) return null
    const rank = q * this.timed
    let seen = 0
    for (let i = 0; i < this.buckets.length; i++) {
      const inBucket = this.buckets[i]
      if (inBucket > 0 && seen + inBucket >= rank) {
        const lower = i === 0 ? 0 : BUCKET_BOUNDS_MS[i - 1]
        const upper = i < BUCKET_BOUNDS_MS.length ? Math.min(BUCKET_BOUNDS_MS[i], this.maxMs) : this.maxMs
        return lower + (upper - lower) * ((rank - seen) / inBucket)
      }
      seen += inBucket
    }
    return this.maxMs
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

/** Adds to a namespace counter outside a guarded call (e.g. the entries one warm() writes). */
function add(namespace, field, n) {
  const index = NAMESPACES.indexOf(namespace)
  if (index >= 0) counters[index * FIELDS.length + FIELDS.indexOf(field)] += n
}

function reset() {
  counters.fill(0)
  rateLimit.fill(0)
  for (const meter of meters.values()) meter.reset()
  since = Date.now()
}

module.exports = {
  NAMESPACES,
  FIELDS,
  RATE_LIMIT_FIELDS,
  BUCKET_BOUNDS_MS,
  TIME_ONE_IN,
  counters,
  rateLimit,
  meters,
  meterFor,
  add,
  reset,
  since: () => since,
}
