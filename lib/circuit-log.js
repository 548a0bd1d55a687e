'use strict'

const { writeLog } = require('./log')

const MESSAGES = {
  open: 'circuit open: the backend keeps failing; calls fail fast (ERR_CIRCUIT_OPEN) until a probe succeeds',
  'half-open': 'circuit half-open: the next call probes the backend',
  closed: 'circuit closed: the backend answers again',
}

/**
 * An after-call hook that logs each circuit state change once, in order (not once per call).
 * The breaker queues its changes; one synchronous call collects them, once for the calls that
 * settle together (a tick's batch settles 50 calls at once), before their callers resume.
 */
function watchCircuit(native) {
  let queued = false
  const collect = () => {
    queued = false
    for (const event of native.takeCircuitEvents()) {
      // `open`, or on a cluster `open master 10.0.0.1:6379` (each master has its own circuit).
      const [state, ...which] = event.split(' ')
      const where = which.length ? ` (${which.join(' ')})` : ''
      writeLog('warn', `[digis-redis] ${MESSAGES[state] ?? `circuit ${state}`}${where}`)
    }
  }
  return () => {
    if (queued) return
    queued = true
    queueMicrotask(collect)
  }
}

module.exports = { watchCircuit }
