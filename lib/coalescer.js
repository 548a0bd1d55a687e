'use strict'

const { throwUncaught } = require('./errors')

/**
 * Gathers the calls issued within one tick and sends them down as one batch: one crossing of
 * the napi boundary and one round trip (a pipeline) instead of one per call. A lone call takes
 * the single-call path, so low concurrency pays nothing extra.
 *
 * Program order: at most one coalescer holds unsent calls at a time. A call that goes anywhere
 * else (another coalescer, or straight to the binding through `inIssueOrder`) sends the held
 * batch first, so calls reach the binding, which keeps their order from there, in the order
 * they were issued: `users.cache(x)` not awaited, then `users.invalidate(x)`, deletes.
 *
 * `createCoalescer(runOne, runMany)` → `enqueue(item)`, a promise of the item's value, and
 * `enqueue.send(item, onValue, onError)`, the same answer through callbacks.
 * `runOne(item)` → promise of the value; `runMany(items)` → promise of `{ values, errors }`,
 * in order, where `errors` is null or undefined when nothing failed, else holds null or the
 * item's Error (its `code` set by the binding) per item (and `values` may be null when every
 * item failed).
 */

/** The flush of the coalescer holding unsent calls, or null. */
let holding = null

function sendHeld() {
  if (holding !== null) holding()
}

/**
 * Hands a caller its answer. A callback that throws is a bug: it surfaces as an uncaught
 * exception and never keeps the batch's later callers from theirs.
 */
function settle(callback, answer) {
  try {
    callback(answer)
  } catch (thrown) {
    throwUncaught(thrown)
  }
}

function createCoalescer(runOne, runMany) {
  let items = []
  let settlers = []
  const flush = () => {
    if (holding === flush) holding = null
    // A tick scheduled before an earlier synchronous flush finds nothing left.
    if (items.length === 0) return
    const batch = items
    const waiting = settlers
    items = []
    settlers = []
    if (batch.length === 1) {
      runAlone(batch[0], waiting[0], waiting[1])
      return
    }
    let sent
    try {
      sent = runMany(batch)
    } catch {
      // Could not even be sent as a batch (e.g. together longer than a JS string may be): each
      // call goes on its own, so one call's size never fails another's.
      for (let i = 0; i < batch.length; i++) runAlone(batch[i], waiting[2 * i], waiting[2 * i + 1])
      return
    }
    Promise.resolve(sent).then(
      ({ values, errors }) => {
        for (let i = 0; i < batch.length; i++) {
          const error = errors ? errors[i] : null
          if (error !== null && error !== undefined) settle(waiting[2 * i + 1], error)
          else settle(waiting[2 * i], values[i])
        }
      },
      (err) => {
        for (let i = 0; i < batch.length; i++) settle(waiting[2 * i + 1], err)
      },
    )
  }
  const runAlone = (item, onValue, onError) => {
    try {
      Promise.resolve(runOne(item)).then(
        (value) => settle(onValue, value),
        (err) => settle(onError, err),
      )
    } catch (err) {
      settle(onError, err)
    }
  }
  /** Queues `item`; its answer goes to `onValue`, or its Error to `onError` (one that throws: see settle). */
  const send = (item, onValue, onError) => {
    if (holding !== flush) {
      sendHeld()
      holding = flush
      process.nextTick(flush)
    }
    items.push(item)
    settlers.push(onValue, onError)
  }
  const enqueue = (item) => new Promise((resolve, reject) => send(item, resolve, reject))
  // For the guard's callback form (public-call.js guardCall): no promise of its own per call.
  enqueue.send = send
  return enqueue
}

/**
 * Methods that never reach the backend. `takeCircuitEvents` runs after every call (the guard's
 * circuit log): sending the held batch there would cut every tick's batch into single calls.
 */
// In process: circuit events, options, and the near cache (a lookup must not send the held
// batch: writes held there dropped their entries when issued).
const LOCAL_METHODS = new Set(['takeCircuitEvents', 'setOptions', 'nearGet', 'nearForget', 'configureNearCache', 'analyticsStatsJson', 'analyticsPrometheus'])

/**
 * The native client with every method sending the held batch first: for the calls that do not
 * go through a coalescer. Getters and the methods that stay in process pass through.
 */
function inIssueOrder(native) {
  const ordered = {}
  for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(Object.getPrototypeOf(native)))) {
    if (name === 'constructor') continue
    if (LOCAL_METHODS.has(name)) {
      ordered[name] = descriptor.value.bind(native)
    } else if (typeof descriptor.value === 'function') {
      ordered[name] = (...args) => {
        sendHeld()
        return native[name](...args)
      }
    } else {
      Object.defineProperty(ordered, name, { get: () => native[name], enumerable: true })
    }
  }
  return ordered
}

module.exports = { createCoalescer, inIssueOrder }
