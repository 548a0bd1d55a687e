'use strict'

// Errors cross from the addon as Error objects whose `code` the addon set: the JS layer reads
// that property and never a code out of a message, so a message that itself starts with a code
// cannot change the code a caller sees.
const { DigisRedisError, toTypedError } = require('../lib/errors')
const { createCoalescer } = require('../lib/coalescer')
const { NativeClient } = require('../binding')

const coded = (code, message) => Object.assign(new Error(message), { code })

test('the code comes from the `code` property, whatever the message says', () => {
  expect(toTypedError(coded('ERR_COMMAND', 'ERR_TIMEOUT: fake'))).toMatchObject({ code: 'ERR_COMMAND', message: 'ERR_TIMEOUT: fake' })
  expect(toTypedError(coded('ERR_CONNECTION', 'ERR_INVALID_ARGUMENT: fake'))).toBeInstanceOf(DigisRedisError)
  // Text alone is no code: something that is not the addon's failure is an internal error.
  expect(toTypedError(new Error('ERR_TIMEOUT: fake'))).toMatchObject({ code: 'ERR_INTERNAL', message: 'ERR_TIMEOUT: fake' })
  expect(toTypedError(coded('ERR_INVALID_ARG_TYPE', 'from Node'))).toMatchObject({ code: 'ERR_INTERNAL' })
})

test('bad input keeps its TypeError, whether refused in Rust or at the napi boundary', () => {
  const refused = toTypedError(coded('ERR_INVALID_ARGUMENT', 'ERR_TIMEOUT: fake'))
  expect(refused).toBeInstanceOf(TypeError)
  expect(refused).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: 'ERR_TIMEOUT: fake' })
  const native = NativeClient.embedded()
  let thrown
  try {
    native.get(0, 42)
  } catch (err) {
    thrown = err
  }
  expect(toTypedError(thrown)).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
})

test('the addon sets the code of what it throws, with the core message as is', () => {
  const native = NativeClient.embedded()
  let thrown
  try {
    native.command(['ERR_TIMEOUT: x'])
  } catch (err) {
    thrown = err
  }
  expect(thrown.code).toBe('ERR_UNSUPPORTED')
  expect(thrown.message).toMatch(/^command 'ERR_TIMEOUT: X' is not supported by the embedded store/)
  expect(toTypedError(thrown)).toMatchObject({ code: 'ERR_UNSUPPORTED', message: thrown.message })
})

test("a batch item's error reaches its caller as the item's own error object", async () => {
  const failed = coded('ERR_COMMAND', 'ERR_CIRCUIT_OPEN: fake')
  const call = createCoalescer(
    (n) => Promise.resolve(n),
    (items) => Promise.resolve({ values: items, errors: items.map((n) => (n === 2 ? failed : null)) }),
  )
  const outcomes = await Promise.allSettled([1, 2, 3].map(call))
  expect(outcomes[1].reason).toBe(failed)
  expect(toTypedError(outcomes[1].reason)).toMatchObject({ code: 'ERR_COMMAND', message: 'ERR_CIRCUIT_OPEN: fake' })
})
