'use strict'

// Issue 18, item 4: process A (this jest process, near cache on, tracking live) serves 20 keys
// from memory, across every near-cached namespace; another process writes them, and A reads
// every new value within 100 ms of the write. Writers: plain ioredis, the original module
// (@upstash/redis through a rest-server; not on a cluster, which REST cannot reach), and this
// package in a child process with and without its own near cache. Also in-process
// read-your-writes, and reads racing another client's writes.
//
// On the redis run A talks to a private redis-server (its command counters are A's alone); on the
// cluster run to the runner's private cluster.
const crypto = require('node:crypto')
const IORedis = require('ioredis')
const { Redis: UpstashRedis } = require('@upstash/redis')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, sleep, ROOT } = require('../../helpers')
const { startRedisServer, startRestServer } = require('../../faults/redis-server')
const { VISIBLE_MS, privateRedisPossible, loadModule, near, waitLive, twentyKeys, readAll, readCalls, pollUntilSeen, startChild, untilNearHit, turnOff } = require('./near')

const selection = selectBackend()
const onRedis = privateRedisPossible(selection)
const onCluster = selection.kind === 'cluster'
const describeServer = onRedis || onCluster ? describe : describe.skip

// The bound from a write to A reading the new value.

describeServer('near cache: another process writes, A sees it within 100 ms', () => {
  let server // private redis-server (redis run)
  let rest // rest-server in front of it, for the original module
  let urls // the servers A's keys live on (for INFO commandstats)
  let env // the backend of A and of the child processes
  let A
  let io // plain ioredis: another connection
  let original
  const prefixes = []

  beforeAll(async () => {
    if (onRedis) {
      server = await startRedisServer()
      // A database other than 0, as a shared server would give (tracking is per server, not per
      // database).
      const url = `${server.url}/3`
      urls = [url]
      env = { REDIS_URL: url }
      io = new IORedis(url)
      const token = crypto.randomBytes(12).toString('hex')
      rest = await startRestServer(url, token)
      original = new UpstashRedis({ url: rest.url, token })
    } else {
      urls = selection.urls
      env = { REDIS_CLUSTER_URLS: selection.urls.join(',') }
      io = new IORedis.Cluster(selection.urls.map((u) => ({ host: new URL(u).hostname, port: Number(new URL(u).port) })))
    }
    A = loadModule(env)
    A.configure({ nearCache: true })
    await waitLive(A)
  }, 60000)

  afterAll(async () => {
    turnOff(A)
    // The private server goes with its keys; the runner's cluster is cleaned per master (KEYS
    // on a cluster client asks one node).
    if (onCluster) {
      for (const node of io.nodes('master')) {
        for (const p of prefixes) for (const k of await node.keys(`*${p}*`)) await io.del(k)
      }
    }
    await io?.quit()
    await rest?.stop()
    await server?.stop()
  }, 30000)

  /** Writes version `n` of every entry with ioredis (as another client would). */
  const ioWrite = (entries, n) => Promise.all(entries.map((e) => io.set(e.key, e.text(n), 'EX', 3600).then(() => Date.now())))

  /**
   * Version 1 written and read by A until every key is a near hit: the second and later passes
   * add hits (per namespace too) and send no read to the server.
   */
  async function warm(label) {
    const P = uniquePrefix(`near-x-${label}`)
    prefixes.push(P)
    const entries = twentyKeys(P)
    await ioWrite(entries, 1)
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    // The writes' invalidations travel on another connection and may land after A's first
    // read, dropping what it filled: let them pass, fill again, and only then count.
    await sleep(VISIBLE_MS)
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    const before = near(A)
    const callsBefore = await readCalls(urls)
    for (let pass = 0; pass < 3; pass++) expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(1)))
    const callsAfter = await readCalls(urls)
    const after = near(A)
    expect(after.tracking).toBe('live')
    expect({ hits: after.hits - before.hits, invalidations: after.invalidations - before.invalidations }).toEqual({ hits: 60, invalidations: 0 })
    for (const ns of ['cache', 'users', 'creators', 'sessions', 'tokens']) {
      expect(after.namespaces[ns].hits - before.namespaces[ns].hits).toBeGreaterThanOrEqual(12)
    }
    // No GET (or any read) reached the server for those 60 hits.
    expect(callsAfter - callsBefore).toBe(0)
    return entries
  }

  /**
   * Runs `write(entries)` (resolves with each key's write completion time) while A polls every
   * key; every key must read version 2 within VISIBLE_MS of its write.
   */
  async function expectVisible(entries, write) {
    const invalidationsBefore = near(A).invalidations
    let writesDone = false
    const poll = pollUntilSeen(A, entries, (e) => e.value(2), { timeoutMs: 10000, stopWhen: () => writesDone })
    const writtenAt = await write(entries).finally(() => (writesDone = true))
    const { seenAt } = await poll
    const delays = entries.map((e, k) => (seenAt[k] === undefined ? Infinity : seenAt[k] - writtenAt[k]))
    // Listed by key, so a failure says which namespace lagged and by how much.
    const late = entries.map((e, k) => ({ key: e.key, delayMs: delays[k] })).filter((d) => !(d.delayMs < VISIBLE_MS))
    expect(late).toEqual([])
    console.log(`near cache: visible after ${Math.min(...delays)}..${Math.max(...delays)} ms (${entries.length} keys)`)
    // The invalidations came from the server (A wrote nothing).
    expect(near(A).invalidations - invalidationsBefore).toBeGreaterThanOrEqual(entries.length)
    // And A keeps serving the new values.
    expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(2)))
    return delays
  }

  test('plain ioredis writes (SET on another connection)', async () => {
    const entries = await warm('ioredis')
    await expectVisible(entries, (es) => ioWrite(es, 2))
  })

  // Not on a cluster: @upstash/redis speaks REST, and a rest-server fronts one Redis only.
  const testOriginal = onRedis ? test : test.skip
  testOriginal('the original module writes (@upstash/redis SETEX through a rest-server)', async () => {
    const entries = await warm('original')
    await expectVisible(entries, (es) => Promise.all(es.map((e) => original.setex(e.key, 3600, e.text(2)).then(() => Date.now()))))
  })

  /**
   * This package in a child process writes through its own API (users.cache, sessions.store, …),
   * with or without its own near cache (with: it has read the keys first, so it holds them too,
   * and must read its own writes back).
   */
  const childWriter = (nearCache) => async (entries) => {
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      const entries = ${JSON.stringify(entries.map((e) => ({ ns: e.ns, id: e.id, v: e.value(2) })))}
      const sleep = (ms) => new Promise((done) => setTimeout(done, ms))
      const write = { cache: (e) => r.cache.set(e.id, e.v, 3600), users: (e) => r.users.cache(e.id, e.v, 3600),
        creators: (e) => r.creators.cache(e.id, e.v, 3600), sessions: (e) => r.sessions.store(e.id, e.v, 3600),
        tokens: (e) => r.tokens.cacheBalance(e.id, e.v, 3600) }
      const read = { cache: (e) => r.cache.get(e.id), users: (e) => r.users.get(e.id), creators: (e) => r.creators.get(e.id),
        sessions: (e) => r.sessions.get(e.id), tokens: (e) => r.tokens.getBalance(e.id) }
      ;(async () => {
        if (${nearCache}) {
          r.configure({ nearCache: true })
          for (const until = Date.now() + 15000; r.analytics.stats().nearCache.tracking !== 'live'; await sleep(20)) {
            if (Date.now() > until) throw new Error('child near cache not live: ' + JSON.stringify(r.analytics.stats().nearCache))
          }
          for (let pass = 0; pass < 2; pass++) await Promise.all(entries.map((e) => read[e.ns](e)))
        } else {
          await r.testConnection()
        }
        const hitsBefore = r.analytics.stats().nearCache?.hits ?? 0
        console.log('READY')
        await new Promise((resolve) => process.stdin.once('data', resolve))
        const at = await Promise.all(entries.map((e) => write[e.ns](e).then((ok) => { if (ok !== true) throw new Error('write failed'); return Date.now() })))
        console.log('WROTE ' + JSON.stringify(at))
        const own = await Promise.all(entries.map((e) => read[e.ns](e)))
        console.log('OWN ' + JSON.stringify({ own, nearHitsBefore: hitsBefore, near: r.analytics.stats().nearCache }))
        process.exit(0)
      })().catch((err) => { console.error(err); process.exit(1) })`
    const child = startChild(script, env)
    try {
      await child.waitFor('READY', 30000)
      child.send('go')
      const at = await child.waitFor('WROTE', 15000)
      const own = await child.waitFor('OWN', 15000)
      // The writer reads its own writes, near cache or not.
      expect(own.own).toEqual(entries.map((e) => e.value(2)))
      if (nearCache) {
        expect(own.near.enabled).toBe(true)
        expect(own.nearHitsBefore).toBeGreaterThanOrEqual(entries.length)
      }
      return at
    } finally {
      let timer
      const timeout = new Promise((resolve) => (timer = setTimeout(() => resolve({ code: 'timeout', stderr: child.stderr }), 20000)))
      const { code, stderr } = await Promise.race([child.done, timeout])
      clearTimeout(timer)
      if (code !== 0) {
        child.kill()
        throw new Error(`the writer process exited with ${code}: ${stderr}`)
      }
    }
  }

  test('this package writes from another process, without a near cache', async () => {
    const entries = await warm('ours-plain')
    await expectVisible(entries, childWriter(false))
  }, 60000)

  test('this package writes from another process that has its own near cache', async () => {
    const entries = await warm('ours-near')
    await expectVisible(entries, childWriter(true))
  }, 60000)

  test('read-your-writes in this process: set, raw set, multi, incr, del, then get (not awaited in between)', async () => {
    const P = uniquePrefix('near-ryw')
    prefixes.push(P)
    const k = `${P}:k`
    await A.cache.set(k, 'v1', 600)
    // A near hit, so the next reads test the drop.
    expect(await untilNearHit(A, () => A.cache.get(k))).toBe('v1')

    const setting = A.cache.set(k, 'v2', 600)
    expect(await A.cache.get(k)).toBe('v2')
    expect(await setting).toBe(true)

    await A.cache.get(k)
    const raw = A.redis.set(k, 'v3')
    expect(await A.cache.get(k)).toBe('v3')
    await raw

    await A.cache.get(k)
    const tx = A.redis.multi().set(k, 'v4').exec()
    await tx
    expect(await A.cache.get(k)).toBe('v4')

    await A.cache.set(k, 5, 600)
    await A.cache.get(k)
    const incr = A.cache.incr(k)
    expect(await A.cache.get(k)).toBe(6)
    expect(await incr).toBe(6)

    await A.cache.get(k)
    const deleting = A.cache.del(k)
    expect(await A.cache.get(k)).toBeNull()
    await deleting

    // The other namespaces' writers and deleters.
    const id = `${P}-u`
    await A.users.cache(id, { v: 1 }, 600)
    await A.users.get(id)
    A.users.cache(id, { v: 2 }, 600)
    expect(await A.users.get(id)).toEqual({ v: 2 })
    A.users.invalidate(id)
    expect(await A.users.get(id)).toBeNull()
    await A.sessions.store(id, { s: 1 }, 600)
    await A.sessions.get(id)
    A.sessions.destroy(id)
    expect(await A.sessions.get(id)).toBeNull()
    await A.tokens.cacheBalance(id, 10, 600)
    await A.tokens.getBalance(id)
    A.tokens.cacheBalance(id, 11, 600)
    expect(await A.tokens.getBalance(id)).toBe(11)
    A.tokens.invalidate(id)
    expect(await A.tokens.getBalance(id)).toBeNull()
    await A.creators.cache(id, { c: 1 }, 600)
    await A.creators.get(id)
    A.creators.invalidate(id)
    expect(await A.creators.get(id)).toBeNull()

    // Many in flight: each get sees the set issued just before it, never the one before that
    // (a GET sent before a write must not fill the entry after the write dropped it). 20 rounds,
    // each from a near hit: on the I/O thread this failed in a few rounds of 40.
    const wrong = []
    for (let round = 0; round < 20; round++) {
      await A.cache.set(k, -1, 600)
      await A.cache.get(k)
      await A.cache.get(k)
      const reads = []
      for (let i = 0; i < 50; i++) {
        A.cache.set(k, i, 600)
        reads.push(A.cache.get(k))
      }
      ;(await Promise.all(reads)).forEach((v, i) => v !== i && wrong.push({ round, get: i, read: v }))
    }
    expect(wrong).toEqual([])
    await A.cache.del(k)
  })

  test('a read racing another client`s write never keeps the old value', async () => {
    const P = uniquePrefix('near-race')
    prefixes.push(P)
    const keys = Array.from({ length: 10 }, (_, i) => `${P}:${i}`)
    await Promise.all(keys.map((k) => io.set(k, '0', 'EX', 600)))
    const stale = []
    for (let round = 1; round <= 40; round++) {
      // Drops A's entries, so the reads below are fills (GETs on the wire)…
      await Promise.all(keys.map((k) => io.set(k, '-1', 'EX', 600)))
      await sleep(20)
      // …racing the write: sent a little after A's GETs (ioredis writes at once, A at the end of
      // the tick), so the server answers the old value and the invalidation follows right behind.
      const reads = keys.map((k) => A.cache.get(k))
      for (let i = 0; i < round % 4; i++) await new Promise(setImmediate)
      await Promise.all(keys.map((k) => io.set(k, String(round), 'EX', 600)))
      await Promise.all(reads)
      await sleep(VISIBLE_MS)
      const now = await Promise.all(keys.map((k) => A.cache.get(k)))
      now.forEach((v, i) => v !== round && stale.push({ round, key: keys[i], read: v }))
    }
    expect(stale).toEqual([])
  }, 60000)
})
