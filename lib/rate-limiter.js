'use strict'

const binding = require('../binding')
const { guardedSend, guardedNow, trueWhenDone } = require('./public-call')
const { toKey, toPositiveInteger, readOptionValues } = require('./codec')
const { invalidArgument } = require('./errors')
const { clientAddressKey, requestAddress } = require('./client-ip')
const { createCoalescer } = require('./coalescer')
const { rateLimitCheckMany } = require('./packed')

/** The `algorithm` option's names, each at the index that is its id in the binding. */
const ALGORITHM_NAMES = binding.rateLimitAlgorithmNames()

/** The caller's number (or digit string) for a fallback answer, else the default. */
function numberOr(value, otherwise) {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) ? n : otherwise
}

/** The contract's fail-open answer, or a block when the caller asked to fail closed. */
function fallbackResult(limit, window, failClosed) {
  const lim = numberOr(limit, 10)
  const win = numberOr(window, 60)
  return failClosed
    ? { allowed: false, remaining: 0, reset: win, limit: lim, retryAfter: win }
    : { allowed: true, remaining: lim, reset: win, limit: lim, retryAfter: 0 }
}

/** What `check` answers, from the core's decision (milliseconds) and the limit asked for. */
function result(allowed, remaining, resetMs, retryAfterMs, limit) {
  return {
    allowed,
    remaining,
    reset: Math.ceil(resetMs / 1000),
    limit,
    // A refusal always asks for at least a second, even in a window's last millisecond.
    retryAfter: allowed ? 0 : Math.max(1, Math.ceil(retryAfterMs / 1000)),
  }
}

const OPTION_NAMES = ['failClosed', 'algorithm', 'cost']

/** `{ algorithm, cost, failClosed }` checked (cost is checked against the limit by the caller). */
function checkOptions({ algorithm = 'token-bucket', cost = 1, failClosed = false }) {
  if (!ALGORITHM_NAMES.includes(algorithm)) {
    throw invalidArgument(`algorithm must be one of ${ALGORITHM_NAMES.join(', ')}, got ${JSON.stringify(algorithm)}`)
  }
  if (typeof failClosed !== 'boolean') throw invalidArgument('failClosed must be a boolean')
  return { algorithm, cost, failClosed }
}

function createRateLimiter(native) {
  // A client known to be blocked is answered from the core's memory, without a round trip.
  // The embedded store answers on the calling thread, into one array reused by every check; on
  // a server backend the checks of one tick go down as one pipeline of scripts.
  const embeddedHandle = native.backend === 'embedded' ? native.embeddedHandle : null
  const decided = new Float64Array(3)
  const checkScript =
    embeddedHandle === null
      ? createCoalescer(
          (args) => native.rateLimitCheck(...args),
          (items) => rateLimitCheckMany(native, items),
        )
      : null

  function check(identifier, limit = 10, window = 60, options = undefined) {
    // Options are read once, inside the guard; the fallback fails closed only when asked to.
    let failClosed = false
    const fallback = () => fallbackResult(limit, window, failClosed)
    /** The script's arguments, from checked input. */
    const request = () => {
      const values = readOptionValues(options, OPTION_NAMES)
      failClosed = values.failClosed === true
      const { algorithm, cost: rawCost } = checkOptions(values)
      const id = toKey(identifier, 'identifier')
      const lim = toPositiveInteger(limit, 'limit')
      const win = toPositiveInteger(window, 'window')
      const cost = toPositiveInteger(rawCost, 'cost')
      if (cost > lim) throw invalidArgument(`cost (${cost}) must not exceed limit (${lim}): it could never be allowed`)
      return [id, ALGORITHM_NAMES.indexOf(algorithm), lim, win, cost]
    }
    if (embeddedHandle !== null) {
      return guardedNow('rateLimiter.check', fallback, () => {
        const [id, algorithm, lim, win, cost] = request()
        const allowed = binding.embeddedRateLimitCheck(embeddedHandle, id, algorithm, lim, win, cost, decided)
        return result(allowed, decided[0], decided[1], decided[2], lim)
      })
    }
    let lim = 0
    const send = (onValue, onError) => {
      const args = request()
      lim = args[2]
      checkScript.send(args, onValue, onError)
    }
    return guardedSend('rateLimiter.check', fallback, send, (d) => result(d.allowed, d.remaining, d.resetMs, d.retryAfterMs, lim))
  }

  const reset = (identifier) => trueWhenDone('rateLimiter.reset', () => native.rateLimitReset(toKey(identifier, 'identifier')))

  /**
   * Express middleware: one check per request, keyed by client address unless `key(req)` says
   * otherwise; IETF draft-7 `RateLimit` / `RateLimit-Policy` headers on every answer; 429 with
   * `Retry-After` and `{ error, retryAfter }` when blocked. Bad options throw at setup.
   */
  function middleware(options = {}) {
    const { limit = 10, window = 60, key, algorithm = 'token-bucket', failClosed = false, cost = 1 } = options ?? {}
    toPositiveInteger(limit, 'limit')
    toPositiveInteger(window, 'window')
    checkOptions({ algorithm, failClosed, cost })
    if (key !== undefined && typeof key !== 'function') throw invalidArgument('key must be a function (req) => string')
    const policy = `${limit};w=${window}`
    return async function digisRateLimit(req, res, next) {
      let result
      try {
        const identifier = key ? await key(req) : `ip:${clientAddressKey(requestAddress(req))}`
        result = await check(identifier, limit, window, { algorithm, failClosed, cost })
      } catch (err) {
        // Only a throwing `key` (or strict mode) lands here: hand it to Express's error handling.
        return next(err)
      }
      res.setHeader('RateLimit-Policy', policy)
      res.setHeader('RateLimit', `limit=${result.limit}, remaining=${result.remaining}, reset=${result.reset}`)
      if (result.allowed) return next()
      res.statusCode = 429
      res.setHeader('Retry-After', String(result.retryAfter))
      res.setHeader('Content-Type', 'application/json; charset=utf-8')
      res.end(JSON.stringify({ error: 'Too many requests', retryAfter: result.retryAfter }))
    }
  }

  return { check, reset, middleware }
}

module.exports = { createRateLimiter, ALGORITHM_NAMES }
