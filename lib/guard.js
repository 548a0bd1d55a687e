'use strict'

const { settings } = require('./settings')
const { toTypedError } = require('./errors')
const { meterFor } = require('./metrics')

/**
 * Runs one public call. A failure is logged once (operation, code and reason; never values or
 * keys) and answered with the contract's fallback, or rethrown as a typed error in strict mode.
 * `fallback` may be a function, for fallbacks that depend on the arguments. Every call is
 * counted (and one in TIME_ONE_IN timed) in process for `analytics` (lib/metrics.js).
 */
async function guarded(operation, fallback, run) {
  const meter = meterFor(operation)
  const started = meter.start()
  try {
    const value = await run()
    meter.record(started, value, false)
    return value
  } catch (thrown) {
    const err = toTypedError(thrown)
    if (settings.strict) {
      meter.record(started, undefined, true)
      throw err
    }
    settings.logger.error(`[digis-redis] ${operation} failed (${err.code}): ${err.message}`)
    const value = typeof fallback === 'function' ? fallback() : fallback
    meter.record(started, value, true)
    return value
  } finally {
    settings.afterCall()
  }
}

module.exports = { guarded }
