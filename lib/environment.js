'use strict'

// What the environment configures, read by the core (crates/core/src/environment.rs): the
// backend it selects (Upstash REST, else REDIS_CLUSTER_URLS, else REDIS_URL, else the embedded
// store, or none under NODE_ENV=production without DIGIS_REDIS_EMBEDDED=1), the backends'
// options, the transport and the outage log interval. `env` is any object of variables.

const binding = require('../binding')
const { typed } = require('./errors')

/** A setting the core read, what it ignored reported. */
function reported({ value, problems }, report) {
  for (const problem of problems) report(`[digis-redis] ignoring ${problem}`)
  return value
}

module.exports = {
  /** `{ kind, url, token }` or `{ kind, urls }`; read once at require time like the original. */
  selectBackend: (env = process.env) => typed(() => binding.selectBackend(env)),
  /** Seed node URLs of a cluster, from a comma-separated string or an array of strings. */
  clusterUrls: (value, source = 'cluster') => typed(() => binding.clusterUrls(value, source)),
  /** The names of configure()'s numeric options. */
  NUMERIC_OPTIONS: binding.numericOptionNames(),
  /** configure()'s numbers → `{ settings, backend }` (a TypeError for a bad one). */
  configureOptions: (options) => typed(() => binding.configureOptions(options)),
  backendOptionsFromEnv: (env = process.env, report = console.error) => reported(binding.backendOptionsFromEnv(env), report),
  /** DIGIS_REDIS_TRANSPORT, else Node's loop on Node and the I/O thread on Bun and Deno (partial libuv). */
  redisOnNodeLoop: (env = process.env, report = console.error, versions = process.versions) =>
    reported(binding.transportFromEnv(env), report) ?? (!versions.bun && !versions.deno),
  logIntervalFromEnv: (env = process.env, report = console.error) => reported(binding.logIntervalFromEnv(env), report),
  EMBEDDED_WARNING: binding.EMBEDDED_WARNING,
  UNCONFIGURED_ERROR: binding.UNCONFIGURED_ERROR,
}
