'use strict'

// Every read path reads stored text the one way @upstash/redis does (the original module's
// read path; old and new processes share one database): JSON.parse when it can, but a number
// that would not print back to the same text stays the text.

const { cache, sessions, users, creators, streams, redis, SessionStore } = require('../..')
const { uniquePrefix } = require('../helpers')

const P = uniquePrefix('text')
afterAll(() => cache.delPattern(`${P}*`))

/** Stored text → what a read answers. */
const CASES = [
  ['12345678901234567890', '12345678901234567890'],
  ['9007199254740993', '9007199254740993'],
  ['1.50', '1.50'],
  ['1e3', '1e3'],
  ['-0', '-0'],
  ['0.10', '0.10'],
  ['007', '007'],
  // Numbers that print back the same are numbers (the kept quirk).
  ['42', 42],
  ['-7', -7],
  ['1.5', 1.5],
  ['9007199254740991', 9007199254740991],
  ['true', true],
  ['null', null],
  ['{"n":1.5}', { n: 1.5 }],
  ['[1,"x"]', [1, 'x']],
  ['plain text', 'plain text'],
]

describe('stored text reads back as @upstash/redis reads it', () => {
  // Keys by index: some texts hold braces, which would make a hash tag on a cluster.
  const indexed = CASES.map(([text, expected], i) => [text, expected, i])

  test.each(indexed)('%s through every feature read', async (text, expected, i) => {
    const id = `${P}:${i}`
    await cache.set(id, text)
    await sessions.store(id, text)
    await users.cache(id, text)
    await creators.cache(id, text)
    await streams.setActive(id, text)
    await expect(cache.get(id)).resolves.toEqual(expected)
    await expect(cache.mget([id, `${P}:missing`])).resolves.toEqual([expected, null])
    await expect(sessions.get(id)).resolves.toEqual(expected)
    await expect(users.get(id)).resolves.toEqual(expected)
    await expect(creators.get(id)).resolves.toEqual(expected)
    await expect(streams.getActive(id)).resolves.toEqual(expected)
    await expect(cache.wrap(id, () => 'loaded')).resolves.toEqual(expected)
    await streams.removeActive(id)
  })

  test.each(indexed)('%s through the raw client', async (text, expected, i) => {
    const key = `${P}:raw:${i}`
    await redis.set(key, text)
    await expect(redis.get(key)).resolves.toEqual(expected)
    await expect(redis.mget(key, `${P}:missing`)).resolves.toEqual([expected, null])
  })

  test('every live stream in getAllActive', async () => {
    const ids = CASES.map((_, i) => `${P}:live:${i}`)
    for (const [i, [text]] of CASES.entries()) await streams.setActive(ids[i], text)
    const all = await streams.getAllActive()
    for (const [, expected] of CASES) {
      // Object data gains its viewer count.
      const listed = expected !== null && typeof expected === 'object' && !Array.isArray(expected) ? { ...expected, viewers: 0 } : expected
      expect(all).toContainEqual(listed)
    }
    for (const id of ids) await streams.removeActive(id)
  })

  test('creators.getList', async () => {
    await creators.cacheList('1.50')
    await expect(creators.getList()).resolves.toBe('1.50')
    await creators.invalidate(`${P}:none`)
  })

  test('the express-session store', async () => {
    const store = new SessionStore({ prefix: `${P}:sess:` })
    await cache.set(`${P}:sess:a`, '1e3')
    await expect(store.get('a')).resolves.toBe('1e3')
  })
})
