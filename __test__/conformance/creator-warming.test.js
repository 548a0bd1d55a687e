'use strict'

const mod = require('../..')
const { creators, cache, redis, configure, analytics, TTL } = mod
const { uniquePrefix, captureLogs, storedText, runNode, sleep, ROOT } = require('../helpers')
const { POPULARITY_EPOCH_HALF_LIVES: EPOCH_HALF_LIVES } = require('../../binding')

/** The rankings' keys, spelled here so that a change of their stored names fails this file. */
const KEY_PREFIX = 'popularity:creators:'

// A short half-life keeps the decay tests quick and this file's ranking apart from every other
// (the half-life is part of the key); its keys expire within 2 * 16 * 0.2 s.
const HALF_LIFE = 0.2
const P = uniquePrefix('popular')
const ids = new Set()
const id = (name) => {
  const value = `${P}-${name}`
  ids.add(value)
  return value
}
/** The ranking restricted to this run's creators. */
const mine = async (n = 100) => (await creators.popular(n)).filter((entry) => ids.has(entry.creatorId))
const readTimes = async (creatorId, times) => {
  for (let i = 0; i < times; i++) await creators.get(creatorId)
}
const epochKeys = () => {
  const epoch = Math.floor(Date.now() / (HALF_LIFE * 1000 * EPOCH_HALF_LIVES))
  return [`${KEY_PREFIX}${HALF_LIFE}:${epoch}`, `${KEY_PREFIX}${HALF_LIFE}:${epoch - 1}`]
}

beforeAll(async () => {
  configure({ popularityHalfLifeSeconds: HALF_LIFE })
  await cache.delPattern(`${KEY_PREFIX}${HALF_LIFE}:*`)
})
beforeEach(async () => {
  // Counts still pending from the previous test are flushed (by ranking), then dropped.
  await creators.popular(1)
  await cache.delPattern(`${KEY_PREFIX}${HALF_LIFE}:*`)
})
afterAll(async () => {
  configure({ popularityHalfLifeSeconds: 3600 })
  for (const creatorId of ids) await redis.del(`creator:${creatorId}`)
  await cache.delPattern(`${KEY_PREFIX}${HALF_LIFE}:*`)
})

