'use strict'
// CLIENT KILL of the tracking connection only, then another client writes at once: how long
// does this process keep serving the old value?
const { r, sleep, admin, waitLive, trackingIds, timeToSee } = require('./lib')
;(async () => {
  const a = admin()
  r.configure({ nearCache: true })
  await waitLive()
  const worst = []
  for (let round = 0; round < 10; round++) {
    const key = `kt-${round}`
    await a.set(key, 'old')
    await r.cache.get(key); await r.cache.get(key)
    const ids = await trackingIds(a)
    await a.client('KILL', 'ID', ids[0])
    await a.set(key, 'new')
    const ms = await timeToSee(key, 'new')
    worst.push(Math.round(ms))
    await waitLive()
  }
  console.log('ms to see a write made right after the tracking connection was killed:', worst.join(' '))
  console.log(JSON.stringify(r.analytics.stats().nearCache))
  a.disconnect()
})()
