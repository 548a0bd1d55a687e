'use strict'

// What a cluster changes, checked on the runner's cluster: keys spread over every master, and
// multi-key calls, keyspace walks, transactions, companion keys and the cross-slot indexes
// still behave as on one server.
const { selectBackend } = require('../../../lib/environment')
const { cli } = require('./cluster')
const { uniquePrefix } = require('../../helpers')

const selection = selectBackend()
const describeCluster = selection.kind === 'cluster' ? describe : describe.skip
const mod = require('../../..')
const masters = selection.kind === 'cluster' ? selection.urls.map((url) => Number(new URL(url).port)) : []

/** Keys matching `pattern` on each master, walked by redis-cli on that node alone. */
const keysPerMaster = (pattern) => masters.map((port) => (cli(port, '--scan', '--pattern', pattern) || '').split('\n').filter(Boolean).length)

describeCluster('on a cluster', () => {
  const P = uniquePrefix('cluster')

  test('mget keeps the callers order; delPattern, keys and scan cover every master', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => `${P}:k:${i}`)
    expect(await Promise.all(keys.map((k, i) => mod.cache.set(k, { i }, 600)))).toEqual(keys.map(() => true))
    const spread = keysPerMaster(`${P}:k:*`)
    expect(spread.every((n) => n > 0)).toBe(true)
    expect(spread.reduce((a, b) => a + b, 0)).toBe(300)

    const shuffled = [...keys].reverse()
    expect(await mod.cache.mget(shuffled)).toEqual(shuffled.map((k) => ({ i: Number(k.split(':').pop()) })))
    expect((await mod.redis.keys(`${P}:k:*`)).sort()).toEqual([...keys].sort())

    const seen = new Set()
    let cursor = '0'
    let steps = 0
    do {
      const [next, found] = await mod.redis.scan(cursor, { match: `${P}:k:*`, count: 100 })
      expect(typeof next).toBe('string')
      found.forEach((k) => seen.add(k))
      cursor = next
      steps++
    } while (cursor !== '0' && steps < 10000)
    expect([...seen].sort()).toEqual([...keys].sort())

    expect(await mod.cache.delPattern(`${P}:k:*`)).toBe(300)
    expect(keysPerMaster(`${P}:k:*`)).toEqual(masters.map(() => 0))
  })

  test('a transaction names keys of one slot, else CROSSSLOT', async () => {
    await expect(mod.redis.multi().set(`${P}:a`, 1).set(`${P}:b`, 2).exec()).rejects.toMatchObject({
      code: 'ERR_COMMAND',
      message: expect.stringContaining('CROSSSLOT'),
    })
    await expect(mod.redis.multi().set(`{${P}}:a`, 1).incr(`{${P}}:a`).exec()).resolves.toEqual(['OK', 2])
    await mod.redis.del(`{${P}}:a`)
  })

  test('companion keys share their original key`s slot', () => {
    const slot = (key) => cli(masters[0], 'cluster', 'keyslot', key)
    const id = `${P}-x`
    expect(slot(`{otp:${id}}:tries`)).toBe(slot(`otp:${id}`))
    expect(slot(`{rate:${id}}:tb`)).toBe(slot(`rate:${id}`))
    expect(slot(`{rate:${id}}:sw`)).toBe(slot(`rate:${id}`))
    expect(slot(`{stream:active:${id}}:viewers`)).toBe(slot(`stream:active:${id}`))
    expect(slot(`{creator:${id}}:status`)).toBe(slot(`creator:${id}`))
  })

  test('the live-stream index spans slots: written after the value, pruned when the value is gone', async () => {
    const ids = [`${P}-s1`, `${P}-s2`]
    for (const id of ids) await mod.streams.setActive(id, { id })
    await mod.streams.viewerJoined(ids[0], 'v1')
    const listed = (await mod.streams.getAllActive()).filter((s) => s.id && s.id.startsWith(P))
    expect(listed).toEqual([{ id: ids[0], viewers: 1 }, { id: ids[1], viewers: 0 }])
    // The value goes behind the index's back (as the original module's delete does).
    await mod.redis.del(`stream:active:${ids[1]}`)
    expect((await mod.streams.getAllActive()).filter((s) => s.id && s.id.startsWith(P))).toEqual([{ id: ids[0], viewers: 1 }])
    const index = cli(masters[0], '-c', 'smembers', 'stream:index:active') || ''
    expect(index.split('\n')).not.toContain(ids[1])
    await mod.streams.removeActive(ids[0])
    expect(cli(masters[0], '-c', 'exists', `{stream:active:${ids[0]}}:viewers`)).toBe('0')
  })
})
