'use strict'

const { writeLog } = require('./log')

const MESSAGES = {
  open: 'circuit open: the backend keeps failing; calls fail fast (ERR_CIRCUIT_OPEN) until a probe succeeds',
  'half-open': 'circuit half-open: the next call probes the backend',
  closed: 'circuit closed: the backend answers again',
}

/**
 * An after-call hook that logs each circuit state change once, in order (not once per call).
 * The breaker queues its changes; one cheap synchronous call per completed call collects them,
 * next to a network round trip.
 */
function watchCircuit(native) {
  return () => {
    for (const event of native.takeCircuitEvents()) {
      // `open`, or on a cluster `open master 10.0.0.1:6379` (each master has its own circuit).
      const [state, ...which] = event.split(' ')
      const where = which.length ? ` (${which.join(' ')})` : ''
      writeLog('warn', `[digis-redis] ${MESSAGES[state] ?? `circuit ${state}`}${where}`)
    }
  }
}

module.exports = { watchCircuit }
