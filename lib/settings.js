'use strict'

const { invalidArgument } = require('./errors')
const { toTimeoutOptions } = require('./environment')

/** Process-wide settings changed by `configure()`. */
const settings = {
  strict: false,
  logger: console,
  /** Set by index.js: hands deadline options to the native client. */
  applyTimeouts: () => {},
}

function configure(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('configure() takes an options object')
  }
  if ('strict' in options) {
    if (typeof options.strict !== 'boolean') throw invalidArgument('configure({ strict }) takes a boolean')
    settings.strict = options.strict
  }
  if ('logger' in options) {
    const { logger } = options
    if (logger === null || logger === false) {
      settings.logger = { error() {}, warn() {} }
    } else if (logger && typeof logger.error === 'function') {
      settings.logger = logger
    } else {
      throw invalidArgument('configure({ logger }) takes an object with an error() method, or null to silence')
    }
  }
  const timeouts = toTimeoutOptions(options)
  if (Object.keys(timeouts).length > 0) settings.applyTimeouts(timeouts)
  return { strict: settings.strict }
}

module.exports = { settings, configure }
