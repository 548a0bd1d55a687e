'use strict'

/**
 * Gathers the calls issued within one tick and sends them down as one batch: one crossing of
 * the napi boundary and one round trip (a pipeline) instead of one per call. A lone call takes
 * the single-call path, so low concurrency pays nothing extra.
 *
 * `runOne(item)` → promise of the value; `runMany(items)` → promise of
 * `[{ value } | { error: '<CODE>: <message>' }]`, in order.
 */
function createCoalescer(runOne, runMany) {
  let queue = []
  const flush = () => {
    const batch = queue
    queue = []
    if (batch.length === 1) {
      const [{ item, resolve, reject }] = batch
      runOne(item).then(resolve, reject)
      return
    }
    runMany(batch.map((entry) => entry.item)).then(
      (outcomes) =>
        batch.forEach((entry, i) => {
          const outcome = outcomes[i]
          if (outcome.error !== undefined && outcome.error !== null) entry.reject(new Error(outcome.error))
          else entry.resolve(outcome.value)
        }),
      (err) => batch.forEach((entry) => entry.reject(err)),
    )
  }
  return (item) =>
    new Promise((resolve, reject) => {
      if (queue.length === 0) process.nextTick(flush)
      queue.push({ item, resolve, reject })
    })
}

module.exports = { createCoalescer }
