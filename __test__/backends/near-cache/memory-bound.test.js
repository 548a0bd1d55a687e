'use strict'

// Issue 18, item 4: memory stays within maxBytes under a 1M-key scan. A child process A, with
// nearCache { maxBytes: 1 MiB }, reads 1,000,000 distinct keys through cache.get: one in 50 is a
// real key with a ~1 KiB value (20,000 of them, ~20 MiB: twenty times the bound), the rest are
// absent. Throughout, stats().nearCache.bytes stays <= maxBytes, the cache does fill (so the
// bound is what holds it back) and evicts. RSS growth (sampled after a full GC) is compared with
// the same scan with the near cache off, since a million promises alone grow the heap by tens of
// MiB; an unbounded near cache would add the ~20 MiB of values plus a million keys on top.
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, runNodeArgs, ROOT } = require('../../helpers')
const { startRedisServer } = require('../../faults/redis-server')
const { privateRedisPossible, loadModule } = require('./near')

const selection = selectBackend()
const onRedis = privateRedisPossible(selection)
const onCluster = selection.kind === 'cluster'
const describeServer = onRedis || onCluster ? describe : describe.skip

const MAX_BYTES = 1 << 20
const READS = 1_000_000
const REAL_EVERY = 50
// The near cache's own structures beyond the bytes it counts (keys, LRU links: ~2 MiB at 1 MiB),
// plus the spread between two runs' RSS after GC (up to ~4 MiB either way here). A leak of 16
// bytes per read would add 15 MiB; so did a cache that ignored maxBytes but kept the default
// maxEntries (100,000), which the bytes checks catch first.
const RSS_OVER_BASELINE_LIMIT = 12 * 1024 * 1024

/** The scan in a child process (node --expose-gc): one JSON line of what it saw. */
function scanScript(prefix, nearCache) {
  return `
    const r = require(${JSON.stringify(ROOT)})
    const sleep = (ms) => new Promise((done) => setTimeout(done, ms))
    const MAX_BYTES = ${MAX_BYTES}, READS = ${READS}, REAL_EVERY = ${REAL_EVERY}, BATCH = 2000
    const P = ${JSON.stringify(prefix)}
    const rss = () => { gc(); gc(); return process.memoryUsage.rss() }
    ;(async () => {
      const near = () => r.analytics.stats().nearCache
      if (${nearCache}) {
        r.configure({ nearCache: { maxBytes: MAX_BYTES } })
        for (const until = Date.now() + 15000; near().tracking !== 'live'; await sleep(20)) {
          if (Date.now() > until) throw new Error('near cache not live: ' + JSON.stringify(near()))
        }
      }
      const out = { maxBytesSeen: 0, maxEntriesSeen: 0, overBound: null, wrong: null, rssBase: 0, rssPeak: 0 }
      const evictionsBefore = ${nearCache} ? near().evictions : 0
      const started = Date.now()
      for (let from = 0; from < READS; from += BATCH) {
        const keys = Array.from({ length: BATCH }, (_, j) => from + j)
        const real = (i) => i % REAL_EVERY === 0
        const values = await Promise.all(keys.map((i) => r.cache.get(real(i) ? P + ':real:' + i / REAL_EVERY : P + ':absent:' + i)))
        keys.forEach((i, j) => {
          const ok = real(i) ? values[j] && values[j].n === i / REAL_EVERY && values[j].pad.length === 1000 : values[j] === null
          if (!ok && out.wrong === null) out.wrong = { key: i, read: values[j] }
        })
        if (${nearCache}) {
          const s = near()
          out.maxBytesSeen = Math.max(out.maxBytesSeen, s.bytes)
          out.maxEntriesSeen = Math.max(out.maxEntriesSeen, s.entries)
          if (out.overBound === null && s.bytes > MAX_BYTES) out.overBound = { afterReads: from + BATCH, bytes: s.bytes }
        }
        // The baseline after the first 50k reads, when the heap and the connections are warm.
        if (from + BATCH === 50000) out.rssBase = rss()
        if (out.rssBase > 0 && (from / BATCH) % 50 === 0) out.rssPeak = Math.max(out.rssPeak, rss())
      }
      out.seconds = (Date.now() - started) / 1000
      out.rssPeak = Math.max(out.rssPeak, rss())
      out.rssGrowth = out.rssPeak - out.rssBase
      if (${nearCache}) {
        out.evictions = near().evictions - evictionsBefore
        out.maxBytes = near().maxBytes
      }
      console.log(JSON.stringify(out))
      process.exit(0)
    })().catch((err) => { console.error(err); process.exit(1) })`
}

describeServer('near cache: 1M distinct keys read with maxBytes 1 MiB', () => {
  let server
  let env
  let writer
  const P = uniquePrefix('near-mem')

  beforeAll(async () => {
    if (onRedis) {
      server = await startRedisServer()
      env = { REDIS_URL: server.url }
    } else {
      env = { REDIS_CLUSTER_URLS: selection.urls.join(',') }
    }
    writer = loadModule(env)
    const real = READS / REAL_EVERY
    for (let from = 0; from < real; from += 2000) {
      const n = Math.min(2000, real - from)
      const oks = await Promise.all(Array.from({ length: n }, (_, j) => writer.cache.set(`${P}:real:${from + j}`, { n: from + j, pad: 'x'.repeat(1000) }, 600)))
      expect(oks.every((ok) => ok === true)).toBe(true)
    }
  }, 120000)

  afterAll(async () => {
    if (writer && onCluster) await writer.cache.delPattern(`${P}:*`)
    await server?.stop()
  }, 60000)

  const scan = async (nearCache) => {
    const run = await runNodeArgs(['--expose-gc', '-e', scanScript(P, nearCache)], { env, timeoutMs: 170000 })
    if (run.code !== 0) throw new Error(`scan exited with ${run.code}: ${run.stderr}`)
    return JSON.parse(run.stdout.trim().split('\n').at(-1))
  }

  test('bytes <= maxBytes throughout, the cache fills and evicts, RSS growth bounded', async () => {
    const off = await scan(false)
    const on = await scan(true)
    const mib = (n) => (n / 1048576).toFixed(1)
    console.log(
      `near cache 1M reads: ${on.seconds} s (${off.seconds} s without), bytes max ${on.maxBytesSeen} (bound ${MAX_BYTES}), ` +
        `entries max ${on.maxEntriesSeen}, evictions ${on.evictions}, RSS growth ${mib(on.rssGrowth)} MiB (${mib(off.rssGrowth)} MiB without)`,
    )
    expect(off.wrong).toBeNull()
    expect(on.wrong).toBeNull()
    expect(on.maxBytes).toBe(MAX_BYTES)
    expect(on.overBound).toBeNull()
    expect(on.maxBytesSeen).toBeLessThanOrEqual(MAX_BYTES)
    // It did fill: the bound, not an empty cache, is what kept it small.
    expect(on.maxBytesSeen).toBeGreaterThan(MAX_BYTES / 2)
    expect(on.evictions).toBeGreaterThan(0)
    expect(on.rssGrowth - off.rssGrowth).toBeLessThan(RSS_OVER_BASELINE_LIMIT)
  }, 360000)
})
