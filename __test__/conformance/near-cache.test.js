'use strict'

// configure({ nearCache }) on every backend: what it accepts, what it answers from memory, and
// that a process always reads its own writes. Changes made by other processes, server expiry,
// eviction, restarts and failovers are in __test__/backends/near-cache.

const r = require('../..')
const { uniquePrefix, runNode, backendEnv, sleep } = require('../helpers')

const { cache, users, creators, sessions, tokens, redis, analytics, configure } = r
const P = uniquePrefix('near')
const near = () => analytics.stats().nearCache
let backend

beforeAll(async () => {
  backend = (await r.health()).backend
})
afterEach(() => configure({ nearCache: false }))
afterAll(() => cache.delPattern(`${P}*`))

/** Turns the near cache on and waits until it serves (the tracking connections are up). */
async function turnOn(options = true) {
  configure({ nearCache: options })
  const started = Date.now()
  while (near().tracking !== 'live' && near().tracking !== 'ttl-only') {
    if (Date.now() - started > 10000) throw new Error(`near cache not serving: ${JSON.stringify(near())}`)
    await sleep(5)
  }
}

/** Reads with `read` until a read is answered from memory; the number of reads it took. */
async function untilNearHit(read) {
  for (let i = 1; i <= 200; i++) {
    const before = near().hits
    await read()
    if (near().hits > before) return i
    await sleep(5)
  }
  throw new Error('never answered from memory')
}

test('bad options throw a TypeError and change nothing', () => {
  for (const bad of ['yes', 1, [], { maxBytes: 10 }, { maxBytes: '1mb' }, { maxEntries: 0 }, { maxEntries: 1.5 }, { namespaces: ['otp'] }, { namespaces: 'users' }, { maxStalenessMs: -1 }, { cachePrefixes: [] }, { cachePrefixes: [''] }, { cachePrefixes: 'feed:' }, { maxbytes: 1 << 20 }, { namespace: ['users'] }]) {
    expect(() => configure({ nearCache: bad })).toThrow(TypeError)
    expect(near().enabled).toBe(false)
  }
})

test('stats and Prometheus show the near cache in one shape, on or off', async () => {
  expect(near()).toMatchObject({ enabled: false, tracking: 'off', entries: 0, hits: 0, trackedServers: [] })
  expect(Object.keys(near().namespaces)).toEqual(['cache', 'users', 'creators', 'sessions', 'tokens'])
  if (backend === 'embedded') return
  await turnOn({ maxBytes: 1 << 20, maxEntries: 500, maxStalenessMs: 60000 })
  expect(near()).toMatchObject({ enabled: true, maxBytes: 1 << 20, maxEntries: 500, lastError: null })
  // Live on a server: the servers heard; with no push channel (Upstash), none.
  if (near().tracking === 'live') {
    expect(near().trackedServers.length).toBeGreaterThan(0)
    // host:port, or a Unix socket's path.
    for (const server of near().trackedServers) expect(server).toMatch(/^(\S+:\d+|\/\S+)$/)
    const url = new URL(process.env.REDIS_URL ?? 'redis://unset')
    if (backend === 'redis' && url.protocol === 'redis:') expect(near().trackedServers).toEqual([`${url.hostname}:${url.port || 6379}`])
  } else {
    expect(near().trackedServers).toEqual([])
  }
  await users.cache(`${P}:prom`, { n: 1 })
  await untilNearHit(() => users.get(`${P}:prom`))
  expect(analytics.prometheus()).toMatch(/^digis_redis_near_cache_hits_total\{namespace="users"\} [1-9]\d*$/m)
  expect(analytics.prometheus()).toMatch(/^digis_redis_near_cache_bytes \d+$/m)
})

describe('on the embedded store', () => {
  if (process.env.REDIS_URL || process.env.REDIS_CLUSTER_URLS || process.env.UPSTASH_REDIS_REST_URL) return
  test('it is accepted and does nothing: reads are in process already', async () => {
    configure({ nearCache: true })
    expect(near()).toMatchObject({ enabled: false, tracking: 'off' })
    await cache.set(`${P}:e`, { a: 1 })
    await expect(cache.get(`${P}:e`)).resolves.toEqual({ a: 1 })
  })
})

describe('on Upstash REST', () => {
  if (!process.env.UPSTASH_REDIS_REST_URL) return
  test('it needs maxStalenessMs, and then serves an entry for at most that long', async () => {
    expect(() => configure({ nearCache: true })).toThrow(/maxStalenessMs/)
    expect(near().enabled).toBe(false)
    const staleness = 300
    await turnOn({ maxStalenessMs: staleness })
    expect(near().tracking).toBe('ttl-only')
    const key = `${P}:ttl`
    await cache.set(key, { v: 1 })
    await untilNearHit(() => cache.get(key))
    // Another process changes it: this one sees the change once the entry is at most `staleness` old.
    const changed = await runNode(`require('./').cache.set(${JSON.stringify(key)}, { v: 2 }).then((ok) => process.exit(ok ? 0 : 1))`, { env: backendEnv() })
    expect(changed.code).toBe(0)
    const started = Date.now()
    while ((await cache.get(key)).v !== 2) {
      // Generous for a loaded machine; without the bound the entry would be served forever.
      expect(Date.now() - started).toBeLessThan(staleness + 3000)
      await sleep(10)
    }
  })
})

