'use strict'
// Cluster: a graceful failover (CLUSTER FAILOVER on the replica; the old master stays up as a
// replica), then writes on the new master at once: how long is the old value served?
const { startCluster } = require('../__test__/backends/cluster/cluster.js')
const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
;(async () => {
  const cluster = await startCluster({ masters: 3, replicas: 1 })
  try {
    process.env.REDIS_CLUSTER_URLS = cluster.urls.join(',')
    delete process.env.REDIS_URL
    const r = require('..')
    r.configure({ nearCache: true })
    const live = async () => { const t0 = Date.now(); while (r.analytics.stats().nearCache.tracking !== 'live') { if (Date.now() - t0 > 15000) throw new Error('not live ' + r.analytics.stats().nearCache.lastError); await sleep(10) } return Date.now() - t0 }
    await live()
    const results = []
    for (let round = 0; round < 3; round++) {
      const key = `mf-${round}`
      const B = cluster.masterOf(key)
      if (cluster.cli(B.port, 'set', key, 'old') !== 'OK') throw new Error('set old')
      await r.cache.get(key); await r.cache.get(key)
      const replica = cluster.ports.find((p) => p !== B.port && cluster.info(p, 'info', 'replication')?.master_port === String(B.port))
      cluster.cli(replica, 'cluster', 'failover')
      const tf = Date.now()
      while (cluster.info(replica, 'info', 'replication')?.role !== 'master') { if (Date.now() - tf > 20000) throw new Error('no failover'); await sleep(5) }
      if (cluster.cli(replica, 'set', key, 'new') !== 'OK') throw new Error('set new')
      const wrote = Date.now()
      let old = 0; let seen = null
      while (Date.now() - wrote < 5000) {
        const got = await r.cache.get(key)
        if (got === 'new') { seen = Date.now() - wrote; break }
        if (got === 'old') old++
        await sleep(1)
      }
      results.push({ round, msToSeeNew: seen, oldReads: old, liveAgainMs: await live() })
    }
    console.log(JSON.stringify(results))
  } catch (e) { console.log('error', e) } finally {
    await cluster.stop()
    process.exit(0)
  }
})()
