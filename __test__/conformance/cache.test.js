'use strict'

const { cache, redis, TTL } = require('../..')
const { uniquePrefix, storedText, uniqueNumber, sleep } = require('../helpers')

const P = uniquePrefix('cache')
afterAll(() => cache.delPattern(`${P}*`))

describe('cache: stored format', () => {
  test('objects are stored as JSON.stringify writes them and read back parsed', async () => {
    const value = { name: 'Ada', tags: ['a', 'b'], nested: { n: 1.5, ok: true, none: null } }
    await expect(cache.set(`${P}:obj`, value)).resolves.toBe(true)
    await expect(cache.get(`${P}:obj`)).resolves.toEqual(value)
    expect(await storedText(redis, `${P}:obj`)).toBe(JSON.stringify(value))
  })

  test('strings are stored raw', async () => {
    await cache.set(`${P}:str`, 'hello "world"')
    expect(await storedText(redis, `${P}:str`)).toBe('hello "world"')
    await cache.set(`${P}:str2`, 'plain text')
    await expect(cache.get(`${P}:str2`)).resolves.toBe('plain text')
  })

  test("a stored '42' reads back as the number 42 (kept quirk)", async () => {
    await cache.set(`${P}:quirk`, '42')
    expect(await storedText(redis, `${P}:quirk`)).toBe('42')
    await expect(cache.get(`${P}:quirk`)).resolves.toBe(42)
  })

  test('Dates become their ISO string and toJSON is honoured', async () => {
    const when = new Date('2024-05-06T07:08:09.010Z')
    await cache.set(`${P}:date`, when)
    expect(await storedText(redis, `${P}:date`)).toBe('"2024-05-06T07:08:09.010Z"')
    await expect(cache.get(`${P}:date`)).resolves.toBe('2024-05-06T07:08:09.010Z')
    await cache.set(`${P}:tojson`, { toJSON: () => ({ custom: 1 }) })
    await expect(cache.get(`${P}:tojson`)).resolves.toEqual({ custom: 1 })
  })

  test('falsy stored values read back as themselves, not as misses (fix 5)', async () => {
    for (const [name, value] of [
      ['zero', 0],
      ['false', false],
      ['empty', ''],
      ['null', null],
    ]) {
      await cache.set(`${P}:falsy:${name}`, value)
    }
    await expect(cache.get(`${P}:falsy:zero`)).resolves.toBe(0)
    await expect(cache.get(`${P}:falsy:false`)).resolves.toBe(false)
    await expect(cache.get(`${P}:falsy:empty`)).resolves.toBe('')
    await expect(cache.exists(`${P}:falsy:empty`)).resolves.toBe(true)
    await expect(cache.get(`${P}:falsy:null`)).resolves.toBeNull()
  })

  test('unicode and large values round-trip', async () => {
    const value = { text: 'héllo wörld ✓ 🎉 日本語', big: 'x'.repeat(1 << 20) }
    await cache.set(`${P}:unicode`, value)
    await expect(cache.get(`${P}:unicode`)).resolves.toEqual(value)
  })
})

describe('cache: calls issued together', () => {
  // Calls of one tick travel as one batch (packed strings on the server backends): every answer
  // must reach its own caller, whatever the keys and values hold.
  test('concurrent writes then reads of mixed keys and values each get their own answer', async () => {
    const items = Array.from({ length: 40 }, (_, i) => {
      const key = i % 3 === 0 ? `${P}:batch:ключ-${i}-🎉` : i % 3 === 1 ? `${P}:batch:é${i}` : `${P}:batch:${i}`
      const value = i % 4 === 0 ? `plain 😀 ${i}` : i % 4 === 1 ? { i, text: '日本語'.repeat(i), emoji: '🎉' } : i % 4 === 2 ? '' : [i, 'x'.repeat(i * 7)]
      return { key, value }
    })
    // Writes: every other item, so the reads mix hits and misses.
    const written = items.filter((_, i) => i % 2 === 0)
    await expect(Promise.all(written.map(({ key, value }) => cache.set(key, value, 60)))).resolves.toEqual(written.map(() => true))
    const read = await Promise.all(items.map(({ key }) => cache.get(key)))
    expect(read).toEqual(items.map(({ value }, i) => (i % 2 === 0 ? value : null)))
    expect(await Promise.all(written.map(({ key }) => storedText(redis, key)))).toEqual(
      written.map(({ value }) => (typeof value === 'string' ? value : JSON.stringify(value))),
    )
  })
})

