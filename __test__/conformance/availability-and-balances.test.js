'use strict'

const mod = require('../..')
const { creators, tokens, redis, cache, TTL } = mod
const { uniquePrefix } = require('../helpers')

const P = uniquePrefix('avail')
const id = (name) => `${P}-${name}`
afterAll(async () => {
  for (const name of ['c1', 'c2', 'c3', 'c4']) await creators.setStatus(id(name), 'offline')
  for (const name of ['b1', 'b2', 'b3', 'b4', 'b5', 'b6']) await tokens.invalidate(id(name))
})

const mine = (online) => online.filter((c) => c.creatorId.startsWith(P))

describe('creator availability', () => {
  test('setStatus / getStatus, offline when unknown', async () => {
    await expect(creators.getStatus(id('c1'))).resolves.toBe('offline')
    await expect(creators.setStatus(id('c1'), 'online')).resolves.toBe(true)
    await expect(creators.getStatus(id('c1'))).resolves.toBe('online')
    await creators.setStatus(id('c1'), 'busy')
    await expect(creators.getStatus(id('c1'))).resolves.toBe('busy')
    const ttl = await redis.ttl(`{creator:${id('c1')}}:status`)
    expect(ttl).toBeGreaterThan(TTL.SHORT - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.SHORT)
  })

  test('getOnline lists creators with a status, from an index; offline clears', async () => {
    await creators.setStatus(id('c2'), 'online')
    await creators.setStatus(id('c3'), 'away', 60)
    expect(mine(await creators.getOnline())).toEqual(
      expect.arrayContaining([
        { creatorId: id('c2'), status: 'online' },
        { creatorId: id('c3'), status: 'away' },
      ]),
    )
    await expect(creators.setStatus(id('c2'), 'offline')).resolves.toBe(true)
    await expect(creators.getStatus(id('c2'))).resolves.toBe('offline')
    expect(mine(await creators.getOnline()).map((c) => c.creatorId)).not.toContain(id('c2'))
  })

  test('an expired status is offline and drops out of getOnline', async () => {
    await creators.setStatus(id('c4'), 'online', 1)
    expect(mine(await creators.getOnline()).map((c) => c.creatorId)).toContain(id('c4'))
    await new Promise((resolve) => setTimeout(resolve, 2100))
    await expect(creators.getStatus(id('c4'))).resolves.toBe('offline')
    expect(mine(await creators.getOnline()).map((c) => c.creatorId)).not.toContain(id('c4'))
  })

  test("a status does not disturb the creator's cached profile", async () => {
    await creators.cache(id('c1'), { handle: '@c1' })
    await creators.setStatus(id('c1'), 'online')
    await expect(creators.get(id('c1'))).resolves.toEqual({ handle: '@c1' })
    await creators.invalidate(id('c1'))
    await expect(creators.getStatus(id('c1'))).resolves.toBe('online')
  })
})

describe('token balances', () => {
  test.each([
    ['b1', 1250],
    ['b2', 0],
    ['b3', -3],
    ['b4', 2n ** 64n + 1n],
    ['b5', '12.50'],
    ['b6', 0.1],
  ])('%s: %p round-trips exactly under token:<userId>', async (name, balance) => {
    await expect(tokens.cacheBalance(id(name), balance)).resolves.toBe(true)
    const back = await tokens.getBalance(id(name))
    expect(typeof back).toBe(typeof balance)
    expect(back).toEqual(balance)
    expect(await redis.ttl(`token:${id(name)}`)).toBeGreaterThan(TTL.SHORT - 5)
  })

  test('balances stay readable as JSON by cache.get, and invalidate removes them', async () => {
    await tokens.cacheBalance(id('b1'), 99, 60)
    await expect(cache.get(`token:${id('b1')}`)).resolves.toBe(99)
    await tokens.cacheBalance(id('b5'), '7.25')
    await expect(cache.get(`token:${id('b5')}`)).resolves.toBe('7.25')
    await expect(tokens.invalidate(id('b1'))).resolves.toBe(true)
    await expect(tokens.getBalance(id('b1'))).resolves.toBeNull()
  })

  test('a missing balance is null', async () => {
    await expect(tokens.getBalance(id('never'))).resolves.toBeNull()
  })
})
