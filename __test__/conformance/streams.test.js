'use strict'

const { streams, redis, TTL } = require('../..')
const { uniquePrefix, sleep } = require('../helpers')

const P = uniquePrefix('streams')
const created = []
const id = (name) => {
  const value = `${P}-${name}`
  created.push(value)
  return value
}
afterAll(async () => {
  for (const value of created) await streams.removeActive(value)
})

const mine = (all) => all.filter((s) => s && typeof s.id === 'string' && s.id.startsWith(P))

describe('streams', () => {
  test('setActive/getActive under stream:active:<id> with TTL.LONG by default', async () => {
    const sid = id('a')
    await expect(streams.setActive(sid, { id: sid, title: 'Live!' })).resolves.toBe(true)
    await expect(streams.getActive(sid)).resolves.toEqual({ id: sid, title: 'Live!' })
    await expect(redis.get(`stream:active:${sid}`)).resolves.toEqual({ id: sid, title: 'Live!' })
    const ttl = await redis.ttl(`stream:active:${sid}`)
    expect(ttl).toBeGreaterThan(TTL.LONG - 5)
  })

  test('getAllActive lists live streams and drops removed ones', async () => {
    const a = id('list-a')
    const b = id('list-b')
    await streams.setActive(a, { id: a, n: 1 })
    await streams.setActive(b, { id: b, n: 2 })
    expect(mine(await streams.getAllActive())).toEqual(
      expect.arrayContaining([
        { id: a, n: 1 },
        { id: b, n: 2 },
      ]),
    )
    await expect(streams.removeActive(a)).resolves.toBe(true)
    await expect(streams.getActive(a)).resolves.toBeNull()
    const after = mine(await streams.getAllActive())
    expect(after).toContainEqual({ id: b, n: 2 })
    expect(after).not.toContainEqual({ id: a, n: 1 })
  })

  test('expired streams drop out of getAllActive', async () => {
    const s = id('expiring')
    await streams.setActive(s, { id: s }, 1)
    expect(mine(await streams.getAllActive())).toContainEqual({ id: s })
    await sleep(2100)
    expect(mine(await streams.getAllActive())).not.toContainEqual({ id: s })
  })

  test('a stream deleted behind our back (by the original module) is not listed', async () => {
    const s = id('deleted')
    await streams.setActive(s, { id: s })
    await redis.del(`stream:active:${s}`)
    expect(mine(await streams.getAllActive())).not.toContainEqual({ id: s })
  })

  test('reindex picks up streams written by the original module (no index entry)', async () => {
    const s = id('legacy')
    await redis.setex(`stream:active:${s}`, 600, JSON.stringify({ id: s, legacy: true }))
    expect(mine(await streams.getAllActive())).not.toContainEqual({ id: s, legacy: true })
    expect(await streams.reindex()).toBeGreaterThanOrEqual(1)
    expect(mine(await streams.getAllActive())).toContainEqual({ id: s, legacy: true })
  })
})
