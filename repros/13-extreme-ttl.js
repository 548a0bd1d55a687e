'use strict'
// Entries whose key has the largest expiry Redis accepts, or a non-UTF-8 value: no panic, and
// the same answer as without the near cache.
const { r, admin, waitLive } = require('./lib')
;(async () => {
  const a = admin()
  await a.set('xt:far', 'v')
  const now = Number((await a.time())[0]) * 1000
  for (const at of ['9223372036854775000', String(BigInt('9223372036854775807') - BigInt(now) - 10n), '9007199254740991']) {
    try { await a.call('PEXPIREAT', 'xt:far', at) } catch (e) { console.log('PEXPIREAT', at, e.message) }
  }
  console.log('PTTL', await a.pttl('xt:far'))
  await a.set('xt:bin', Buffer.from([0xff, 0xfe, 0x41]))
  const before = [await r.cache.get('xt:far'), await r.cache.get('xt:bin')]
  r.configure({ nearCache: true }); await waitLive()
  const after = []
  for (let i = 0; i < 3; i++) after.push(await r.cache.get('xt:far'), await r.cache.get('xt:bin'))
  console.log(JSON.stringify({ before, after, hits: r.analytics.stats().nearCache.hits }))
  a.disconnect()
})()