describe('on Redis and Redis Cluster', () => {
  if (process.env.UPSTASH_REDIS_REST_URL || !(process.env.REDIS_URL || process.env.REDIS_CLUSTER_URLS)) return

  test('a value read once is answered from memory, in every namespace it covers', async () => {
    await turnOn()
    await cache.set(`${P}:c`, { c: 1 })
    await users.cache(`${P}:u`, { u: 1 })
    await creators.cache(`${P}:cr`, { cr: 1 })
    await creators.cacheList([{ id: 1 }])
    await sessions.store(`${P}:s`, { s: 1 })
    await tokens.cacheBalance(`${P}:t`, '12345678901234567890')
    await cache.set(`${P}:text`, { name: 'Zoë 🎉 日本', quote: '"\\' })
    const reads = [
      ['cache', () => cache.get(`${P}:c`), { c: 1 }],
      ['users', () => users.get(`${P}:u`), { u: 1 }],
      ['creators', () => creators.get(`${P}:cr`), { cr: 1 }],
      ['creators', () => creators.getList(), [{ id: 1 }]],
      ['sessions', () => sessions.get(`${P}:s`), { s: 1 }],
      ['tokens', () => tokens.getBalance(`${P}:t`), '12345678901234567890'],
      // Text beyond ASCII comes back from memory as it went in.
      ['cache', () => cache.get(`${P}:text`), { name: 'Zoë 🎉 日本', quote: '"\\' }],
    ]
    for (const [namespace, read, value] of reads) {
      const before = near().namespaces[namespace].hits
      await untilNearHit(read)
      expect(near().namespaces[namespace].hits).toBeGreaterThan(before)
      // Parsed on each read: callers never share one object.
      const [a, b] = [await read(), await read()]
      expect(a).toEqual(value)
      if (typeof a === 'object') expect(a).not.toBe(b)
    }
    // mget is answered from memory when every key is.
    const before = near().hits
    await expect(cache.mget([`${P}:c`, `${P}:missing`])).resolves.toEqual([{ c: 1 }, null])
    await untilNearHit(() => cache.mget([`${P}:c`, `${P}:missing`]))
    expect(near().hits).toBeGreaterThan(before)
    await expect(cache.mget([`${P}:c`, `${P}:missing`])).resolves.toEqual([{ c: 1 }, null])
  })

  test('this process reads its own writes at once, awaited or not, whichever call wrote', async () => {
    await turnOn()
    const key = `${P}:ryw`
    await cache.set(key, { v: 1 })
    await untilNearHit(() => cache.get(key))
    cache.set(key, { v: 2 })
    await expect(cache.get(key)).resolves.toEqual({ v: 2 })
    await untilNearHit(() => cache.get(key))
    cache.del(key)
    await expect(cache.get(key)).resolves.toBeNull()
    await untilNearHit(() => cache.get(key))
    redis.set(key, JSON.stringify({ v: 3 }))
    await expect(cache.get(key)).resolves.toEqual({ v: 3 })
    await untilNearHit(() => cache.get(key))
    cache.incr(`${P}:n`)
    await untilNearHit(() => cache.get(`${P}:n`))
    cache.incr(`${P}:n`)
    await expect(cache.get(`${P}:n`)).resolves.toBe(2)
    await users.cache(`${P}:u2`, { u: 1 })
    await untilNearHit(() => users.get(`${P}:u2`))
    users.invalidate(`${P}:u2`)
    await expect(users.get(`${P}:u2`)).resolves.toBeNull()
  })

  test('an expired key is not answered, even before the server drops it', async () => {
    await turnOn()
    const key = `${P}:exp`
    await redis.set(key, JSON.stringify({ v: 1 }), { px: 300 })
    await untilNearHit(() => cache.get(key))
    await sleep(400)
    await expect(cache.get(key)).resolves.toBeNull()
  })

  test('namespaces left out are not answered from memory', async () => {
    await turnOn({ namespaces: ['users'] })
    await cache.set(`${P}:left-out`, 1)
    const before = near().namespaces.cache
    for (let i = 0; i < 3; i++) await cache.get(`${P}:left-out`)
    expect(near().namespaces.cache).toEqual(before)
  })

  test('cachePrefixes: raw keys outside them are not answered from memory', async () => {
    await turnOn({ cachePrefixes: [`${P}:in:`] })
    await cache.set(`${P}:in:a`, 1)
    await cache.set(`${P}:out:a`, 2)
    await untilNearHit(() => cache.get(`${P}:in:a`))
    const before = near().namespaces.cache
    for (let i = 0; i < 3; i++) await expect(cache.get(`${P}:out:a`)).resolves.toBe(2)
    expect(near().namespaces.cache.hits).toBe(before.hits)
  })

  test('maxEntries bounds what is kept, least recently used out first', async () => {
    await turnOn({ maxEntries: 5 })
    for (let i = 0; i < 20; i++) await cache.get(`${P}:bound:${i}`)
    expect(near().entries).toBeLessThanOrEqual(5)
    expect(near().evictions).toBeGreaterThan(0)
  })

  test('turned off, nothing is answered from memory and tracking stops', async () => {
    await turnOn()
    await cache.set(`${P}:off`, 1)
    await untilNearHit(() => cache.get(`${P}:off`))
    configure({ nearCache: false })
    expect(near()).toMatchObject({ enabled: false, tracking: 'off', hits: 0 })
    await expect(cache.get(`${P}:off`)).resolves.toBe(1)
    expect(near().hits).toBe(0)
  })

})
