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
  test('viewers are counted once each within the presence window, and leave', async () => {
    const s = id('viewers')
    await streams.setActive(s, { id: s })
    await expect(streams.viewerCount(s)).resolves.toBe(0)
    await expect(streams.viewerJoined(s, 'v1')).resolves.toBe(true)
    await streams.viewerJoined(s, 'v2')
    await streams.viewerJoined(s, 'v1') // a heartbeat, not a new viewer
    await streams.viewerJoined(s, 42)
    await expect(streams.viewerCount(s)).resolves.toBe(3)
    expect(mine(await streams.getAllActive())).toContainEqual({ id: s, viewers: 3 })
    await expect(streams.viewerLeft(s, 'v2')).resolves.toBe(true)
    await expect(streams.viewerCount(s)).resolves.toBe(2)
    await streams.removeActive(s)
    await expect(streams.viewerCount(s)).resolves.toBe(0)
  })

  test('non-object stream data is listed as is', async () => {
    const s = id('plain')
    await streams.setActive(s, `${P}-plain-text`)
    expect(await streams.getAllActive()).toContain(`${P}-plain-text`)
  })

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
        { id: a, n: 1, viewers: 0 },
        { id: b, n: 2, viewers: 0 },
      ]),
    )
    await expect(streams.removeActive(a)).resolves.toBe(true)
    await expect(streams.getActive(a)).resolves.toBeNull()
    const after = mine(await streams.getAllActive())
    expect(after).toContainEqual({ id: b, n: 2, viewers: 0 })
    expect(after.map((s) => s.id)).not.toContain(a)
  })

  test('expired streams drop out of getAllActive', async () => {
    const s = id('expiring')
    await streams.setActive(s, { id: s }, 1)
    expect(mine(await streams.getAllActive())).toContainEqual({ id: s, viewers: 0 })
    await sleep(2100)
    expect(mine(await streams.getAllActive()).map((x) => x.id)).not.toContain(s)
  })

  test('a stream deleted behind our back (by the original module) is not listed', async () => {
    const s = id('deleted')
    await streams.setActive(s, { id: s })
    await redis.del(`stream:active:${s}`)
    expect(mine(await streams.getAllActive()).map((x) => x.id)).not.toContain(s)
  })

  test('reindex picks up streams written by the original module (no index entry)', async () => {
    const s = id('legacy')
    await redis.setex(`stream:active:${s}`, 600, JSON.stringify({ id: s, legacy: true }))
    expect(mine(await streams.getAllActive()).map((x) => x.id)).not.toContain(s)
    expect(await streams.reindex()).toBeGreaterThanOrEqual(1)
    expect(mine(await streams.getAllActive())).toContainEqual({ id: s, legacy: true, viewers: 0 })
  })
})
