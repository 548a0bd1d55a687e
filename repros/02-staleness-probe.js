'use strict'
// Another client writes increasing numbers to a few keys; this process reads them through the
// near cache. A read that starts more than LAG ms after a write was acknowledged must not
// return an older number. Optional chaos: CHAOS=kill-tracking|kill-normal|pause.
const { r, sleep, admin, waitLive, trackingIds } = require('./lib')
const LAG = Number(process.env.LAG || 100)
const SECONDS = Number(process.env.SECONDS_RUN || 10)
const CHAOS = process.env.CHAOS || ''
;(async () => {
  const w = admin(); const a = admin(); w.on('error', () => {})
  const keys = Array.from({ length: 20 }, (_, i) => `probe-${i}`)
  const acked = new Map() // key -> [{n, at}]
  for (const k of keys) { await w.set(k, '0'); acked.set(k, [{ n: 0, at: performance.now() }]) }
  r.configure({ nearCache: true })
  await waitLive()
  let lastChaos = 0; const samples = []; let stop = false; let n = 0; let violations = 0; let worst = 0; let reads = 0
  const writer = (async () => {
    while (!stop) {
      const k = keys[n % keys.length]; const v = ++n
      await w.set(k, String(v))
      acked.get(k).push({ n: v, at: performance.now() })
      await sleep(1)
    }
  })()
  const chaos = (async () => {
    while (!stop && CHAOS) {
      await sleep(300)
      try {
        if (CHAOS === 'kill-tracking') { for (const id of await trackingIds(a)) await a.client('KILL', 'ID', id) }
        if (CHAOS === 'kill-normal') await a.client('KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
        if (CHAOS === 'pause') await a.client('PAUSE', '200', 'WRITE')
      lastChaos = performance.now() } catch (e) { console.log('chaos', e.message) }
    }
  })()
  const reader = async () => {
    while (!stop) {
      const k = keys[Math.floor(Math.random() * keys.length)]
      const started = performance.now()
      const got = await r.cache.get(k)
      reads++
      if (got === null || got === undefined) { await new Promise((res) => setImmediate(res)); continue }
      // Newest write acknowledged before `started - LAG`.
      const list = acked.get(k)
      let must = 0
      for (const e of list) if (e.at < started - LAG) must = e.n
      if (Number(got) < must) {
        violations++
        // how old: when the value after `got` was acknowledged
        const next = list.find((e) => e.n > Number(got))
        worst = Math.max(worst, started - next.at)
        if (samples.length < 15) samples.push({ k, got, must, staleMs: Math.round(started - next.at), sinceChaosMs: Math.round(started - lastChaos), tracking: r.analytics.stats().nearCache.tracking, hits: r.analytics.stats().nearCache.hits })
      }
      await new Promise((res) => setImmediate(res))
    }
  }
  const readers = Array.from({ length: 8 }, reader)
  await sleep(SECONDS * 1000)
  stop = true
  await Promise.all([writer, chaos, ...readers])
  const s = r.analytics.stats().nearCache
  console.log(JSON.stringify({ transport: process.env.DIGIS_REDIS_TRANSPORT || 'default', CHAOS, reads, writes: n, violations, worstStaleMs: Math.round(worst), hits: s.hits, misses: s.misses, tracking: s.tracking }))
  if (samples.length) console.log(samples)
  w.disconnect(); a.disconnect()
})()
