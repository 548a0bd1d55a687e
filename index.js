'use strict'

// Like the original module, load .env from the working directory at require time; dotenv never
// overrides variables that are already set.
require('dotenv').config({ quiet: true })

const binding = require('./binding')
const { selectBackend, timeoutsFromEnv, EMBEDDED_WARNING } = require('./lib/environment')
const { createFeatures } = require('./lib/features')
const { RawClient } = require('./lib/raw-client')
const { configure, settings } = require('./lib/settings')
const { DigisRedisError } = require('./lib/errors')

function createNative(selection) {
  const timeouts = timeoutsFromEnv()
  switch (selection.kind) {
    case 'upstash':
      return binding.NativeClient.upstash(selection.url, selection.token, timeouts)
    case 'redis':
      return binding.NativeClient.redis(selection.url, timeouts)
    default:
      console.warn(EMBEDDED_WARNING)
      return binding.NativeClient.embedded()
  }
}

const native = createNative(selectBackend())
settings.applyTimeouts = (timeouts) => native.setTimeouts(timeouts)

const TTL = Object.freeze(JSON.parse(binding.ttlJson()))
const CACHE_PREFIXES = Object.freeze(JSON.parse(binding.cachePrefixesJson()))
const features = createFeatures(native, binding, TTL)

module.exports = {
  redis: new RawClient(native),
  ...features,
  CACHE_PREFIXES,
  TTL,
  // Extras (the contract allows additions; none of them is a name callers probe for).
  configure,
  DigisRedisError,
}
