'use strict'

const { redis } = require('../..')
const { uniquePrefix, storedText } = require('../helpers')

const P = uniquePrefix('raw')
afterAll(async () => {
  const keys = await redis.keys(`*${P}*`)
  if (keys.length) await redis.del(...keys)
})

describe('raw client: strings, in the style of @upstash/redis', () => {
  test('values are JSON-encoded unless strings; replies are parsed where they can be', async () => {
    await expect(redis.set(`${P}:obj`, { a: 1 })).resolves.toBe('OK')
    await expect(redis.get(`${P}:obj`)).resolves.toEqual({ a: 1 })
    expect(await storedText(redis, `${P}:obj`)).toBe('{"a":1}')
    await redis.set(`${P}:num`, '123456')
    await expect(redis.get(`${P}:num`)).resolves.toBe(123456)
    await redis.set(`${P}:zero`, '0123')
    await expect(redis.get(`${P}:zero`)).resolves.toBe('0123')
    await redis.set(`${P}:big`, '12345678901234567890')
    await expect(redis.get(`${P}:big`)).resolves.toBe('12345678901234567890')
    await redis.set(`${P}:bool`, true)
    await expect(redis.get(`${P}:bool`)).resolves.toBe(true)
    await expect(redis.get(`${P}:missing`)).resolves.toBeNull()
  })

  test('set options: ex, px, nx, xx, get, keepTtl', async () => {
    await redis.set(`${P}:ex`, 'v', { ex: 100 })
    expect(await redis.ttl(`${P}:ex`)).toBeGreaterThan(95)
    await redis.set(`${P}:px`, 'v', { px: 50000 })
    expect(await redis.pttl(`${P}:px`)).toBeGreaterThan(45000)
    await expect(redis.set(`${P}:ex`, 'w', { nx: true })).resolves.toBeNull()
    await expect(redis.set(`${P}:absent`, 'w', { xx: true })).resolves.toBeNull()
    await expect(redis.set(`${P}:ex`, 'w', { get: true })).resolves.toBe('v')
    await expect(redis.ttl(`${P}:ex`)).resolves.toBe(-1)
    await redis.set(`${P}:ex`, 'x', { ex: 100 })
    await redis.set(`${P}:ex`, 'y', { keepTtl: true })
    expect(await redis.ttl(`${P}:ex`)).toBeGreaterThan(95)
    await expect(redis.get(`${P}:ex`)).resolves.toBe('y')
  })

  test('setex, del, exists, expire, ttl', async () => {
    await expect(redis.setex(`${P}:a`, 60, 'A')).resolves.toBe('OK')
    await redis.set(`${P}:b`, 'B')
    await expect(redis.exists(`${P}:a`, `${P}:b`, `${P}:c`)).resolves.toBe(2)
    await expect(redis.expire(`${P}:b`, 30)).resolves.toBe(1)
    expect(await redis.ttl(`${P}:b`)).toBeGreaterThan(25)
    await expect(redis.ttl(`${P}:c`)).resolves.toBe(-2)
    await expect(redis.del(`${P}:a`, `${P}:b`, `${P}:c`)).resolves.toBe(2)
  })

  test('counters', async () => {
    await expect(redis.incr(`${P}:n`)).resolves.toBe(1)
    await expect(redis.incrby(`${P}:n`, 10)).resolves.toBe(11)
    await expect(redis.decr(`${P}:n`)).resolves.toBe(10)
    await expect(redis.decrby(`${P}:n`, 4)).resolves.toBe(6)
  })

  test('mget (both call forms) and mset', async () => {
    await expect(redis.mset({ [`${P}:m1`]: { x: 1 }, [`${P}:m2`]: 'two' })).resolves.toBe('OK')
    await expect(redis.mget(`${P}:m1`, `${P}:m2`, `${P}:m3`)).resolves.toEqual([{ x: 1 }, 'two', null])
    await expect(redis.mget([`${P}:m2`, `${P}:m1`])).resolves.toEqual(['two', { x: 1 }])
  })

  test('keys and a full scan find the same keys', async () => {
    const names = Array.from({ length: 40 }, (_, i) => `${P}:scan:${i}`)
    await redis.mset(Object.fromEntries(names.map((k) => [k, 1])))
    const viaKeys = await redis.keys(`${P}:scan:*`)
    expect(viaKeys.sort()).toEqual([...names].sort())
    const seen = new Set()
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, { match: `${P}:scan:*`, count: 7 })
      expect(typeof next).toBe('string')
      keys.forEach((k) => seen.add(k))
      cursor = next
    } while (cursor !== '0')
    expect([...seen].sort()).toEqual([...names].sort())
  })
})

