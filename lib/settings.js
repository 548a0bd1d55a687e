'use strict'

const { invalidArgument } = require('./errors')
const { configureOptions, clusterUrls, logIntervalFromEnv, NUMERIC_OPTIONS } = require('./environment')

/** Process-wide settings changed by `configure()`. */
const settings = {
  strict: false,
  logger: console,
  /** An outage failure of one operation is logged once per interval (0: every time); lib/log.js. */
  logIntervalMs: logIntervalFromEnv(),
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
  /** configure({ nearCache }) as the native client takes it: null (off) or its options. */
  nearCache: null,
  /** Set by index.js: hands the near cache's options (or null) to the native client; throws a TypeError for a bad one. */
  applyNearCache: () => {},
}

const NEAR_NUMBERS = ['maxBytes', 'maxEntries', 'maxStalenessMs']
const NEAR_OPTIONS = [...NEAR_NUMBERS, 'namespaces', 'cachePrefixes']

/** configure({ nearCache })'s value → null (off) or the options object (ranges checked by the core). */
function nearCacheOptions(value) {
  if (value === false || value === null) return null
  if (value === true) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgument(`configure({ nearCache }) takes true, false, or { ${NEAR_OPTIONS.join(', ')} }`)
  }
  // A misspelt option (maxbytes) would otherwise turn the cache on with the defaults.
  const unknown = Object.keys(value).find((name) => !NEAR_OPTIONS.includes(name))
  if (unknown !== undefined) {
    throw invalidArgument(`configure({ nearCache }) has no option ${JSON.stringify(unknown)}: it takes ${NEAR_OPTIONS.join(', ')}`)
  }
  const options = {}
  for (const name of NEAR_NUMBERS) {
    const number = value[name]
    if (number === undefined) continue
    if (typeof number !== 'number') throw invalidArgument(`configure({ nearCache: { ${name} } }) takes a number`)
    options[name] = number
  }
  for (const [name, what] of [
    ['namespaces', 'namespace names'],
    ['cachePrefixes', 'key prefixes'],
  ]) {
    const list = value[name]
    if (list === undefined) continue
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw invalidArgument(`configure({ nearCache: { ${name} } }) takes an array of ${what}`)
    }
    options[name] = [...list]
  }
  return options
}

/** Every option configure() takes: a misspelt one is refused, not silently ignored. */
const OPTIONS = ['cluster', 'strict', 'logger', 'nearCache', ...NUMERIC_OPTIONS]

/**
 * Checks every option first and only then applies them, so a call that throws (a TypeError for
 * a bad option) changes nothing.
 */
function configure(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw invalidArgument('configure() takes an options object')
  }
  const unknown = Object.keys(options).find((name) => !OPTIONS.includes(name))
  if (unknown !== undefined) {
    throw invalidArgument(`configure() has no option ${JSON.stringify(unknown)}: it takes ${OPTIONS.join(', ')}`)
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
  // The numeric settings (ranges in the core's environment.rs), then the backend options.
  const { settings: numbers, backend } = configureOptions(options)
  // The near cache last among the checks: the core checks its options as it applies them.
  if ('nearCache' in options) {
    changes.nearCache = nearCacheOptions(options.nearCache)
    settings.applyNearCache(changes.nearCache)
  }
  Object.assign(settings, changes, numbers)
  if (cluster) settings.useCluster(cluster)
  if (Object.keys(backend).length > 0) settings.applyBackendOptions(backend)
  const { strict, logIntervalMs, otpMaxAttempts, viewerPresenceSeconds, popularityHalfLifeSeconds } = settings
  return { strict, logIntervalMs, otpMaxAttempts, viewerPresenceSeconds, popularityHalfLifeSeconds }
}

module.exports = { settings, configure }
