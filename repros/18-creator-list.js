'use strict'
// creators.getList from memory, then creators.cacheList (awaited, not awaited) and another
// client's write of creator:list: each seen by the next read.
const { r, sleep, admin, waitLive, PORT } = require('./lib')
;(async () => {
  const a = admin()
  r.configure({ nearCache: true }); await waitLive()
  const out = {}
  await r.creators.cacheList([{ id: 1 }])
  await r.creators.getList(); await r.creators.getList()
  await r.creators.cacheList([{ id: 2 }])
  out.awaited = await r.creators.getList()
  const w = r.creators.cacheList([{ id: 3 }]); out.notAwaited = await r.creators.getList(); await w
  await r.creators.getList()
  await a.set('creator:list', JSON.stringify([{ id: 4 }]))
  const t0 = Date.now(); let got
  while (JSON.stringify(got = await r.creators.getList()) !== '[{"id":4}]' && Date.now() - t0 < 2000) await sleep(1)
  out.otherClient = got; out.otherClientMs = Date.now() - t0
  out.hits = r.analytics.stats().nearCache.namespaces.creators.hits
  console.log(JSON.stringify(out))
  a.disconnect()
})()
