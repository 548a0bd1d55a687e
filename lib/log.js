'use strict'

const { settings } = require('./settings')

let toldLoggerThrew = false

/**
 * Writes one line to the configured logger (`warn` falls back to `error`). A logger that throws,
 * or whose methods cannot even be read, loses the line: logging must never turn a fallback into
 * a rejection, or background work into an unhandled rejection that ends the process. That it
 * threw is said once, on stderr.
 */
function writeLog(level, line) {
  try {
    const logger = settings.logger
    const warn = level === 'warn' ? logger.warn : undefined
    const write = typeof warn === 'function' ? warn : logger.error
    write.call(logger, line)
  } catch {
    if (toldLoggerThrew) return
    toldLoggerThrew = true
    try {
      process.stderr.write('[digis-redis] the configured logger threw; the lines it refused are dropped (said once)\n')
    } catch {
      // Nowhere left to say it.
    }
  }
}

/** Failures that say the backend is unreachable or slow: during an outage, every call has one. */
const OUTAGE_CODES = new Set(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_PROTOCOL', 'ERR_CIRCUIT_OPEN'])

/** '<operation> <code>' → the failures of that kind not logged since its last line. */
const quiet = new Map()

/**
 * Logs a failed call. An outage failure (connection, timeout, protocol, open circuit) is logged
 * once per `settings.logIntervalMs` for each operation and code; the calls that failed the same
 * way meanwhile are counted and summed up in one line when the interval ends. Without this,
 * the default logger wrote about 15,000 lines a second through an outage. Other failures (bad
 * input, a server's error reply) say something about that one call: each is logged.
 */
function logFailedCall(operation, code, message) {
  const line = `[digis-redis] ${operation} failed (${code}): ${message}`
  const interval = settings.logIntervalMs
  if (interval === 0 || !OUTAGE_CODES.has(code)) {
    writeLog('error', line)
    return
  }
  const kind = `${operation} ${code}`
  const held = quiet.get(kind)
  if (held !== undefined) {
    held.count++
    return
  }
  const entry = { count: 0 }
  quiet.set(kind, entry)
  writeLog('error', line)
  const timer = setTimeout(() => {
    quiet.delete(kind)
    if (entry.count > 0) {
      writeLog(
        'error',
        `[digis-redis] ${operation} failed (${code}) ${entry.count} more time${entry.count === 1 ? '' : 's'} in the last ${interval / 1000} s (not logged one by one)`,
      )
    }
  }, interval)
  // The summary never keeps the process alive.
  timer.unref()
}

/**
 * An after-call hook that logs each circuit state change once, in order (not once per call).
 * The breaker queues its changes; one synchronous call collects them, once for the calls that
 * settle together (a tick's batch settles 50 calls at once), in a microtask: before the
 * callers awaiting those calls resume (the express stores' callbacks may run first).
 */
function watchCircuit(native) {
  let queued = false
  const collect = () => {
    queued = false
    // Each change as its line (the core's circuit.rs), on a cluster naming the master.
    for (const line of native.takeCircuitEvents()) writeLog('warn', line)
  }
  return () => {
    if (queued) return
    queued = true
    queueMicrotask(collect)
  }
}

module.exports = { writeLog, logFailedCall, watchCircuit }
