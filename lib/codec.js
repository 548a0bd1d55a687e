'use strict'

const binding = require('../binding')
const { invalidArgument } = require('./errors')

/** Largest TTL the binding takes (u32 seconds, about 136 years). */
const MAX_TTL_SECONDS = 0xffffffff

/** Keys and ids: strings, or finite numbers (`users.get(42)` is `users.get('42')`). */
function toKey(value, what = 'key') {
  if (typeof value === 'string') {
    if (value.length === 0) throw invalidArgument(`${what} must not be empty`)
    wellFormed(value, what)
    return value
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  throw invalidArgument(`${what} must be a non-empty string or a finite number, got ${describe(value)}`)
}

/** A JS string is stored as-is; anything else as JSON.stringify would write it. */
function encodeValue(value) {
  if (typeof value === 'string') return wellFormed(value, 'value')
  let text
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw invalidArgument(`value cannot be encoded as JSON: ${whyNotJson(err)}`)
  }
  if (text === undefined) throw invalidArgument(`value cannot be encoded as JSON: ${describe(value)}`)
  return text
}

/**
 * Why JSON.stringify failed: its own reasons (a cycle, a BigInt) as it words them; anything else
 * was thrown by the value's own code (a toJSON method, a getter, a revoked proxy), whose message
 * may carry the value, so it is not repeated.
 */
function whyNotJson(err) {
  const message = err instanceof TypeError ? err.message : ''
  return /circular structure|BigInt/.test(message) ? message : 'a toJSON method or property getter of the value threw'
}

/**
 * Strings cross to Rust as UTF-8, where an unpaired surrogate has no encoding and would be
 * stored as U+FFFD: refuse it rather than store something else. (Inside objects, JSON.stringify
 * escapes lone surrogates, so those values are stored faithfully.)
 */
function wellFormed(text, what) {
  if (!text.isWellFormed()) throw invalidArgument(`${what} contains an unpaired UTF-16 surrogate, which cannot be stored as UTF-8`)
  return text
}

/**
 * A stored text read as @upstash/redis's automatic deserialization reads it (the original
 * module's read path: old and new processes share one database). JSON.parse when it can, else
 * the raw string; and a number that would not print back to the same text stays the text
 * ('1.50', '1e3', '-0', '12345678901234567890'). So a stored '42' reads back as 42 (kept quirk).
 * The one rule of every read: feature reads, the raw client, the adapters.
 */
function decodeValue(text) {
  if (text === null || text === undefined) return null
  const parsed = parseJsonOrText(text)
  return typeof parsed === 'number' && String(parsed) !== text ? text : parsed
}

/** JSON.parse's value, else the text itself: @upstash/redis's reading of hash values and messages. */
function parseJsonOrText(text) {
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const DECIMAL = /^-?\d+(\.\d+)?$/

/**
 * Token balances round-trip exactly: numbers as their text, BigInts as their digits, decimal
 * strings as JSON strings (so '12.50' keeps its zero and stays a string). All three are JSON,
 * so `cache.get('token:<id>')` still reads them.
 */
function encodeBalance(balance) {
  if (typeof balance === 'bigint') return balance.toString()
  if (typeof balance === 'number' && Number.isFinite(balance)) return String(balance)
  if (typeof balance === 'string' && DECIMAL.test(balance)) return JSON.stringify(balance)
  throw invalidArgument(`balance must be a finite number, a BigInt or a decimal string, got ${describe(balance)}`)
}

/** Integers beyond 2^53 come back as BigInt, so no digit is lost. */
function decodeBalance(text) {
  if (text === null || text === undefined) return null
  if (text.startsWith('"')) return parseJsonOrText(text)
  if (/^-?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }
  const n = Number(text)
  return text.trim() !== '' && Number.isFinite(n) ? n : text
}

/** A whole number from `min` to MAX_TTL_SECONDS, or a string of digits (as Redis itself accepts). */
function toWholeNumber(value, what, min, unit) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  if (typeof n === 'number' && Number.isInteger(n) && n >= min && n <= MAX_TTL_SECONDS) return n
  throw invalidArgument(`${what} must be ${unit} (an integer from ${min} to ${MAX_TTL_SECONDS}), got ${describe(value)}`)
}

/** Whole seconds, 0 included. */
function toSeconds(value, what) {
  return toWholeNumber(value, what, 0, 'whole seconds')
}

/**
 * A TTL argument: 0, null, false or '' means no expiry, as in the original; otherwise whole
 * seconds. NaN, though falsy, is refused: it is a computation gone wrong, not "no expiry".
 * `undefined` has already been replaced by the default.
 */
function toTtl(value) {
  if (value === 0 || value === null || value === false || value === '') return null
  return toSeconds(value, 'ttl')
}

/** A positive whole number (limits, windows, refresh TTLs). */
function toPositiveInteger(value, what) {
  return toWholeNumber(value, what, 1, 'a positive whole number')
}

/**
 * What a refused value is, for a message: its type (with the value for a number or a boolean,
 * the length for a string), never its content. The core's wording (src/js_error.rs), asked only
 * when a call is refused.
 */
const describe = (value) => binding.describe(value)

/**
 * The named properties of a caller's options object, each read once (a getter runs once) into a
 * plain object, inside the call's guard. One that cannot be read (a throwing getter, a revoked
 * proxy) is bad input, answered like any other.
 */
function readOptionValues(options, names) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw invalidArgument(`options must be an object, got ${describe(options)}`)
  const values = {}
  for (const name of names) {
    try {
      values[name] = options[name]
    } catch {
      throw invalidArgument(`options.${name} could not be read`)
    }
  }
  return values
}

module.exports = {
  MAX_TTL_SECONDS,
  toKey,
  encodeValue,
  decodeValue,
  parseJsonOrText,
  encodeBalance,
  decodeBalance,
  toTtl,
  toSeconds,
  toPositiveInteger,
  describe,
  wellFormed,
  whyNotJson,
  readOptionValues,
}
