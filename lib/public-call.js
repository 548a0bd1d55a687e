'use strict'

const { settings } = require('./settings')
const { toTypedError } = require('./errors')
const { logFailedCall } = require('./log')
const { meterFor } = require('./metrics')

/**
 * Runs one public call. A failure is logged once (operation, code and reason; never values or
 * keys) and answered with the contract's fallback, or rethrown as a typed error in strict mode.
 * `fallback` may be a function, for fallbacks that depend on the arguments; it is given the typed
 * error (callback-style adapters hand it on). Every call is counted (and one in TIME_ONE_IN
 * timed) in process for `analytics` (lib/metrics.js).
 */
function guarded(operation, fallback, run) {
  return guardedSend(operation, fallback, sendingPromise(run), same)
}

const same = (value) => value

/** `run()` (a value or a promise) as a `send(onValue, onError)` for guardCall. */
const sendingPromise = (run) => (onValue, onError) => Promise.resolve(run()).then(onValue, onError)

/** `guarded` for a call in the coalescer's callback form: see guardCall. */
function guardedSend(operation, fallback, send, finish) {
  return new Promise((resolve, reject) => guardCall(operation, fallback, send, finish, resolve, reject))
}

/**
 * The guard in callback form: `send(onValue, onError)` issues the call (synchronously, so calls
 * keep their order), `finish(answer)` makes the caller's value of its answer (sync; a throw is a
 * failure). The outcome goes to `resolve(value)` (the fallback on failure), or in strict mode to
 * `reject(typedError)`; `reject` also gets what a fallback function throws. Either is called
 * once, after the guard's bookkeeping (the count, a failure's log line) and `settings.afterCall`
 * ran, and must not throw. With a coalescer's `send`, a read settles its caller's one promise:
 * no async frames or promise chains per call.
 */
function guardCall(operation, fallback, send, finish, resolve, reject) {
  const meter = meterFor(operation)
  const started = meter.start()
  let settled = false
  const onError = (thrown) => {
    if (settled) return
    settled = true
    let value
    let rejection = null
    try {
      value = failed(operation, fallback, thrown, meter, started)
    } catch (err) {
      rejection = err
    }
    settings.afterCall()
    if (rejection === null) resolve(value)
    else reject(rejection)
  }
  const onValue = (answer) => {
    if (settled) return
    let value
    try {
      value = finish(answer)
    } catch (thrown) {
      return onError(thrown)
    }
    settled = true
    meter.record(started, value, false)
    settings.afterCall()
    resolve(value)
  }
  try {
    send(onValue, onError)
  } catch (thrown) {
    onError(thrown)
  }
}

/**
 * `guarded` for work that finishes on the calling thread (the embedded store): the same answers
 * as a promise, without the cost of async frames on the hottest paths.
 */
function guardedNow(operation, fallback, run) {
  const meter = meterFor(operation)
  const started = meter.start()
  try {
    const value = run()
    meter.record(started, value, false)
    return Promise.resolve(value)
  } catch (thrown) {
    try {
      return Promise.resolve(failed(operation, fallback, thrown, meter, started))
    } catch (strictError) {
      return Promise.reject(strictError)
    }
  } finally {
    settings.afterCall()
  }
}

/**
 * A call whose answer is `true` once `work` (sync or async) is done, the contract's `false` on
 * failure: the writes and deletes.
 */
function trueWhenDone(operation, work) {
  return guarded(operation, false, async () => {
    await work()
    return true
  })
}

/** Logs a failure the way a failed call is logged: operation, code and reason. */
function logFailure(operation, thrown) {
  const { code, message } = toTypedError(thrown)
  logFailedCall(operation, code, message)
}

/**
 * For work nobody awaits (timers, background flushes): never rejects, even in strict mode, where
 * an unhandled rejection would end the process; a failure is logged instead.
 */
function inBackground(operation, promise) {
  return promise.catch((thrown) => logFailure(operation, thrown))
}

/** The fallback for a failed call (logged), or in strict mode its typed error (thrown). */
function failed(operation, fallback, thrown, meter, started) {
  const err = toTypedError(thrown)
  if (settings.strict) {
    meter.record(started, undefined, true)
    throw err
  }
  logFailure(operation, err)
  const value = typeof fallback === 'function' ? fallback(err) : fallback
  meter.record(started, value, true)
  return value
}

module.exports = { guarded, guardedSend, guardCall, sendingPromise, same, guardedNow, trueWhenDone, inBackground, logFailure }
