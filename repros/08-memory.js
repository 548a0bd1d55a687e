'use strict'
// Bounds under many distinct keys and big values: stats bytes/entries within maxBytes/maxEntries,
// and RSS growth compared with the near cache's own count.
const { r, sleep, admin, waitLive } = require('./lib')
;(async () => {
  const a = admin()
  const N = Number(process.env.N || 20000)
  const big = 'x'.repeat(Number(process.env.VALUE || 4096))
  for (let i = 0; i < N; i += 1000) {
    const p = a.pipeline()
    for (let j = i; j < i + 1000; j++) p.set(`mem:${j}`, big)
    await p.exec()
  }
  global.gc?.()
  const rss0 = process.memoryUsage().rss
  const maxBytes = Number(process.env.MAX_BYTES || 8 * 1024 * 1024)
  // NEAR=0: the same reads without the near cache (baseline RSS growth).
  if (process.env.NEAR !== '0') { r.configure({ nearCache: { maxBytes, maxEntries: 1000000 } }); await waitLive() }
  let over = 0
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => r.cache.get(`mem:${i + j}`)))
      const s = r.analytics.stats().nearCache
      if (s.bytes > s.maxBytes) over++
    }
  }
  global.gc?.()
  const s = r.analytics.stats().nearCache
  const rssGrowth = process.memoryUsage().rss - rss0
  console.log(JSON.stringify({ near: process.env.NEAR !== '0', N, valueBytes: big.length, maxBytes, entries: s.entries, bytes: s.bytes, evictions: s.evictions, timesOverBound: over, rssGrowthMiB: +(rssGrowth / 1048576).toFixed(1) }))
  r.configure({ nearCache: false })
  a.disconnect()
})()
