'use strict'

// Like the original module, load .env from the working directory at require time; dotenv never
// overrides variables that are already set.
require('dotenv').config({ quiet: true })

const binding = require('./binding')
const { selectBackend, EMBEDDED_WARNING } = require('./lib/environment')
const { createFeatures } = require('./lib/features')
const { RawClient } = require('./lib/raw-client')
const { configure } = require('./lib/settings')
const { DigisRedisError } = require('./lib/errors')

function createNative(selection) {
  if (selection.kind !== 'embedded') {
    // Server backends arrive with the next release; say so instead of silently pretending.
    console.error(
      `[digis-redis] The ${selection.kind} backend selected by the environment is not available in this ` +
        'version; falling back to the embedded store.',
    )
  }
  console.warn(EMBEDDED_WARNING)
  return binding.NativeClient.embedded()
}

const native = createNative(selectBackend())

const TTL = Object.freeze(JSON.parse(binding.ttlJson()))
const CACHE_PREFIXES = Object.freeze(JSON.parse(binding.cachePrefixesJson()))
const features = createFeatures(native, binding.Namespace, TTL)

module.exports = {
  redis: new RawClient(native),
  ...features,
  CACHE_PREFIXES,
  TTL,
  // Extras (the contract allows additions; none of them is a name callers probe for).
  configure,
  DigisRedisError,
}