describe('creators.popular', () => {
  test('ranks by reads; scores are read counts decayed to now', async () => {
    await readTimes(id('three'), 3)
    await readTimes(id('one'), 1)
    await readTimes(id('six'), 6)
    const ranking = await mine()
    expect(ranking.map((entry) => entry.creatorId)).toEqual([id('six'), id('three'), id('one')])
    // One flush, one decay factor: the ratios are exact; the scores have decayed for at most a moment.
    expect(ranking[0].score / ranking[2].score).toBeCloseTo(6, 9)
    expect(ranking[1].score / ranking[2].score).toBeCloseTo(3, 9)
    expect(ranking[0].score).toBeGreaterThan(6 * 0.5)
    expect(ranking[0].score).toBeLessThan(6 + 1e-9)
    await expect(creators.popular(2)).resolves.toHaveLength(2)
  })

  test('counting adds no round trip to creators.get: reads are flushed later, as one pipeline', async () => {
    analytics.reset()
    for (let i = 0; i < 50; i++) await creators.get(id(`batch-${i % 5}`))
    // Nothing has reached the backend yet...
    for (const key of epochKeys()) expect(await cache.exists(key)).toBe(false)
    expect(analytics.stats().operations['creators.countReads']).toBeUndefined()
    // ...until the delayed flush (or a ranking, which flushes first): one call for 50 reads.
    const ranking = await mine()
    expect(analytics.stats().operations['creators.countReads'].calls).toBe(1)
    expect(ranking.map((entry) => entry.creatorId).sort()).toEqual([0, 1, 2, 3, 4].map((i) => id(`batch-${i}`)).sort())
    expect(Number(await redis.zscore(epochKeys()[0], id('batch-0')))).toBeGreaterThanOrEqual(10)
  })

  test('the delayed flush runs on its own within about a second', async () => {
    await creators.get(id('timer'))
    // The flush lands in the epoch current when it runs; the wait may cross into the next one.
    const score = async () => {
      const scores = await Promise.all(epochKeys().map((key) => redis.zscore(key, id('timer'))))
      return scores.reduce((sum, value) => sum + Number(value ?? 0), 0)
    }
    for (let i = 0; i < 30 && (await score()) === 0; i++) await sleep(100)
    expect(await score()).toBeGreaterThanOrEqual(1)
  })

  test('decay: a creator popular a while ago is overtaken by a recently read one', async () => {
    const oldFrom = Date.now()
    await readTimes(id('old'), 10)
    await readTimes(id('steady'), 2)
    // Counted when flushed: at the latest by this ranking.
    expect((await mine()).map((e) => e.creatorId)).toEqual([id('old'), id('steady')])
    const countedBy = Date.now()
    // Five half-lives: 10 reads then weigh 10 / 32 of a fresh read.
    await sleep(HALF_LIFE * 1000 * 5)
    await readTimes(id('recent'), 1)
    const rankedFrom = Date.now()
    const ranking = await mine()
    const rankedUntil = Date.now()
    expect(ranking.map((e) => e.creatorId)).toEqual([id('recent'), id('old'), id('steady')])
    // Decayed by the time between the count and the ranking, as measured here (a loaded machine
    // stretches it past the five half-lives slept), with 1 ms of clock rounding either way.
    const decayed = (ms) => 10 * 2 ** (-ms / (HALF_LIFE * 1000))
    const old = ranking.find((e) => e.creatorId === id('old')).score
    expect(old).toBeGreaterThanOrEqual(decayed(rankedUntil - oldFrom + 1))
    expect(old).toBeLessThanOrEqual(decayed(rankedFrom - countedBy - 1))
    expect(ranking.find((e) => e.creatorId === id('steady')).score / old).toBeCloseTo(0.2, 9)
  })

  test('scores carry over from the previous epoch, decayed exactly', async () => {
    const periodMs = HALF_LIFE * 1000 * EPOCH_HALF_LIVES
    // Start right after an epoch begins, read, then cross into the next epoch.
    await sleep(periodMs - (Date.now() % periodMs) + 5)
    await readTimes(id('carried'), 8)
    await mine()
    const readAt = Date.now()
    await sleep(periodMs - (Date.now() % periodMs) + 50)
    await readTimes(id('fresh'), 1)
    const ranking = await mine()
    const carried = ranking.find((e) => e.creatorId === id('carried'))
    const expected = 8 * 2 ** (-(Date.now() - readAt) / (HALF_LIFE * 1000))
    // 3.2 s of decay at 0.2 s per half: about 8 / 2^16; within a few ms of timing either way.
    expect(carried.score).toBeGreaterThan(expected * 0.8)
    expect(carried.score).toBeLessThan(expected * 1.25)
    expect(ranking[0].creatorId).toBe(id('fresh'))
  })

  test('bad n answers [] and logs', async () => {
    const logs = captureLogs(mod)
    try {
      await expect(creators.popular(0)).resolves.toEqual([])
      await expect(creators.popular('many')).resolves.toEqual([])
      expect(logs.errors).toHaveLength(2)
      expect(logs.errors[0]).toContain('creators.popular failed (ERR_INVALID_ARGUMENT)')
    } finally {
      logs.restore()
    }
  })
})

