'use strict'

const { settings } = require('./settings')
const { toTypedError } = require('./errors')

/**
 * Runs one public call. A failure is logged once (operation, code and reason; never values or
 * keys) and answered with the contract's fallback, or rethrown as a typed error in strict mode.
 * `fallback` may be a function, for fallbacks that depend on the arguments; it is given the typed
 * error (callback-style adapters hand it on).
 */
async function guarded(operation, fallback, run) {
  try {
    return await run()
  } catch (thrown) {
    const err = toTypedError(thrown)
    if (settings.strict) throw err
    settings.logger.error(`[digis-redis] ${operation} failed (${err.code}): ${err.message}`)
    return typeof fallback === 'function' ? fallback(err) : fallback
  } finally {
    settings.afterCall()
  }
}

module.exports = { guarded }
