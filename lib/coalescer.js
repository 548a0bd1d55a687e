'use strict'

/**
 * Gathers the calls issued within one tick and sends them down as one batch: one crossing of
 * the napi boundary and one round trip (a pipeline) instead of one per call. A lone call takes
 * the single-call path, so low concurrency pays nothing extra.
 *
 * `runOne(item)` → promise of the value; `runMany(items)` → promise of `{ values, errors }`,
 * in order, where `errors` is null or undefined when nothing failed, else holds null or
 * `'<CODE>: <message>'` per item (and `values` may be null when every item failed).
 */
function createCoalescer(runOne, runMany) {
  let items = []
  let settlers = []
  const flush = () => {
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
    sent.then(
      ({ values, errors }) => {
        for (let i = 0; i < batch.length; i++) {
          const error = errors ? errors[i] : null
          if (error !== null && error !== undefined) waiting[2 * i + 1](new Error(error))
          else waiting[2 * i](values[i])
        }
      },
      (err) => {
        for (let i = 0; i < batch.length; i++) waiting[2 * i + 1](err)
      },
    )
  }
  const runAlone = (item, resolve, reject) => {
    try {
      runOne(item).then(resolve, reject)
    } catch (err) {
      reject(err)
    }
  }
  return (item) =>
    new Promise((resolve, reject) => {
      if (items.length === 0) process.nextTick(flush)
      items.push(item)
      settlers.push(resolve, reject)
    })
}

module.exports = { createCoalescer }
