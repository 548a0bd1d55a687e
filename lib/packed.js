'use strict'

// Batches cross the napi boundary packed: many strings as their concatenation plus each one's
// length (UTF-16 code units, what `length` and `slice` count), and namespaces as bytes. One
// string and one typed array cost a fraction of an array whose every element is a V8 call.

/** `{ text, lengths }` of the strings at `column` of each item. */
function packStrings(items, column) {
  const lengths = new Uint32Array(items.length)
  let text = ''
  for (let i = 0; i < items.length; i++) {
    lengths[i] = items[i][column].length
    text += items[i][column]
  }
  return { text, lengths }
}

/**
 * Column `at` of each item in a new typed array of `Type`, through `pick` if given. A loop, not
 * `Type.from(items, fn)`, whose closure call per item showed in a batched store call's profile.
 */
function column(Type, items, at, pick) {
  const out = new Type(items.length)
  for (let i = 0; i < items.length; i++) out[i] = pick ? pick(items[i][at]) : items[i][at]
  return out
}

/** The namespaces (column 0) of `[namespace, id, ...]` items, as bytes. */
const namespacesOf = (items) => column(Uint8Array, items, 0)

/** The near-cache placeholders of `[namespace, id, fill]` reads (0 for none), or undefined when none has one. */
function nearFills(items) {
  if (!items.some((item) => typeof item[2] === 'number')) return undefined
  return Float64Array.from(items, (item) => (typeof item[2] === 'number' ? item[2] : 0))
}

/**
 * GETs of `[namespace, id, fill?]` items in one call → `{ values, errors }` for the coalescer. A value
 * is a slice of the batch's text, so V8 does not copy it.
 */
function readMany(native, items) {
  const ids = packStrings(items, 1)
  return native.getManyPacked(namespacesOf(items), ids.text, ids.lengths, nearFills(items)).then(({ text, lengths, errors }) => {
    const values = new Array(lengths.length)
    let at = 0
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]
      if (length < 0) {
        values[i] = null
      } else {
        values[i] = text.slice(at, at + length)
        at += length
      }
    }
    return { values, errors }
  })
}

/**
 * SET / SETEX of `[namespace, id, text, ttlSeconds | null]` items in one call → null when every
 * write succeeded, else the error (or null) at each index.
 */
function writeMany(native, items) {
  const ids = packStrings(items, 1)
  const values = packStrings(items, 2)
  const lengths = new Uint32Array(2 * items.length)
  lengths.set(ids.lengths)
  lengths.set(values.lengths, items.length)
  const ttls = column(Float64Array, items, 3, (ttl) => ttl ?? -1)
  return native.setManyPacked(namespacesOf(items), ids.text, values.text, lengths, ttls)
}

/**
 * EXPIREs of `[namespace, id, seconds]` items in one call → `{ values, errors }`, a value being
 * whether the key existed and got the expiry.
 */
function expireMany(native, items) {
  const ids = packStrings(items, 1)
  const seconds = column(Uint32Array, items, 2)
  return native.expireManyPacked(namespacesOf(items), ids.text, ids.lengths, seconds).then(({ values, errors }) => ({
    values: Array.from(values, (flag) => flag === 1),
    errors,
  }))
}

/**
 * Window-counter changes of `[key, windowMs, change, restartOnHit]` items in one call →
 * `{ values, errors }`, a value being `{ hits, resetMs }` as `native.windowHits` answers.
 */
function windowHitsMany(native, items) {
  const keys = packStrings(items, 0)
  const windows = column(Uint32Array, items, 1)
  const changes = column(Int32Array, items, 2)
  const restarts = column(Uint8Array, items, 3, (restart) => (restart ? 1 : 0))
  return native.windowHitsMany(keys.text, keys.lengths, windows, changes, restarts).then(({ counts, errors }) => {
    const values = new Array(items.length)
    for (let i = 0; i < items.length; i++) values[i] = { hits: counts[2 * i], resetMs: counts[2 * i + 1] }
    return { values, errors }
  })
}

/**
 * Rate-limit checks of `[id, algorithm, limit, windowSeconds, cost]` items in one call →
 * `{ values, errors }`, a value being `{ allowed, remaining, resetMs, retryAfterMs }` as
 * `native.rateLimitCheck` answers.
 */
function rateLimitCheckMany(native, items) {
  const ids = packStrings(items, 0)
  const numbers = new Uint32Array(4 * items.length)
  for (let i = 0; i < items.length; i++) {
    const item = items[i]
    for (let k = 0; k < 4; k++) numbers[4 * i + k] = item[k + 1]
  }
  return native.rateLimitCheckMany(ids.text, ids.lengths, numbers).then(({ decided, errors }) => {
    const values = new Array(items.length)
    for (let i = 0; i < items.length; i++) {
      values[i] = { allowed: decided[4 * i] === 1, remaining: decided[4 * i + 1], resetMs: decided[4 * i + 2], retryAfterMs: decided[4 * i + 3] }
    }
    return { values, errors }
  })
}

module.exports = { readMany, writeMany, expireMany, windowHitsMany, rateLimitCheckMany }
