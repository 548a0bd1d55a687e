'use strict'

// The exported `digis-redis/binding`, on the backend of the environment: what it refuses, it
// refuses the same way on every backend, without disturbing the replies of other commands.

const { NativeClient, RateLimitAlgorithm } = require('../../binding')
const { selectBackend } = require('../../lib/environment')
const { uniquePrefix } = require('../helpers')

function nativeClient() {
  const selection = selectBackend()
  switch (selection.kind) {
    case 'upstash':
      return NativeClient.upstash(selection.url, selection.token, {})
    case 'cluster':
      return NativeClient.cluster(selection.urls, {})
    case 'redis':
      return NativeClient.redis(selection.url, {})
    default:
      return NativeClient.embedded()
  }
}

/** A binding call's answer as a promise: the embedded store answers at once, or throws. */
const answer = (call) => Promise.resolve().then(call)

const P = uniquePrefix('binding')
const native = nativeClient()
afterAll(() => native.command(['DEL', `${P}:k`]))

describe('digis-redis/binding', () => {
  test('an empty command in a pipeline fails alone; its neighbours get their own replies', async () => {
    const key = `${P}:k`
    const items = JSON.parse(await answer(() => native.pipeline([['SET', key, '1'], [], ['GET', key], [], ['INCR', key]], false)))
    expect(items).toEqual([
      { result: 'OK' },
      { code: 'ERR_INVALID_ARGUMENT', error: 'empty command' },
      { result: '1' },
      { code: 'ERR_INVALID_ARGUMENT', error: 'empty command' },
      { result: 2 },
    ])
    // The connection still pairs replies with their commands.
    await expect(answer(() => native.command(['GET', key]))).resolves.toBe('"2"')
  })

  test('an empty command discards a transaction; a lone empty command is refused', async () => {
    const key = `${P}:k`
    await answer(() => native.command(['SET', key, 'before']))
    await expect(answer(() => native.pipeline([['SET', key, 'after'], []], true))).rejects.toThrow(
      /ERR_INVALID_ARGUMENT: EXECABORT .*empty command/,
    )
    await expect(answer(() => native.command([]))).rejects.toThrow(/ERR_INVALID_ARGUMENT: empty command/)
    await expect(answer(() => native.command(['GET', key]))).resolves.toBe('"before"')
  })

  test('a rate-limit cost above the limit is refused in core, for every algorithm, alone in a batch', async () => {
    for (const algorithm of [RateLimitAlgorithm.TokenBucket, RateLimitAlgorithm.SlidingWindow, RateLimitAlgorithm.FixedWindow]) {
      await expect(answer(() => native.rateLimitCheck(`${P}:rl`, algorithm, 2, 60, 5))).rejects.toThrow(
        'ERR_INVALID_ARGUMENT: cost (5) must not exceed limit (2): it could never be allowed',
      )
    }
    const batch = await answer(() =>
      native.rateLimitCheckMany([`${P}:rl1`, `${P}:rl2`], [RateLimitAlgorithm.SlidingWindow, RateLimitAlgorithm.SlidingWindow], [3, 2], [60, 60], [1, 5]),
    )
    expect(batch.values[0]).toMatchObject({ allowed: true, remaining: 2 })
    expect(batch.values[1]).toBeNull()
    expect(batch.errors).toEqual([null, 'ERR_INVALID_ARGUMENT: cost (5) must not exceed limit (2): it could never be allowed'])
    await answer(() => native.rateLimitReset(`${P}:rl1`))
  })
})
