'use strict'

// The per-tick batching of server calls: every caller gets its own answer, whatever happens to
// the batch.
const { createCoalescer, inIssueOrder } = require('../lib/coalescer')

const double = (n) => Promise.resolve(n * 2)

test('calls of one tick go down as one batch, each answered in order', async () => {
  const batches = []
  const call = createCoalescer(double, (items) => {
    batches.push(items)
    return Promise.resolve({ values: items.map((n) => n * 2), errors: null })
  })
  await expect(Promise.all([1, 2, 3].map(call))).resolves.toEqual([2, 4, 6])
  expect(batches).toEqual([[1, 2, 3]])
})

test('an item error rejects that caller only; a batch failure rejects every caller', async () => {
  const no = Object.assign(new Error('no'), { code: 'ERR_COMMAND' })
  const call = createCoalescer(double, (items) => Promise.resolve({ values: items, errors: items.map((n) => (n === 2 ? no : null)) }))
  const outcomes = await Promise.allSettled([1, 2, 3].map(call))
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
  expect(outcomes[1].reason).toBe(no)

  const down = createCoalescer(double, () => Promise.reject(Object.assign(new Error('down'), { code: 'ERR_CONNECTION' })))
  const all = await Promise.allSettled([1, 2].map(down))
  expect(all.map((o) => o.reason?.code)).toEqual(['ERR_CONNECTION', 'ERR_CONNECTION'])
})

test('a batch that cannot be sent (it throws) falls back to one call each, so no caller hangs', async () => {
  const call = createCoalescer(
    (n) => {
      if (n === 3) throw new RangeError('too long')
      return double(n)
    },
    () => {
      throw new RangeError('Invalid string length')
    },
  )
  const outcomes = await Promise.allSettled([1, 2, 3].map(call))
  expect(outcomes.map((o) => o.value ?? o.reason.message)).toEqual([2, 4, 'too long'])
})

test('a call to the binding sends the held batch first; reading circuit events does not', async () => {
  const sent = []
  class Native {
    ping() {
      sent.push('ping')
    }
    takeCircuitEvents() {
      return []
    }
  }
  const native = inIssueOrder(new Native())
  const call = createCoalescer(double, (items) => {
    sent.push(items)
    return Promise.resolve({ values: items.map((n) => n * 2), errors: null })
  })
  const answers = [call(1), call(2)]
  // The guard reads circuit events after every call: the batch keeps gathering.
  native.takeCircuitEvents()
  answers.push(call(3))
  native.ping()
  await expect(Promise.all(answers)).resolves.toEqual([2, 4, 6])
  expect(sent).toEqual([[1, 2, 3], 'ping'])
})

test('send answers through callbacks; one that throws surfaces as an uncaught exception and the other callers still get theirs', () => {
  // In a child, which reports how the callback's error surfaced. Three cases: a batch, a lone
  // call, and a batch that cannot be sent (each call then goes alone).
  const script = (runMany) => `
    process.on('uncaughtException', (err) => console.log('uncaught', err.message))
    process.on('unhandledRejection', (err) => console.log('unhandled rejection', err.message))
    const { createCoalescer } = require(${JSON.stringify(require.resolve('../lib/coalescer'))})
    const call = createCoalescer((n) => Promise.resolve(n * 2), ${runMany})
    const answer = (n) => (value) => { if (n === 2) throw new Error('caller bug'); console.log('answer', value) }
    for (const n of process.argv.slice(1).map(Number)) call.send(n, answer(n), () => console.log('error'))
  `
  const { spawnSync } = require('node:child_process')
  const run = (runMany, ...ns) => spawnSync(process.execPath, ['-e', script(runMany), ...ns.map(String)], { encoding: 'utf8', timeout: 20000 })
  const batched = '(items) => Promise.resolve({ values: items.map((n) => n * 2), errors: null })'
  for (const [outcome, answers] of [
    [run(batched, 1, 2, 3), ['answer 2', 'answer 6']],
    [run(batched, 2), []],
    [run('() => { throw new RangeError("Invalid string length") }', 1, 2, 3), ['answer 2', 'answer 6']],
  ]) {
    expect(outcome.stdout.split('\n').filter(Boolean).sort()).toEqual([...answers, 'uncaught caller bug'].sort())
  }
})
