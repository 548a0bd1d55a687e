'use strict'

const { guarded } = require('./public-call')
const { toKey, toTtl, readOptionValues } = require('./codec')
const { invalidArgument } = require('./errors')

/**
 * Idempotency keys at `idempotency:<key>`. When the backend fails, `claim` answers `true`
 * ("process it") unless `failClosed`: webhook senders deliver at least once and retry, so a
 * duplicate is the failure handlers already face, while answering "seen" would drop the event
 * for good. `failClosed: true` answers `false` instead; strict mode rejects, so a handler can
 * answer 5xx and let the sender retry.
 */
function createIdempotency(native, TTL) {
  return {
    claim: (key, ttl = TTL.DAY, options = undefined) => {
      // Read once, inside the guard; the fallback answers "seen" only when asked to.
      let failClosed = false
      return guarded(
        'idempotency.claim',
        () => !failClosed,
        async () => {
          const { failClosed: asked = false } = readOptionValues(options, ['failClosed'])
          failClosed = asked === true
          if (typeof asked !== 'boolean') throw invalidArgument('failClosed must be a boolean')
          return native.idempotencyClaim(toKey(key), toTtl(ttl))
        },
      )
    },
    release: (key) => guarded('idempotency.release', false, async () => native.idempotencyRelease(toKey(key))),
  }
}

module.exports = { createIdempotency }
