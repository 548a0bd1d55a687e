'use strict'

// Like the original module, load .env from the working directory at require time; dotenv never
// overrides variables that are already set.
require('dotenv').config({ quiet: true })

const binding = require('./binding')
const { selectBackend, backendOptionsFromEnv, EMBEDDED_WARNING } = require('./lib/environment')
const { createFeatures } = require('./lib/features')
const { RawClient } = require('./lib/raw-client')
const { configure, settings } = require('./lib/settings')
const { DigisRedisError } = require('./lib/errors')
const { watchCircuit } = require('./lib/circuit-log')
const { createAnalytics } = require('./lib/analytics')
const { createResponseCache } = require('./lib/response-cache')
const { createCreatorWarming } = require('./lib/creator-warming')
const { createSessionStoreClass } = require('./lib/session-store')
const { createRateLimitStoreClass } = require('./lib/rate-limit-store')

function createNative(selection) {
  const options = backendOptionsFromEnv()
  switch (selection.kind) {
    case 'upstash':
      return binding.NativeClient.upstash(selection.url, selection.token, options)
    case 'redis':
      return binding.NativeClient.redis(selection.url, options)
    default:
      console.warn(EMBEDDED_WARNING)
      return binding.NativeClient.embedded()
  }
}

const native = createNative(selectBackend())
settings.applyBackendOptions = (options) => native.setOptions(options)
if (native.backend !== 'embedded') settings.afterCall = watchCircuit(native)

const TTL = Object.freeze(JSON.parse(binding.ttlJson()))
const CACHE_PREFIXES = Object.freeze(JSON.parse(binding.cachePrefixesJson()))
const features = createFeatures(native, binding, TTL)
const analytics = createAnalytics(native)
const { cacheResponse, invalidateTag } = createResponseCache(native, binding, TTL)
const warming = createCreatorWarming(native, binding, TTL, CACHE_PREFIXES.CREATOR)

/** `{ backend, ok, latencyMs, circuit, lastError }`; never rejects. */
async function health() {
  const { backend, ok, latencyMs, circuit, lastError } = await native.health()
  return { backend, ok, latencyMs: latencyMs ?? null, circuit, lastError: lastError ?? null }
}

module.exports = {
  redis: new RawClient(native),
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
  CACHE_PREFIXES,
  TTL,
  health,
  // Extras (the contract allows additions; none of them is a name callers probe for).
  configure,
  DigisRedisError,
  cacheResponse,
  analytics,
  // Adapters for express-session and express-rate-limit.
  SessionStore: createSessionStoreClass({ native, Namespace: binding.Namespace, TTL }),
  RateLimitStore: createRateLimitStoreClass({ native, Namespace: binding.Namespace }),
}
