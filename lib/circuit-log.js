'use strict'

const { settings } = require('./settings')

const MESSAGES = {
  open: 'circuit open: the backend keeps failing; calls fail fast (ERR_CIRCUIT_OPEN) until a probe succeeds',
  'half-open': 'circuit half-open: the next call probes the backend',
  closed: 'circuit closed: the backend answers again',
}

/**
 * An after-call hook that logs each circuit state change once (not once per call). It reads
 * the state synchronously after every call on a server backend: one cheap getter, next to a
 * network round trip.
 */
function watchCircuit(native) {
  let last = 'closed'
  return () => {
    const state = native.circuit
    if (state === last) return
    last = state
    const log = settings.logger.warn ?? settings.logger.error
    log.call(settings.logger, `[digis-redis] ${MESSAGES[state] ?? `circuit ${state}`}`)
  }
}

module.exports = { watchCircuit }
