'use strict'

const { invalidArgument } = require('./errors')

/** Process-wide settings changed by `configure()`. */
const settings = {
  strict: false,
  logger: console,
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
  return { strict: settings.strict }
}

module.exports = { settings, configure }
