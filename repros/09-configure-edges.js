'use strict'
// configure({ nearCache }) edge cases: bad options (must throw a TypeError and change nothing),
// unknown option names, and toggling on/off repeatedly (listener connections must not pile up).
const { r, sleep, admin, waitLive, trackingIds } = require('./lib')
;(async () => {
  const a = admin()
  const tryIt = (what, opts) => {
    try { r.configure(opts); return `${what}: accepted` } catch (e) { return `${what}: ${e.constructor.name} ${e.code || ''} ${e.message}` }
  }
  r.configure({ nearCache: { maxEntries: 7 } })
  for (const [what, v] of [['maxBytes 1023', { maxBytes: 1023 }], ['maxBytes NaN', { maxBytes: NaN }], ['maxBytes Infinity', { maxBytes: Infinity }], ['maxEntries 0', { maxEntries: 0 }], ['maxEntries 1.5', { maxEntries: 1.5 }], ['maxEntries "5"', { maxEntries: '5' }], ['namespaces bogus', { namespaces: ['bogus'] }], ['namespaces string', { namespaces: 'cache' }], ['maxStalenessMs 0', { maxStalenessMs: 0 }], ['maxStalenessMs -1', { maxStalenessMs: -1 }], ['string', 'yes'], ['number 1', 1], ['array', []], ['typo maxbytes', { maxbytes: 1 }], ['typo namespace', { namespace: ['users'] }]]) {
    console.log(tryIt(what, { nearCache: v }), '| maxEntries now', r.analytics.stats().nearCache.maxEntries)
  }
  console.log(tryIt('unknown top-level option', { bogusOption: 1 }))
  // Toggling.
  r.configure({ nearCache: true }); await waitLive()
  for (let i = 0; i < 50; i++) { r.configure({ nearCache: false }); r.configure({ nearCache: { maxEntries: 100 + i } }) }
  await waitLive()
  await sleep(1500)
  const ids = await trackingIds(a)
  console.log('tracking connections after 50 toggles:', ids.length, JSON.stringify(r.analytics.stats().nearCache.maxEntries))
  for (let i = 0; i < 50; i++) { r.configure({ nearCache: false }); await sleep(1); r.configure({ nearCache: true }) }
  await waitLive(); await sleep(2000)
  console.log('tracking connections after 50 spaced toggles:', (await trackingIds(a)).length)
  r.configure({ nearCache: false })
  for (const wait of [1500, 3000]) {
    await sleep(wait)
    const pings = async () => Number((await a.info('commandstats')).match(/cmdstat_ping:calls=(\d+)/)[1])
    const p0 = await pings(); await sleep(1000)
    console.log(`tracking connections ${wait} ms after off:`, (await trackingIds(a)).length, r.analytics.stats().nearCache.tracking, 'PINGs in the next second:', (await pings()) - p0)
  }
  a.disconnect()
})()
