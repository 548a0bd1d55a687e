'use strict'
// Cluster: master B stalls (SIGSTOP: its connections stay open, no FIN), its replica takes over,
// and another client writes a key of B's slots on the new master. Meanwhile keys on other
// masters keep changing (any busy cluster). Does this process keep serving B's old value?
// BUSY=0 runs the same without the other masters' writes.
const Redis = require('ioredis')
const { startCluster } = require('../__test__/backends/cluster/cluster.js')
const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
;(async () => {
  const cluster = await startCluster({ masters: 3, replicas: 1 })
  let stopBusy = false
  try {
    process.env.REDIS_CLUSTER_URLS = cluster.urls.join(',')
    delete process.env.REDIS_URL
    const r = require('..')
    const w = new Redis.Cluster(cluster.urls.map((u) => ({ host: '127.0.0.1', port: Number(u.split(':')[2]) })))
    w.on('error', () => {})
    if (process.env.NEAR !== '0') r.configure({ nearCache: true })
    const t0 = Date.now()
    while (process.env.NEAR !== '0' && r.analytics.stats().nearCache.tracking !== 'live') { if (Date.now() - t0 > 10000) throw new Error('not live'); await sleep(10) }
    const key = 'stalled-key'
    const B = cluster.masterOf(key)
    // A key on another master, written every 50 ms by "the rest of the app".
    let other = 'busy-0'
    for (let i = 0; cluster.masterOf(other).port === B.port; i++) other = `busy-${i}`
    const busy = (async () => { let n = 0; while (!stopBusy) { if (process.env.BUSY !== '0') await w.set(other, String(n++)).catch(() => {}); await sleep(50) } })()
    await w.set(key, 'old')
    await r.cache.get(key)
    if ((await r.cache.get(key)) !== 'old') throw new Error('setup')
    console.error('primed')
    console.log('before stall', JSON.stringify(r.analytics.stats().nearCache))
    console.error('pausing', B.port)
    B.pause()
    const stalledAt = Date.now()
    // The replica of B becomes master (B does not answer; skip it).
    const replicaOfB = cluster.ports.find((p) => p !== B.port && cluster.info(p, 'info', 'replication')?.master_port === String(B.port))
    const tf = Date.now()
    while (cluster.info(replicaOfB, 'info', 'replication')?.role !== 'master') { if (Date.now() - tf > 30000) throw new Error('no failover'); await sleep(100) }
    await sleep(500)
    console.error('failed over to', replicaOfB)
    // On the new master directly (ioredis's cluster client can hang on the stalled node).
    if (cluster.cli(replicaOfB, 'set', key, 'new') !== 'OK') throw new Error('write on the new master')
    console.error('wrote new')
    const wrote = Date.now()
    let seen = null; let lastOldMs = null; const counts = {}
    while (Date.now() - wrote < 8000) {
      const got = await r.cache.get(key)
      counts[got] = (counts[got] || 0) + 1
      if (got === 'old') lastOldMs = Date.now() - wrote
      if (got === 'new') { seen = Date.now() - wrote; break }
      await sleep(5)
    }
    console.log(JSON.stringify({ busy: process.env.BUSY !== '0', msToSeeNewValue: seen, oldServedUntilMsAfterWrite: lastOldMs, stalledForMs: Date.now() - stalledAt, reads: counts, near: r.analytics.stats().nearCache }))
    stopBusy = true; await busy
    B.resume()
    w.disconnect()
  } catch (e) { console.log('error', e) } finally {
    stopBusy = true
    await cluster.stop()
    process.exit(0)
  }
})()