describe('creators.warm', () => {
  test('loads only the popular creators not cached, with the bytes and TTL of creators.cache', async () => {
    await readTimes(id('w-a'), 4)
    await readTimes(id('w-b'), 3)
    await readTimes(id('w-c'), 2)
    await readTimes(id('w-d'), 1)
    await creators.cache(id('w-b'), { name: 'already cached' })
    const asked = []
    const loader = async (creatorIds) => {
      asked.push(creatorIds)
      return creatorIds.map((creatorId) => (creatorId === id('w-c') ? null : { creatorId, name: `loaded ${creatorId}`, tags: ['x'] }))
    }
    analytics.reset()
    await expect(creators.warm(loader, { top: 3 })).resolves.toEqual({ popular: 3, missing: 2, warmed: 1 })
    // Most popular first; w-b is cached, w-d is not in the top 3.
    expect(asked).toEqual([[id('w-a'), id('w-c')]])
    const expected = { creatorId: id('w-a'), name: `loaded ${id('w-a')}`, tags: ['x'] }
    expect(await storedText(redis, `creator:${id('w-a')}`)).toBe(JSON.stringify(expected))
    const ttl = await redis.ttl(`creator:${id('w-a')}`)
    expect(ttl).toBeGreaterThan(TTL.MEDIUM - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.MEDIUM)
    expect(await creators.get(id('w-b'))).toEqual({ name: 'already cached' })
    expect(await cache.exists(`creator:${id('w-c')}`)).toBe(false)
    expect(analytics.stats().namespaces.creators.sets).toBe(1)
    expect(await creators.get(id('w-a'))).toEqual(expected)
  })

  test('a loader may answer a Map or an object keyed by id; ttl is honoured', async () => {
    await readTimes(id('m-a'), 2)
    await readTimes(id('m-b'), 1)
    await expect(creators.warm(async (list) => new Map(list.map((c) => [c, { map: c }])), { top: 100, ttl: 60 })).resolves.toMatchObject({ warmed: 2 })
    expect(await creators.get(id('m-b'))).toEqual({ map: id('m-b') })
    expect(await redis.ttl(`creator:${id('m-b')}`)).toBeLessThanOrEqual(60)
    await redis.del(`creator:${id('m-a')}`)
    await expect(creators.warm(async () => ({ [id('m-a')]: { obj: true } }), { top: 100 })).resolves.toMatchObject({ missing: 1, warmed: 1 })
    expect(await creators.get(id('m-a'))).toEqual({ obj: true })
  })

  test('nothing popular: the loader is not called', async () => {
    const loader = jest.fn()
    await expect(creators.warm(loader)).resolves.toEqual({ popular: 0, missing: 0, warmed: 0 })
    expect(loader).not.toHaveBeenCalled()
  })

  test('a failing loader or bad arguments answer the empty result and log; strict mode rejects', async () => {
    await readTimes(id('f-a'), 1)
    const logs = captureLogs(mod)
    try {
      await expect(creators.warm(async () => { throw new Error('db down') })).resolves.toEqual({ popular: 0, missing: 0, warmed: 0 })
      await expect(creators.warm('not a function')).resolves.toEqual({ popular: 0, missing: 0, warmed: 0 })
      await expect(creators.warm(async () => 42)).resolves.toEqual({ popular: 0, missing: 0, warmed: 0 })
      await expect(creators.warm(async (l) => l, { top: -1 })).resolves.toEqual({ popular: 0, missing: 0, warmed: 0 })
      expect(logs.errors).toHaveLength(4)
      expect(logs.errors[0]).toContain('creators.warm failed')
      expect(logs.errors[0]).toContain('db down')
      configure({ strict: true })
      await expect(creators.warm('not a function')).rejects.toThrow(TypeError)
    } finally {
      configure({ strict: false })
      logs.restore()
    }
    expect(await cache.exists(`creator:${id('f-a')}`)).toBe(false)
  })
})

describe('creators.startWarming', () => {
  test('warms on its timer, one run at a time, until stopped', async () => {
    await readTimes(id('t-a'), 1)
    let calls = 0
    let concurrent = 0
    let maxConcurrent = 0
    const handle = creators.startWarming(
      async (list) => {
        calls++
        concurrent++
        maxConcurrent = Math.max(maxConcurrent, concurrent)
        await sleep(120)
        concurrent--
        // Never cached (null): every run asks again.
        return list.map(() => null)
      },
      { every: 20, top: 5 },
    )
    await sleep(500)
    handle.stop()
    const atStop = calls
    expect(atStop).toBeGreaterThanOrEqual(2)
    expect(maxConcurrent).toBe(1)
    await sleep(300)
    expect(calls).toBeLessThanOrEqual(atStop + 1) // a run already started may finish
  })

  test('bad options throw at setup', () => {
    expect(() => creators.startWarming()).toThrow(TypeError)
    expect(() => creators.startWarming(async () => [], { every: 0 })).toThrow(TypeError)
  })

  test('its timer (and the read counter) never keep the process alive', async () => {
    const { code, stdout, ms } = await runNode(`
      const { creators } = require(${JSON.stringify(ROOT)})
      creators.startWarming(async () => [], { every: 60000 })
      creators.get('someone').then(() => console.log('read'))`)
    expect(code).toBe(0)
    expect(stdout.trim()).toBe('read')
    expect(ms).toBeLessThan(5000)
  })
})
