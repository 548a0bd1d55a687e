'use strict'

// Like the original module, load .env from the working directory at require time; dotenv never
// overrides variables that are already set.
require('dotenv').config({ quiet: true })

const binding = require('./binding')
const { selectBackend, backendOptionsFromEnv, redisOnNodeLoop, EMBEDDED_WARNING, UNCONFIGURED_ERROR } = require('./lib/environment')
const { createFeatures } = require('./lib/features')
const { RawClient, useNative } = require('./lib/raw-client')
const { configure, settings } = require('./lib/settings')
const { DigisRedisError, typed } = require('./lib/errors')
const { watchCircuit } = require('./lib/log')
const { createAnalytics } = require('./lib/analytics')
const { createResponseCache } = require('./lib/response-cache')
const { createCreatorWarming } = require('./lib/creator-warming')
const { createSessionStoreClass, createRateLimitStoreClass } = require('./lib/express-stores')
const { inIssueOrder } = require('./lib/coalescer')

// The I/O thread count is read when the addon loads; a bad value is reported like the others.
const ioThreadsProblem = binding.ioThreadsProblem()
if (ioThreadsProblem) console.error(`[digis-redis] ignoring ${ioThreadsProblem}`)

// Deadline and breaker options so far (environment, then configure()), for a backend made later.
const backendOptions = backendOptionsFromEnv()

/**
 * The native client for a backend. A server backend's calls are gathered per tick by the
 * coalescers; every other call sends what they hold first (lib/coalescer.js). The embedded
 * store gathers nothing: each call acts when issued.
 */
function createNative(selection) {
  const { kind } = selection
  const server = ['upstash', 'cluster', 'redis'].includes(kind)
  if (kind === 'unconfigured') console.error(UNCONFIGURED_ERROR)
  else if (!server) console.warn(EMBEDDED_WARNING)
  const native = binding.NativeClient.forSelection(selection, backendOptions, kind === 'redis' ? redisOnNodeLoop() : undefined)
  return server ? inIssueOrder(native) : native
}

let native = createNative(selectBackend())
settings.applyBackendOptions = (options) => {
  Object.assign(backendOptions, options)
  native.setOptions(options)
}
if (native.backend !== 'embedded') settings.afterCall = watchCircuit(native)

const TTL = Object.freeze(JSON.parse(binding.ttlJson()))
const CACHE_PREFIXES = Object.freeze(JSON.parse(binding.cachePrefixesJson()))
let features = createFeatures(native, binding, TTL)
// configure({ nearCache }); a backend made later (configure({ cluster })) gets it too.
settings.applyNearCache = (options) => typed(() => features.setNearCache(options))

/**
 * The native client of the moment, for the parts that are not on a hot path (analytics, the
 * response cache, creator warming, the express adapters): they follow configure({ cluster }).
 */
let boundMethods = new Map()
const currentNative = new Proxy(
  {},
  {
    get(_, name) {
      const value = native[name]
      if (typeof value !== 'function') return value
      let method = boundMethods.get(name)
      if (method === undefined) {
        method = value.bind(native)
        boundMethods.set(name, method)
      }
      return method
    },
  },
)
const analytics = createAnalytics(currentNative)
const { cacheResponse, invalidateTag } = createResponseCache(currentNative, TTL)
const warming = createCreatorWarming(currentNative, binding, TTL)

/** The namespaces as exported: the features plus what the next-step modules add to them. */
function namespaces() {
  return {
    ...features,
    cache: { ...features.cache, invalidateTag },
    creators: {
      ...features.creators,
      // Counting a read is a Map increment here; the counts reach the backend later, in batches.
      get: (creatorId) => {
        warming.countRead(creatorId)
        return features.creators.get(creatorId)
      },
      popular: warming.popular,
      warm: warming.warm,
      startWarming: warming.startWarming,
    },
  }
}

/**
 * configure({ cluster }): every later call goes to the cluster. The exported namespace objects
 * and the raw client are updated in place, so references to them (`const { cache } = require(…)`)
 * follow; a function taken out of a namespace earlier, or a rate-limit middleware made earlier,
 * keeps the previous backend, so configure the cluster at start-up.
 */
settings.useCluster = (urls) => {
  // The previous backend's near cache stops tracking; the new one gets the same options below.
  if (settings.nearCache !== null) features.setNearCache(null)
  native = createNative({ kind: 'cluster', urls })
  boundMethods = new Map()
  settings.afterCall = watchCircuit(native)
  features = createFeatures(native, binding, TTL)
  if (settings.nearCache !== null) settings.applyNearCache(settings.nearCache)
  // Every namespace object (functions such as testConnection are wrapped below, not replaced).
  for (const [name, namespace] of Object.entries(namespaces())) {
    if (typeof namespace === 'object') Object.assign(module.exports[name], namespace)
  }
  useNative(module.exports.redis, native)
}

/** PING; `true` when the backend answers. Fallback `false`. */
function testConnection() {
  return features.testConnection()
}

/** `{ backend, ok, latencyMs, circuit, lastError, transport }` (null latency and error when none); never rejects. */
const health = async () => native.health()

module.exports = {
  redis: new RawClient(native),
  ...namespaces(),
  testConnection,
  CACHE_PREFIXES,
  TTL,
  health,
  // Extras (the contract allows additions; none of them is a name callers probe for).
  configure,
  DigisRedisError,
  cacheResponse,
  analytics,
  // Adapters for express-session and express-rate-limit.
  SessionStore: createSessionStoreClass({
    native: currentNative,
    sendRaw: (key, onValue, onError) => features.sendRaw(key, onValue, onError),
    sendExpireRaw: (key, seconds, onValue, onError) => features.sendExpireRaw(key, seconds, onValue, onError),
    TTL,
  }),
  RateLimitStore: createRateLimitStoreClass({
    native: currentNative,
    sendWindowHits: (key, windowMs, change, restart, onValue, onError) => features.sendWindowHits(key, windowMs, change, restart, onValue, onError),
  }),
}