describe('raw client: hashes, sets, sorted sets, lists', () => {
  test('hashes', async () => {
    await expect(redis.hset(`${P}:h`, { name: 'Ada', age: 36, meta: { a: 1 } })).resolves.toBe(3)
    await expect(redis.hget(`${P}:h`, 'age')).resolves.toBe(36)
    await expect(redis.hgetall(`${P}:h`)).resolves.toEqual({ name: 'Ada', age: 36, meta: { a: 1 } })
    await expect(redis.hincrby(`${P}:h`, 'age', 1)).resolves.toBe(37)
    await expect(redis.hdel(`${P}:h`, 'meta', 'nope')).resolves.toBe(1)
    await expect(redis.hgetall(`${P}:missing`)).resolves.toBeNull()
  })

  test('a field named __proto__ is data: the results keep Object.prototype', async () => {
    const key = `${P}:proto`
    // Written raw, as another client (or an attacker's input) could.
    await redis.hset(key, JSON.parse('{"__proto__":"{\\"polluted\\":true}","constructor":"c","name":"Ada"}'))
    for (const result of [await redis.hgetall(key), await redis.hmget(key, '__proto__', 'name')]) {
      expect(Object.getPrototypeOf(result)).toBe(Object.prototype)
      expect(Object.hasOwn(result, '__proto__')).toBe(true)
      expect(result.polluted).toBeUndefined()
      expect(Object.getOwnPropertyDescriptor(result, '__proto__').value).toEqual({ polluted: true })
      expect(result.name).toBe('Ada')
      expect(typeof result.hasOwnProperty).toBe('function')
    }
    expect({}.polluted).toBeUndefined()
  })

  test('sets', async () => {
    await expect(redis.sadd(`${P}:s`, 'a', 'b', 'c', 'a')).resolves.toBe(3)
    await expect(redis.scard(`${P}:s`)).resolves.toBe(3)
    await expect(redis.sismember(`${P}:s`, 'b')).resolves.toBe(1)
    await expect(redis.srem(`${P}:s`, 'b')).resolves.toBe(1)
    expect((await redis.smembers(`${P}:s`)).sort()).toEqual(['a', 'c'])
  })

  test('sorted sets', async () => {
    await expect(redis.zadd(`${P}:z`, { score: 2, member: 'two' }, { score: 1, member: 'one' })).resolves.toBe(2)
    await expect(redis.zadd(`${P}:z`, { score: 3.5, member: 'three' })).resolves.toBe(1)
    await expect(redis.zrange(`${P}:z`, 0, -1)).resolves.toEqual(['one', 'two', 'three'])
    await expect(redis.zrange(`${P}:z`, 0, -1, { withScores: true })).resolves.toEqual(['one', 1, 'two', 2, 'three', 3.5])
    await expect(redis.zrange(`${P}:z`, 2, '+inf', { byScore: true })).resolves.toEqual(['two', 'three'])
    await expect(redis.zrange(`${P}:z`, 0, 0, { rev: true })).resolves.toEqual(['three'])
    await expect(redis.zscore(`${P}:z`, 'three')).resolves.toBe(3.5)
    await expect(redis.zincrby(`${P}:z`, 2, 'one')).resolves.toBe(3)
    await expect(redis.zcard(`${P}:z`)).resolves.toBe(3)
    await expect(redis.zrem(`${P}:z`, 'two')).resolves.toBe(1)
    await expect(redis.zscore(`${P}:z`, 'two')).resolves.toBeNull()
  })

  test('lists', async () => {
    await expect(redis.rpush(`${P}:l`, 'b', 'c')).resolves.toBe(2)
    await expect(redis.lpush(`${P}:l`, 'a')).resolves.toBe(3)
    await expect(redis.lrange(`${P}:l`, 0, -1)).resolves.toEqual(['a', 'b', 'c'])
    await expect(redis.lrange(`${P}:l`, -2, -1)).resolves.toEqual(['b', 'c'])
  })

  test('ping', async () => {
    await expect(redis.ping()).resolves.toBe('PONG')
  })
})

describe('raw client: pipelines and transactions', () => {
  test('pipeline chains and exec returns every result in order, deserialized', async () => {
    const p = redis.pipeline()
    p.set(`${P}:p1`, { a: 1 }).incr(`${P}:p2`).get(`${P}:p1`)
    p.incrby(`${P}:p2`, 5)
    expect(p.length()).toBe(4)
    await expect(p.exec()).resolves.toEqual(['OK', 1, { a: 1 }, 6])
  })

  test('multi applies every command of every transaction', async () => {
    const rounds = 50
    // One hash tag: on a cluster a transaction's keys must share a slot.
    const [t1, t2] = [`{${P}}:t1`, `{${P}}:t2`]
    await Promise.all(Array.from({ length: rounds }, () => redis.multi().incr(t1).incr(t2).exec()))
    await expect(redis.mget(t1, t2)).resolves.toEqual([rounds, rounds])
  })

  test('a failing command makes exec reject, unless keepErrors', async () => {
    await redis.set(`${P}:str`, 'text')
    await expect(redis.pipeline().incr(`${P}:str`).get(`${P}:str`).exec()).rejects.toMatchObject({
      name: 'DigisRedisError',
      code: 'ERR_COMMAND',
      message: expect.stringContaining('Command 1 [ incr ] failed'),
    })
    const items = await redis.pipeline().incr(`${P}:str`).get(`${P}:str`).exec({ keepErrors: true })
    expect(items[0].error).toMatch(/not an integer/)
    expect(items[1]).toEqual({ error: undefined, result: 'text' })
  })

  test('an empty pipeline is an error', async () => {
    await expect(redis.pipeline().exec()).rejects.toThrow('Pipeline is empty')
  })

  test('a command error rejects with a typed error', async () => {
    await redis.set(`${P}:str2`, 'text')
    await expect(redis.incr(`${P}:str2`)).rejects.toMatchObject({ name: 'DigisRedisError', code: 'ERR_COMMAND' })
    await expect(redis.set(`${P}:u`, undefined)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
  })
})
