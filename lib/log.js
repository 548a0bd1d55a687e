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

module.exports = { writeLog }
