'use strict'
// Changing namespaces (BCAST PREFIX tracking per namespace): after each change, another
// client's write to a newly answered namespace must be seen.
const { r, sleep, admin, waitLive } = require('./lib')
;(async () => {
  const a = admin()
  const seq = [['users'], ['users', 'creators'], ['creators'], ['cache'], ['users', 'creators', 'sessions', 'tokens'], ['tokens']]
  const out = []
  for (const namespaces of seq) {
    r.configure({ nearCache: { namespaces } })
    const liveMs = await waitLive()
    await a.set('creator:nc', JSON.stringify({ v: 'old' })); await a.set('user:nc', JSON.stringify({ v: 'old' }))
    await r.creators.get('nc'); await r.creators.get('nc'); await r.users.get('nc'); await r.users.get('nc')
    await a.set('creator:nc', JSON.stringify({ v: 'new' })); await a.set('user:nc', JSON.stringify({ v: 'new' }))
    const t0 = Date.now(); let c; let u
    while (Date.now() - t0 < 2000) { c = (await r.creators.get('nc'))?.v; u = (await r.users.get('nc'))?.v; if (c === 'new' && u === 'new') break; await sleep(1) }
    out.push({ namespaces: namespaces.join(','), liveMs, creators: c, users: u, msToSee: Date.now() - t0 })
  }
  console.log(out)
  a.disconnect()
})()
