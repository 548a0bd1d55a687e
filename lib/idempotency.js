'use strict'

const { guarded } = require('./guard')
const { toKey, toTtl, describe } = require('./codec')
const { invalidArgument } = require('./errors')

function readFailClosed(options) {
  if (options === undefined || options === null) return false
  if (typeof options !== 'object') throw invalidArgument(`options must be an object, got ${describe(options)}`)
  const { failClosed = false } = options
  if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
  return failClosed
}

/**
 * Idempotency keys at `idempotency:<key>`. When the backend fails, `claim` answers `true`
 * ("process it") unless `failClosed`: webhook senders deliver at least once and retry, so a
 * duplicate is the failure handlers already face, while answering "seen" would drop the event
 * for good. `failClosed: true` answers `false` instead; strict mode rejects, so a handler can
 * answer 5xx and let the sender retry.
 */
function createIdempotency(native, TTL) {
  return {
    claim: (key, ttl = TTL.DAY, options = undefined) =>
      guarded(
        'idempotency.claim',
        () => !(options && options.failClosed === true),
        async () => {
          readFailClosed(options)
          return native.idempotencyClaim(toKey(key), toTtl(ttl))
        },
      ),
    release: (key) => guarded('idempotency.release', false, async () => native.idempotencyRelease(toKey(key))),
  }
}

module.exports = { createIdempotency }
