'use strict'

// getAllActive reads its index: no KEYS and no keyspace SCAN per call, however many unrelated
// keys the database holds (checked in the servers' own INFO commandstats: every master of a
// cluster).
const mod = require('../../..')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix } = require('../../helpers')
const { send, commandCalls } = require('../../resp')

const selection = selectBackend()
const REDIS_URL = process.env.REDIS_TEST_URL
// The cluster's seed nodes are its masters (the runner starts it so).
const SERVERS = selection.kind === 'cluster' ? selection.urls : REDIS_URL ? [REDIS_URL] : []
const describeServer = selection.kind !== 'embedded' && SERVERS.length > 0 ? describe : describe.skip

/** Calls of `names` summed over every server. */
async function totalCalls(names) {
  const each = await Promise.all(SERVERS.map((url) => commandCalls(url, names)))
  return Object.fromEntries(names.map((name) => [name, each.reduce((n, calls) => n + calls[name], 0)]))
}
const P = uniquePrefix('index')
const UNRELATED = 100000

describeServer('streams.getAllActive with 100k unrelated keys', () => {
  beforeAll(async () => {
    const batches = []
    for (let start = 0; start < UNRELATED; start += 5000) {
      const args = ['MSET']
      for (let i = start; i < start + 5000; i++) args.push(`${P}:noise:${i}`, 'x')
      batches.push(args)
    }
    if (selection.kind === 'cluster') {
      // Keys of many slots: the raw client splits each MSET per slot.
      for (const [, ...kv] of batches) {
        const entries = []
        for (let i = 0; i < kv.length; i += 2) entries.push([kv[i], kv[i + 1]])
        await mod.redis.mset(Object.fromEntries(entries))
      }
    } else {
      await send(REDIS_URL, batches)
    }
  }, 60000)

  afterAll(async () => {
    await mod.cache.delPattern(`${P}:noise:*`)
    for (let i = 0; i < 3; i++) await mod.streams.removeActive(`${P}-s${i}`)
  }, 60000)

  test('issues no KEYS and no SCAN', async () => {
    for (let i = 0; i < 3; i++) await mod.streams.setActive(`${P}-s${i}`, { id: `${P}-s${i}` })
    // The first listing adopts legacy streams once (one SCAN walk, at start-up); measure after it.
    await mod.streams.getAllActive()
    const before = await totalCalls(['keys', 'scan'])
    for (let i = 0; i < 5; i++) {
      const live = await mod.streams.getAllActive()
      expect(live.filter((s) => s.id && s.id.startsWith(P))).toHaveLength(3)
    }
    const after = await totalCalls(['keys', 'scan'])
    expect(after.keys).toBe(before.keys)
    expect(after.scan).toBe(before.scan)
  })
})
