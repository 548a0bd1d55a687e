'use strict'
// Read-your-writes with the near cache on: for each write API, prime the entry (two reads, the
// second answered from memory), write, then read at once, awaited and not awaited.
const { r, sleep, admin, waitLive } = require('./lib')
const { cache, users, creators, sessions, tokens, redis } = r
const P = `ow${process.pid}`
const cases = [
  // [name, read(), write(), expected after write]
  ['cache.set', (k) => cache.get(k), (k) => cache.set(k, 'new'), 'new'],
  ['cache.del', (k) => cache.get(k), (k) => cache.del(k), null],
  ['cache.incr', (k) => cache.get(k), (k) => cache.incr(k), 1],
  ['users.cache', (k) => users.get(k), (k) => users.cache(k, { v: 'new' }), { v: 'new' }],
  ['users.invalidate', (k) => users.get(k), (k) => users.invalidate(k), null],
  ['creators.cache', (k) => creators.get(k), (k) => creators.cache(k, { v: 'new' }), { v: 'new' }],
  ['creators.invalidate', (k) => creators.get(k), (k) => creators.invalidate(k), null],
  ['sessions.store', (k) => sessions.get(k), (k) => sessions.store(k, { v: 'new' }), { v: 'new' }],
  ['sessions.destroy', (k) => sessions.get(k), (k) => sessions.destroy(k), null],
  ['tokens.cacheBalance', (k) => tokens.getBalance(k), (k) => tokens.cacheBalance(k, 77), 77],
  ['tokens.invalidate', (k) => tokens.getBalance(k), (k) => tokens.invalidate(k), null],
  ['redis.set', (k) => cache.get(k), (k) => redis.set(k, 'new'), 'new'],
  ['redis.del', (k) => cache.get(k), (k) => redis.del(k), null],
  ['redis.eval (key as ARGV)', (k) => cache.get(k), (k) => redis.eval("return redis.call('SET', ARGV[1], 'new')", [], [k]), 'new'],
  ['redis.pipeline', (k) => cache.get(k), (k) => redis.pipeline().set(k, 'new').exec(), 'new'],
  ['redis.multi', (k) => cache.get(k), (k) => redis.multi().set(k, 'new').exec(), 'new'],
  ['cache.delPattern', (k) => cache.get(k), (k) => cache.delPattern(`${k}*`), null],
  ['SessionStore.set', (k) => sessions.get(k), (k) => new r.SessionStore().set(k, { v: 'new', cookie: {} }), { v: 'new', cookie: {} }],
  ['SessionStore.destroy', (k) => sessions.get(k), (k) => new r.SessionStore().destroy(k), null],
]
const prime = { 'cache.incr': '0x' }
;(async () => {
  const a = admin()
  // NEAR=0: the same without the near cache, for comparison (a not-awaited write that sends
  // its change after a round trip is not seen by a read issued next, near cache or not).
  if (process.env.NEAR !== '0') { r.configure({ nearCache: true }); await waitLive() }
  let failures = 0
  for (const [name, read, write, expected] of cases) {
    for (const mode of ['awaited', 'not awaited', 'not awaited, same tick']) {
      const id = `${P}:${name.replace(/\W/g, '')}:${mode.replace(/\W/g, '')}`
      const ns = name.split('.')[0]
      const full = { users: `user:${id}`, creators: `creator:${id}`, sessions: `session:${id}`, tokens: `tokens:${id}`, SessionStore: `session:${id}` }[ns] || id
      const old = name === 'cache.incr' ? '' : (['users', 'creators', 'sessions', 'SessionStore'].includes(ns) ? JSON.stringify({ v: 'old', cookie: {} }) : ns === 'tokens' ? '5' : 'old')
      if (name === 'cache.incr') await a.del(full); else await a.set(full, old)
      await read(id); await read(id)
      let got
      if (mode === 'awaited') { await write(id); got = await read(id) }
      else if (mode === 'not awaited') { const w = write(id); got = await read(id); await w }
      else { const w = write(id); const p = read(id); got = await p; await w }
      const again = await read(id)
      const ok = JSON.stringify(got) === JSON.stringify(expected) || (mode !== 'awaited' && got === undefined)
      const ok2 = JSON.stringify(again) === JSON.stringify(expected)
      if (!ok || !ok2) { failures++; console.log('FAIL', name, mode, 'read after write:', JSON.stringify(got), 'then:', JSON.stringify(again), 'expected', JSON.stringify(expected)) }
    }
  }
  const s = r.analytics.stats().nearCache
  console.log(`near ${process.env.NEAR !== '0'}: ${cases.length * 3} cases, ${failures} failures; near hits ${s.hits}`)
  a.disconnect()
  process.exitCode = failures ? 1 : 0
})()
