'use strict'

const { DigisRedisError } = require('./errors')

/**
 * Sends raw commands in one round trip (not atomic: on Redis Cluster they may span slots) and
 * resolves with their results in order; the first failed item rejects with its code and message.
 */
async function runPipeline(native, commands) {
  const items = JSON.parse(await native.pipeline(commands, false))
  const failed = items.find((item) => item.error !== undefined)
  if (failed) throw new DigisRedisError(failed.code, failed.error)
  return items.map((item) => item.result)
}

module.exports = { runPipeline }
