'use strict'

// The exported `digis-redis/binding`, on the backend of the environment: what it refuses, it
// refuses the same way on every backend, without disturbing the replies of other commands.

const { types } = require('node:util')

const binding = require('../../binding')
const { NativeClient, RateLimitAlgorithm } = binding
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
    await expect(answer(() => native.pipeline([['SET', key, 'after'], []], true))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: expect.stringMatching(/^EXECABORT .*empty command/),
    })
    await expect(answer(() => native.command([]))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: 'empty command' })
    await expect(answer(() => native.command(['GET', key]))).resolves.toBe('"before"')
  })

  // A server error reply whose text looks like one of our codes: the code a caller sees is the
  // one the addon set (the failure is a command error), never one read out of the message.
  const onServer = native.backend === 'embedded' ? test.skip : test
  onServer('an error whose message starts with a code keeps the code the addon set', async () => {
    // Only a server running Lua can make the reply (not the embedded store behind rest-server).
    if ((await answer(() => native.command(['EVAL', 'return 1', '0'])).catch(() => null)) === null) return
    const script = "return redis.error_reply('ERR_TIMEOUT: not a timeout')"
    await expect(answer(() => native.command(['EVAL', script, '0']))).rejects.toMatchObject({
      code: 'ERR_COMMAND',
      message: 'ERR_TIMEOUT: not a timeout',
    })
    const items = JSON.parse(await answer(() => native.pipeline([['EVAL', script, '0'], ['PING']], false)))
    expect(items).toEqual([{ code: 'ERR_COMMAND', error: 'ERR_TIMEOUT: not a timeout' }, { result: 'PONG' }])
    const { redis, configure, DigisRedisError } = require('../..')
    configure({ strict: true })
    try {
      const err = await redis.eval(script).catch((e) => e)
      expect(err).toBeInstanceOf(DigisRedisError)
      expect(err).toMatchObject({ code: 'ERR_COMMAND', message: 'ERR_TIMEOUT: not a timeout' })
    } finally {
      configure({ strict: false })
    }
  })

  test('a rate-limit cost above the limit is refused in core, for every algorithm, alone in a batch', async () => {
    for (const algorithm of [RateLimitAlgorithm.TokenBucket, RateLimitAlgorithm.SlidingWindow, RateLimitAlgorithm.FixedWindow]) {
      await expect(answer(() => native.rateLimitCheck(`${P}:rl`, algorithm, 2, 60, 5))).rejects.toMatchObject({
        code: 'ERR_INVALID_ARGUMENT',
        message: 'cost (5) must not exceed limit (2): it could never be allowed',
      })
    }
    const ids = [`${P}:rl1`, `${P}:rl2`]
    // Per item: algorithm, limit, window, cost.
    const numbers = Uint32Array.of(RateLimitAlgorithm.SlidingWindow, 3, 60, 1, RateLimitAlgorithm.SlidingWindow, 2, 60, 5)
    const batch = await answer(() => native.rateLimitCheckMany(ids.join(''), Uint32Array.from(ids, (id) => id.length), numbers))
    // Allowed, remaining, reset and retry-after per item; zeros where the check failed.
    expect(Array.from(batch.decided.subarray(0, 2))).toEqual([1, 2])
    expect(Array.from(batch.decided.subarray(4))).toEqual([0, 0, 0, 0])
    expect(batch.errors[0]).toBeNull()
    // Packed input that does not add up, or names no algorithm, is refused whole.
    await expect(answer(() => native.rateLimitCheckMany(ids.join(''), Uint32Array.from(ids, (id) => id.length), numbers.subarray(1)))).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    await expect(answer(() => native.rateLimitCheckMany(ids[0], Uint32Array.of(ids[0].length), Uint32Array.of(7, 3, 60, 1)))).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: 'no rate-limit algorithm 7',
    })
    // An Error object (from the addon's realm, hence not `instanceof` jest's Error).
    expect(types.isNativeError(batch.errors[1])).toBe(true)
    expect(batch.errors[1]).toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
      message: 'cost (5) must not exceed limit (2): it could never be allowed',
    })
    await answer(() => native.rateLimitReset(`${P}:rl1`))
  })

  // They answer into the caller's array: one too short is refused before anything is stored. A
  // server backend's handle is refused: its calls cannot answer without I/O.
  test('the embedded store\'s synchronous calls refuse an answer array too short; a server backend refuses them all', () => {
    const handle = native.embeddedHandle
    const decided = new Float64Array(3)
    if (native.backend !== 'embedded') {
      expect(() => binding.embeddedRateLimitCheck(handle, `${P}:rl3`, RateLimitAlgorithm.TokenBucket, 5, 60, 1, decided)).toThrow(
        /embeddedRateLimitCheck needs a backend that answers without I\/O/,
      )
      expect(() => binding.embeddedWindowHits(handle, `${P}:wh`, 60000, 1, false, decided)).toThrow(/needs a backend that answers without I\/O/)
      expect(() => binding.embeddedExpire(handle, 0, `${P}:k`, 10)).toThrow(/needs a backend that answers without I\/O/)
      return
    }
    expect(() => binding.embeddedRateLimitCheck(handle, `${P}:rl3`, RateLimitAlgorithm.TokenBucket, 5, 60, 1, new Float64Array(2))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: 'embeddedRateLimitCheck needs a Float64Array of at least 3 numbers' }),
    )
    expect(() => binding.embeddedWindowHits(handle, `${P}:wh`, 60000, 1, false, new Float64Array(1))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT', message: 'embeddedWindowHits needs a Float64Array of at least 2 numbers' }),
    )
    expect(native.exists(0, `${P}:wh`)).toBe(false)
    expect(binding.embeddedRateLimitCheck(handle, `${P}:rl3`, RateLimitAlgorithm.TokenBucket, 5, 60, 2, decided)).toBe(true)
    expect(decided[0]).toBe(3)
    native.rateLimitReset(`${P}:rl3`)
  })
})
