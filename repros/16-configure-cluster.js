'use strict'
// configure({ nearCache }) together with configure({ cluster }): the Redis-URL client's
// tracking connection closes, the cluster's masters are tracked, and a write there is seen.
const { r, sleep, admin, waitLive, trackingIds } = require('./lib')
const { startCluster } = require('../__test__/backends/cluster/cluster.js')
;(async () => {
  const a = admin()
  const cluster = await startCluster({ masters: 3, replicas: 0 })
  try {
    r.configure({ nearCache: { maxEntries: 1000 } })
    await waitLive()
    console.log('tracking connections on the single server before:', (await trackingIds(a)).length)
    r.configure({ nearCache: { maxEntries: 2000 }, cluster: cluster.urls })
    const liveMs = await waitLive(15000)
    await sleep(1200)
    console.log('after configure({ cluster }): live in', liveMs, 'ms; tracking connections left on the single server:', (await trackingIds(a)).length, 'maxEntries', r.analytics.stats().nearCache.maxEntries)
    const B = cluster.masterOf('cc-key')
    cluster.cli(B.port, 'set', 'cc-key', 'old')
    await r.cache.get('cc-key'); await r.cache.get('cc-key')
    cluster.cli(B.port, 'set', 'cc-key', 'new')
    const t0 = Date.now(); let got
    while ((got = await r.cache.get('cc-key')) !== 'new' && Date.now() - t0 < 2000) await sleep(1)
    console.log('cluster write seen:', got, 'in', Date.now() - t0, 'ms; hits', r.analytics.stats().nearCache.hits)
    r.configure({ nearCache: false })
  } catch (e) { console.log('error', e) } finally {
    a.disconnect()
    await cluster.stop()
    process.exit(0)
  }
})()
