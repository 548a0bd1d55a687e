'use strict'

const { settings } = require('./settings')
const { toTypedError } = require('./errors')

/**
 * Runs one public call. A failure is logged once (operation, code and reason; never values or
 * keys) and answered with the contract's fallback, or rethrown as a typed error in strict mode.
 * `fallback` may be a function, for fallbacks that depend on the arguments.
 */
async function guarded(operation, fallback, run) {
  try {
    return await run()
  } catch (thrown) {
    return failed(operation, fallback, thrown)
  } finally {
    settings.afterCall()
  }
}

/**
 * `guarded` for work that finishes on the calling thread (the embedded store): the same answers
 * as a promise, without the cost of async frames on the hottest paths.
 */
function guardedNow(operation, fallback, run) {
  try {
    return Promise.resolve(run())
  } catch (thrown) {
    try {
      return Promise.resolve(failed(operation, fallback, thrown))
    } catch (strictError) {
      return Promise.reject(strictError)
    }
  } finally {
    settings.afterCall()
  }
}

function failed(operation, fallback, thrown) {
  const err = toTypedError(thrown)
  if (settings.strict) throw err
  settings.logger.error(`[digis-redis] ${operation} failed (${err.code}): ${err.message}`)
  return typeof fallback === 'function' ? fallback() : fallback
}

module.exports = { guarded, guardedNow }
