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

const NATIVE_ERROR = /^(ERR_[A-Z_]+): ([\s\S]*)$/

/**
 * Turns whatever a call threw into a typed error: native errors carry "<CODE>: <message>".
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
  const match = NATIVE_ERROR.exec(message)
  if (match) {
    return match[1] === 'ERR_INVALID_ARGUMENT' ? invalidArgument(match[2]) : new DigisRedisError(match[1], match[2])
  }
  // The binding rejected an argument it could not convert (a JS type error at the boundary).
  if (err && (err.code === 'InvalidArg' || err.code === 'NumberExpected' || err.code === 'StringExpected')) {
    return invalidArgument(message)
  }
  return new DigisRedisError('ERR_INTERNAL', message)
}

module.exports = { DigisRedisError, invalidArgument, refuseUnknownOptions, toTypedError }
