'use strict'

const { sessions, users, creators, redis, TTL } = require('../..')
const { uniquePrefix, storedText, uniqueNumber } = require('../helpers')

const P = uniquePrefix('ns')
const created = []
const id = (name) => {
  const value = `${P}-${name}`
  created.push(value)
  return value
}
afterAll(async () => {
  for (const value of created) {
    await redis.del(`session:${value}`, `user:${value}`, `creator:${value}`)
  }
})

async function expectTtl(key, expected) {
  const ttl = await redis.ttl(key)
  expect(ttl).toBeGreaterThan(expected - 5)
  expect(ttl).toBeLessThanOrEqual(expected)
}

describe('sessions', () => {
  test('store/get under session:<id> with TTL.DAY by default', async () => {
    const sid = id('s1')
    const data = { userId: 7, role: 'creator', createdAt: new Date(0) }
    await expect(sessions.store(sid, data)).resolves.toBe(true)
    await expect(sessions.get(sid)).resolves.toEqual({ userId: 7, role: 'creator', createdAt: '1970-01-01T00:00:00.000Z' })
    expect(await storedText(redis, `session:${sid}`)).toBe(JSON.stringify(data))
    await expectTtl(`session:${sid}`, TTL.DAY)
  })

  test('refresh resets the expiry to TTL.DAY by default, or the given TTL', async () => {
    const sid = id('s2')
    await sessions.store(sid, { a: 1 }, 100)
    await expectTtl(`session:${sid}`, 100)
    await expect(sessions.refresh(sid)).resolves.toBe(true)
    await expectTtl(`session:${sid}`, TTL.DAY)
    await expect(sessions.refresh(sid, 500)).resolves.toBe(true)
    await expectTtl(`session:${sid}`, 500)
  })

  test('destroy removes the session', async () => {
    const sid = id('s3')
    await sessions.store(sid, { a: 1 })
    await expect(sessions.destroy(sid)).resolves.toBe(true)
    await expect(sessions.get(sid)).resolves.toBeNull()
  })

  test('get of an unknown session is null', async () => {
    await expect(sessions.get(id('unknown'))).resolves.toBeNull()
  })
})

describe('users', () => {
  test('cache/get under user:<id> with TTL.LONG by default', async () => {
    const uid = id('u1')
    await expect(users.cache(uid, { name: 'Ada' })).resolves.toBe(true)
    await expect(users.get(uid)).resolves.toEqual({ name: 'Ada' })
    await expect(redis.get(`user:${uid}`)).resolves.toEqual({ name: 'Ada' })
    await expectTtl(`user:${uid}`, TTL.LONG)
  })

  test('number and string ids address the same user', async () => {
    const n = uniqueNumber()
    created.push(String(n))
    await users.cache(n, { id: n })
    await expect(users.get(String(n))).resolves.toEqual({ id: n })
    await expect(users.invalidate(n)).resolves.toBe(true)
    await expect(users.get(String(n))).resolves.toBeNull()
  })

  test('invalidate removes the cached user', async () => {
    const uid = id('u2')
    await users.cache(uid, { name: 'Bob' }, 60)
    await expectTtl(`user:${uid}`, 60)
    await expect(users.invalidate(uid)).resolves.toBe(true)
    await expect(users.get(uid)).resolves.toBeNull()
  })
})

describe('creators', () => {
  test('cache/get under creator:<id> with TTL.MEDIUM by default', async () => {
    const cid = id('c1')
    await expect(creators.cache(cid, { handle: '@ada' })).resolves.toBe(true)
    await expect(creators.get(cid)).resolves.toEqual({ handle: '@ada' })
    await expectTtl(`creator:${cid}`, TTL.MEDIUM)
  })

  test('cacheList/getList under creator:list with TTL.SHORT; invalidate removes both keys', async () => {
    const cid = id('c2')
    const list = [{ id: cid }, { id: 'other' }]
    await creators.cache(cid, { handle: '@c2' })
    await expect(creators.cacheList(list)).resolves.toBe(true)
    await expect(creators.getList()).resolves.toEqual(list)
    await expect(redis.get('creator:list')).resolves.toEqual(list)
    await expectTtl('creator:list', TTL.SHORT)
    await expect(creators.invalidate(cid)).resolves.toBe(true)
    await expect(creators.get(cid)).resolves.toBeNull()
    await expect(creators.getList()).resolves.toBeNull()
  })
})
