'use strict'

/**
 * Sends raw commands in one round trip (not atomic: on Redis Cluster they may span slots) and
 * resolves with their results in order; the first failed item rejects as "<CODE>: <message>",
 * which the guard turns into a typed error.
 */
async function runPipeline(native, commands) {
  const items = JSON.parse(await native.pipeline(commands, false))
  const failed = items.find((item) => item.error !== undefined)
  if (failed) throw new Error(`${failed.code ?? 'ERR_COMMAND'}: ${failed.error}`)
  return items.map((item) => item.result)
}

module.exports = { runPipeline }
