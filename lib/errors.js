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

module.exports = { DigisRedisError, invalidArgument, toTypedError }
