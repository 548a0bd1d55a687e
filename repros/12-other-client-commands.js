'use strict'
// Key changes by another client through less common commands: is each announced (entry
// dropped) so this process sees the new value? SWAPDB swaps whole databases.
const { r, sleep, admin, waitLive, timeToSee } = require('./lib')
;(async () => {
  const a = admin()
  r.configure({ nearCache: true })
  await waitLive()
  const cases = [
    ['RENAME onto it', async (k) => { await a.set(`${k}:src`, 'new'); await a.rename(`${k}:src`, k) }],
    ['MOVE from db 1', async (k) => { await a.del(k); await a.select(1); await a.set(k, 'new'); await a.move(k, 0); await a.select(0) }],
    ['COPY from db 1 (REPLACE)', async (k) => { await a.select(1); await a.set(`${k}:s`, 'new'); await a.call('COPY', `${k}:s`, k, 'DB', '0', 'REPLACE'); await a.select(0) }],
    ['RESTORE REPLACE', async (k) => { await a.set(`${k}:d`, 'new'); const dump = await a.dumpBuffer(`${k}:d`); await a.restore(k, 0, dump, 'REPLACE') }],
    ['EVAL on another client', async (k) => { await a.eval("return redis.call('SET', KEYS[1], 'new')", 1, k) }],
    ['SWAPDB 0 1', async (k) => { await a.select(1); await a.set(k, 'new'); await a.select(0); await a.swapdb(0, 1) }],
    // db 1 written before the entry is primed: only the SWAPDB itself can announce the change.
    ['SWAPDB 0 1, db 1 prepared before the read', async () => { await a.swapdb(0, 1) }, async (k) => { await a.select(1); await a.set(k, 'new'); await a.select(0) }],
  ]
  for (const [name, change, before] of cases) {
    const k = `occ:${name.replace(/\W/g, '')}`
    await a.select(0); await a.set(k, 'old')
    if (before) { await before(k); await sleep(20) }
    await r.cache.get(k); await r.cache.get(k)
    await change(k)
    const ms = await timeToSee(k, 'new', 2000)
    console.log(`${name}: ${ms === Infinity ? 'STILL OLD after 2 s' : `seen in ${ms.toFixed(1)} ms`}`)
    await a.select(0)
  }
  await a.flushall()
  a.disconnect()
})()
