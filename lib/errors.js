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

/** The binding's answer, outside a guarded call; its ERR_INVALID_ARGUMENT as the TypeError bad input throws. */
function typed(call) {
  try {
    return call()
  } catch (err) {
    throw toTypedError(err)
  }
}

/**
 * Rethrows `thrown` on the next tick: the application's bug (a throwing callback or listener)
 * as an uncaught exception, as from any callback API or event emitter, not an unhandled
 * rejection of a promise nobody holds, and not a failure of the call that ran it.
 */
function throwUncaught(thrown) {
  process.nextTick(() => {
    throw thrown
  })
}

module.exports = { DigisRedisError, invalidArgument, toTypedError, typed, throwUncaught }
