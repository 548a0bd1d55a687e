'use strict'
// As 01, on a loaded machine (LOAD busy processes): after CLIENT KILL of the tracking connection
// and another client's acknowledged write, how long is the old value served, and was tracking
// still 'live' meanwhile (the lost listener not yet noticed)?
const { spawn } = require('node:child_process')
const { r, admin, waitLive, trackingIds } = require('./lib')
;(async () => {
  const hogs = Array.from({ length: Number(process.env.LOAD || 3) }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
  const a = admin()
  r.configure({ nearCache: true })
  await waitLive()
  const rounds = []
  for (let round = 0; round < 30; round++) {
    const key = `ktl-${round}`
    await a.set(key, 'old')
    await r.cache.get(key); await r.cache.get(key)
    const [id] = await trackingIds(a)
    await a.client('KILL', 'ID', id)
    await a.set(key, 'new')
    const t0 = performance.now(); let stale = 0; let staleWhileLive = 0
    while ((await r.cache.get(key)) !== 'new') {
      stale++
      if (r.analytics.stats().nearCache.tracking === 'live') staleWhileLive++
      if (performance.now() - t0 > 2000) break
    }
    rounds.push({ ms: +(performance.now() - t0).toFixed(1), stale, staleWhileLive })
    await waitLive()
  }
  for (const h of hogs) h.kill()
  const bad = rounds.filter((x) => x.stale > 0)
  console.log(`${bad.length}/30 rounds served the old value after the write was acknowledged; worst ${Math.max(...rounds.map((x) => x.ms))} ms`, JSON.stringify(bad))
  a.disconnect()
})()
