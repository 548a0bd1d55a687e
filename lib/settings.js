'use strict'

const { invalidArgument } = require('./errors')
const { toBackendOptions, clusterUrls, logIntervalFromEnv } = require('./environment')

/** Longest interval between two lines about one kind of outage failure (an hour). */
const MAX_LOG_INTERVAL_MS = 3600000

/** Process-wide settings changed by `configure()`. */
const settings = {
  strict: false,
  logger: console,
  /** An outage failure of one operation is logged once per interval (0: every time); lib/log.js. */
  logIntervalMs: logIntervalFromEnv(MAX_LOG_INTERVAL_MS),
  /** Wrong guesses that destroy a one-time code. */
  otpMaxAttempts: 5,
  /** How long a viewer counts as present after their last viewerJoined() heartbeat. */
  viewerPresenceSeconds: 60,
  /** Age at which a creator profile read counts half toward creators.popular(). */
  popularityHalfLifeSeconds: 3600,
  /** Set by index.js: hands deadline and breaker options to the native client. */
  applyBackendOptions: () => {},
  /** Set by index.js: called after every public call (circuit state changes are logged). */
  afterCall: () => {},
  /** Set by index.js: moves every later call to a Redis Cluster with these seed URLs. */
  useCluster: () => {},
}

const isIntegerIn = (n, min, max) => Number.isInteger(n) && n >= min && n <= max

/** configure()'s numeric settings: name → [whether a value is accepted, what the setting takes]. */
const NUMBER_SETTINGS = {
  logIntervalMs: [(n) => isIntegerIn(n, 0, MAX_LOG_INTERVAL_MS), `whole milliseconds from 0 to ${MAX_LOG_INTERVAL_MS}`],
  otpMaxAttempts: [(n) => isIntegerIn(n, 1, 86400), 'an integer from 1 to 86400'],
  viewerPresenceSeconds: [(n) => isIntegerIn(n, 1, 86400), 'an integer from 1 to 86400'],
  // Fractions allowed (tests, bursty traffic); at most 30 days, beyond which counts barely decay.
  popularityHalfLifeSeconds: [(n) => typeof n === 'number' && n >= 0.01 && n <= 2592000, 'a number of seconds from 0.01 to 2592000'],
}

/**
 * Checks every option first and only then applies them, so a call that throws (a TypeError for
 * a bad option) changes nothing.
 */
function configure(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('configure() takes an options object')
  }
  const cluster = 'cluster' in options ? clusterUrls(options.cluster, 'configure({ cluster })') : null
  const changes = {}
  if ('strict' in options) {
    if (typeof options.strict !== 'boolean') throw invalidArgument('configure({ strict }) takes a boolean')
    changes.strict = options.strict
  }
  if ('logger' in options) {
    const { logger } = options
    if (logger === null || logger === false) {
      changes.logger = { error() {}, warn() {} }
    } else if (logger && typeof logger.error === 'function') {
      changes.logger = logger
    } else {
      throw invalidArgument('configure({ logger }) takes an object with an error() method, or null to silence')
    }
  }
  for (const [name, [accepts, takes]] of Object.entries(NUMBER_SETTINGS)) {
    if (!(name in options)) continue
    const n = options[name]
    if (!accepts(n)) throw invalidArgument(`configure({ ${name} }) takes ${takes}`)
    changes[name] = n
  }
  const backendOptions = toBackendOptions(options)
  Object.assign(settings, changes)
  if (cluster) settings.useCluster(cluster)
  if (Object.keys(backendOptions).length > 0) settings.applyBackendOptions(backendOptions)
  return Object.fromEntries(['strict', ...Object.keys(NUMBER_SETTINGS)].map((name) => [name, settings[name]]))
}

module.exports = { settings, configure }
