'use strict'

/** An operational failure (server error reply, unreachable backend, timeout), with a `code`. */
class DigisRedisError extends Error {
  constructor(code, message) {
    super(message)
    this.name = 'DigisRedisError'
    this.code = code
  }
}

/** Bad input: a TypeError carrying `code: 'ERR_INVALID_ARGUMENT'`. */
function invalidArgument(message) {
  const err = new TypeError(message)
  err.code = 'ERR_INVALID_ARGUMENT'
  return err
}

/**
 * Refuses options a constructor does not know, naming them all (a misspelt option silently
 * ignored is a bug found in production). `hints` explains options a peer library takes that are
 * not needed here.
 */
function refuseUnknownOptions(owner, options, known, hints = {}) {
  const unknown = Object.keys(options).filter((name) => !known.includes(name))
  if (unknown.length === 0) return
  const reasons = unknown.map((name) => (Object.hasOwn(hints, name) ? `${name} (${hints[name]})` : name))
  throw invalidArgument(`${owner} does not take the option${unknown.length > 1 ? 's' : ''} ${reasons.join(', ')}; it takes ${known.join(', ')}`)
}

/** The codes the binding sets on the errors it throws (from Rust's error kinds). */
const NATIVE_CODES = new Set(require('../binding').errorCodes())

/** The binding's argument conversion failures (a JS type error at the boundary). */
const CONVERSION_CODES = new Set(['InvalidArg', 'NumberExpected', 'StringExpected'])

/**
 * Turns whatever a call threw into a typed error: the binding's errors carry their `code`.
 * Never throws itself, whatever was thrown (a user loader may throw a revoked proxy, or an
 * object whose `message` getter throws).
 */
function toTypedError(err) {
  try {
    return typedError(err)
  } catch {
    return new DigisRedisError('ERR_INTERNAL', 'a value that cannot be read was thrown')
  }
}

function typedError(err) {
  if (err instanceof DigisRedisError || (err instanceof TypeError && err.code === 'ERR_INVALID_ARGUMENT')) {
    return err
  }
  const message = err && typeof err.message === 'string' ? err.message : String(err)
  // Not `instanceof Error`: the binding's errors may come from another realm (a vm context).
  const code = err !== null && typeof err === 'object' ? err.code : undefined
  if (code === 'ERR_INVALID_ARGUMENT' || CONVERSION_CODES.has(code)) return invalidArgument(message)
  return new DigisRedisError(NATIVE_CODES.has(code) ? code : 'ERR_INTERNAL', message)
}

module.exports = { DigisRedisError, invalidArgument, refuseUnknownOptions, toTypedError }
