'use strict'

/** Keys per SCAN step: large enough for few round trips, small enough not to hold a server. */
const SCAN_COUNT = 1000

/** Every key matching `pattern`, by incremental SCAN (never KEYS) of `count` per step, each once. */
async function listKeys(native, pattern, count = SCAN_COUNT) {
  const keys = new Set()
  let cursor = '0'
  do {
    const [next, batch] = JSON.parse(await native.command(['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(count)]))
    for (const key of batch) keys.add(key)
    cursor = next
  } while (cursor !== '0')
  return [...keys]
}

module.exports = { listKeys }