describe('cache: TTLs', () => {
  test('default TTL is TTL.MEDIUM, set with the value', async () => {
    await cache.set(`${P}:ttl:default`, { a: 1 })
    const ttl = await redis.ttl(`${P}:ttl:default`)
    expect(ttl).toBeGreaterThan(TTL.MEDIUM - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.MEDIUM)
  })

  test('an explicit TTL is used; a digit string is accepted', async () => {
    await cache.set(`${P}:ttl:60`, 1, 60)
    expect(await redis.ttl(`${P}:ttl:60`)).toBeGreaterThan(55)
    expect(await redis.ttl(`${P}:ttl:60`)).toBeLessThanOrEqual(60)
    await cache.set(`${P}:ttl:str`, 1, '90')
    expect(await redis.ttl(`${P}:ttl:str`)).toBeGreaterThan(85)
  })

  test('a falsy TTL (0, null) means no expiry', async () => {
    await cache.set(`${P}:ttl:zero`, 1, 0)
    await cache.set(`${P}:ttl:null`, 1, null)
    await expect(redis.ttl(`${P}:ttl:zero`)).resolves.toBe(-1)
    await expect(redis.ttl(`${P}:ttl:null`)).resolves.toBe(-1)
  })

  test('a value is gone after its TTL', async () => {
    await cache.set(`${P}:expiring`, { short: true }, 1)
    await expect(cache.get(`${P}:expiring`)).resolves.toEqual({ short: true })
    await sleep(2100)
    await expect(cache.get(`${P}:expiring`)).resolves.toBeNull()
    await expect(cache.exists(`${P}:expiring`)).resolves.toBe(false)
  })

  test('expire sets a new TTL', async () => {
    await cache.set(`${P}:exp`, 'v', 0)
    await expect(cache.expire(`${P}:exp`, 120)).resolves.toBe(true)
    const ttl = await redis.ttl(`${P}:exp`)
    expect(ttl).toBeGreaterThan(115)
    expect(ttl).toBeLessThanOrEqual(120)
  })
})

describe('cache: operations', () => {
  test('get of a missing key is null', async () => {
    await expect(cache.get(`${P}:missing`)).resolves.toBeNull()
  })

  test('del removes and answers true; exists follows', async () => {
    await cache.set(`${P}:del`, { x: 1 })
    await expect(cache.exists(`${P}:del`)).resolves.toBe(true)
    await expect(cache.del(`${P}:del`)).resolves.toBe(true)
    await expect(cache.exists(`${P}:del`)).resolves.toBe(false)
    await expect(cache.get(`${P}:del`)).resolves.toBeNull()
    await expect(cache.del(`${P}:del`)).resolves.toBe(true)
  })

  test('incr counts from 1 and returns integers', async () => {
    await expect(cache.incr(`${P}:counter`)).resolves.toBe(1)
    await expect(cache.incr(`${P}:counter`)).resolves.toBe(2)
    await cache.set(`${P}:counter2`, 41)
    await expect(cache.incr(`${P}:counter2`)).resolves.toBe(42)
  })

  test('concurrent incr loses no update', async () => {
    await Promise.all(Array.from({ length: 200 }, () => cache.incr(`${P}:concurrent`)))
    await expect(cache.get(`${P}:concurrent`)).resolves.toBe(200)
  })

  test('mget returns values in order with null for misses', async () => {
    await cache.set(`${P}:m1`, { one: 1 })
    await cache.set(`${P}:m3`, 'three')
    await expect(cache.mget([`${P}:m1`, `${P}:m2`, `${P}:m3`])).resolves.toEqual([{ one: 1 }, null, 'three'])
    await expect(cache.mget([])).resolves.toEqual([])
  })

  test('delPattern deletes exactly the matching keys and counts them', async () => {
    for (let i = 0; i < 25; i++) await cache.set(`${P}:pat:a:${i}`, i)
    await cache.set(`${P}:pat:b:1`, 'keep')
    await expect(cache.delPattern(`${P}:pat:a:*`)).resolves.toBe(25)
    await expect(cache.get(`${P}:pat:b:1`)).resolves.toBe('keep')
    await expect(cache.get(`${P}:pat:a:3`)).resolves.toBeNull()
    await expect(cache.delPattern(`${P}:pat:a:*`)).resolves.toBe(0)
  })

  test('delPattern honours glob classes and single-character wildcards', async () => {
    await cache.set(`${P}:g:a1`, 1)
    await cache.set(`${P}:g:b1`, 1)
    await cache.set(`${P}:g:c1`, 1)
    await cache.set(`${P}:g:a22`, 1)
    await expect(cache.delPattern(`${P}:g:[ab]?`)).resolves.toBe(2)
    await expect(cache.exists(`${P}:g:c1`)).resolves.toBe(true)
    await expect(cache.exists(`${P}:g:a22`)).resolves.toBe(true)
  })

  test('number keys and their string form address the same key', async () => {
    const n = uniqueNumber()
    await cache.set(n, { n })
    await expect(cache.get(String(n))).resolves.toEqual({ n })
    await cache.del(String(n))
    await expect(cache.exists(n)).resolves.toBe(false)
  })
})
