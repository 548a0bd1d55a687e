'use strict'

// Work nobody awaits (creator read counts flushed on a timer, analytics totals flushed on an
// interval) must never end the process, even in strict mode, where calls reject: with the
// backend down, each failure is logged and the process lives on.

const { runNode, freePort, ROOT } = require('../helpers')

test('strict mode, backend down: background flushes log their failure and never crash the process', async () => {
  const deadPort = await freePort()
  const script = `
    process.on('unhandledRejection', (err) => { console.log('UNHANDLED ' + err.message); process.exit(3) })
    const r = require(${JSON.stringify(ROOT)})
    r.configure({ strict: true, timeoutMs: 200, connectTimeoutMs: 100 })
    r.analytics.startFlushing({ every: 100 })
    r.creators.get('c-1').catch(() => {})
    r.creators.get('c-2').catch(() => {})
    setTimeout(() => { console.log('ALIVE'); process.exit(0) }, 2500)
  `
  const run = await runNode(script, { env: { REDIS_URL: `redis://127.0.0.1:${deadPort}` }, timeoutMs: 20000 })
  expect(run.stdout).not.toMatch(/UNHANDLED/)
  expect(run.stdout).toMatch(/ALIVE/)
  expect(run.code).toBe(0)
  expect(run.stderr).toMatch(/creators\.countReads failed \(ERR_/)
  expect(run.stderr).toMatch(/analytics\.flush failed \(ERR_/)
}, 30000)
