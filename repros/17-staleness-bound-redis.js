'use strict'
// maxStalenessMs on Redis: an entry is not answered from memory once that old, even unchanged.
const { r, sleep, admin, waitLive } = require('./lib')
;(async () => {
  const a = admin()
  await a.set('sb-k', 'v')
  r.configure({ nearCache: { maxStalenessMs: 100 } }); await waitLive()
  await r.cache.get('sb-k')
  const h0 = r.analytics.stats().nearCache.hits
  await r.cache.get('sb-k')
  const hitSoon = r.analytics.stats().nearCache.hits - h0
  await sleep(130)
  const h1 = r.analytics.stats().nearCache.hits
  await r.cache.get('sb-k')
  const hitLate = r.analytics.stats().nearCache.hits - h1
  console.log(JSON.stringify({ hitWithin100ms: hitSoon, hitAfter130ms: hitLate }))
  a.disconnect()
})()
