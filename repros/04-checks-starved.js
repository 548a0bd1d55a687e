'use strict'
// The tracking listener's health check (PING every 500 ms, and on a cluster the comparison of
// masters) runs only when no invalidation arrived for 500 ms: a write anywhere every 100 ms
// keeps it from ever running. Seen on the server: INFO commandstats counts no PING while busy.
// Fails on 738dde7 (0 PINGs while busy); passes since 03578cd (pushes applied in redis-rs's
// reader, so they no longer restart the loop's sleep).
const { r, sleep, admin, waitLive, trackingIds } = require('./lib')
;(async () => {
  const a = admin()
  r.configure({ nearCache: true })
  await waitLive()
  // PINGs the server answered (this process sends none but the listener's check).
  const pings = async () => Number(((await a.info('commandstats')).match(/cmdstat_ping:calls=(\d+)/) || [0, 0])[1])
  let before = await pings()
  await sleep(5000)
  const quiet = (await pings()) - before
  console.log('quiet server, PINGs in 5 s:', quiet)
  let stop = false
  const busy = (async () => { let n = 0; while (!stop) { await a.set('unrelated-key', String(n++)); await sleep(100) } })()
  before = await pings()
  await sleep(5000)
  const busyPings = (await pings()) - before
  console.log('a write every 100 ms, PINGs in 5 s:', busyPings)
  stop = true; await busy
  a.disconnect()
  if (busyPings < 5) { console.log('BUG: the listener health check was starved (expected ~10 PINGs in 5 s)'); process.exitCode = 1 }
})()
