'use strict'

// The embedded store's memory bound (default 256 MiB; configure({ embeddedMaxBytes }) and
// DIGIS_REDIS_EMBEDDED_MAX_BYTES): writing far more than it holds keeps the process bounded and
// the newest values readable; a write that cannot fit at all answers its fallback and says why.
// Child processes, so that RSS is this store's alone.
const { runNode, runNodeArgs, ROOT } = require('./helpers')

test('600 MB of 100 KB values: RSS stays under 500 MB and the newest values are readable', async () => {
  const script = `
    const r = require(${JSON.stringify(ROOT)})
    const VALUE = 100 * 1024
    const COUNT = 6000
    const value = (i) => String(i).padStart(8, '0') + 'x'.repeat(VALUE - 8)
    let peak = 0
    const sample = () => (peak = Math.max(peak, process.memoryUsage().rss))
    ;(async () => {
      let failed = 0
      for (let i = 0; i < COUNT; i += 100) {
        const batch = []
        for (let j = i; j < i + 100; j++) batch.push(r.cache.set('mem:' + j, value(j)))
        failed += (await Promise.all(batch)).filter((ok) => ok !== true).length
        sample()
      }
      let newestReadable = 0
      for (let j = COUNT - 500; j < COUNT; j++) if ((await r.cache.get('mem:' + j)) === value(j)) newestReadable++
      const oldestGone = (await r.cache.mget(['mem:0', 'mem:1', 'mem:2'])).every((v) => v === null)
      sample()
      console.log(JSON.stringify({ failed, newestReadable, oldestGone, peakMB: Math.round(peak / 1048576) }))
    })()
  `
  const { stdout, stderr, code } = await runNode(script, { timeoutMs: 120000 })
  expect(code).toBe(0)
  expect(stderr).not.toMatch(/failed/)
  const result = JSON.parse(stdout)
  expect(result).toMatchObject({ failed: 0, newestReadable: 500, oldestGone: true })
  expect(result.peakMB).toBeLessThan(500)
}, 150000)

test('small values: with a 32 MiB bound, RSS grows by less than 1.6× the bound', async () => {
  // Per entry the B-trees, the entry and its allocations cost far more than a small key and
  // value; an estimate that left them out let RSS grow 2.6-4× past the bound.
  const script = `
    const r = require(${JSON.stringify(ROOT)})
    ;(async () => {
      await r.cache.set('warm', 1)
      gc()
      const base = process.memoryUsage().rss
      const value = 'x'.repeat(100)
      for (let i = 0; i < 500000; i++) r.cache.set('small:' + i, value, 3600)
      gc()
      const newest = await r.cache.get('small:499999')
      console.log(JSON.stringify({ growthMB: (process.memoryUsage().rss - base) / 1048576, newest }))
    })()
  `
  const { stdout, stderr, code } = await runNodeArgs(['--expose-gc', '-e', script], {
    env: { DIGIS_REDIS_EMBEDDED_MAX_BYTES: String(32 * 1024 * 1024) },
    timeoutMs: 120000,
  })
  expect({ code, stderr: stderr.replace(/.*embedded in-process store.*\n?/g, '') }).toEqual({ code: 0, stderr: '' })
  const result = JSON.parse(stdout)
  expect(result.newest).toBe('x'.repeat(100))
  expect(result.growthMB).toBeLessThan(32 * 1.6)
}, 150000)

test('DIGIS_REDIS_EMBEDDED_MAX_BYTES: a write that cannot fit answers false, logs why, evicts nothing', async () => {
  const script = `
    const r = require(${JSON.stringify(ROOT)})
    ;(async () => {
      const small = await r.cache.set('small', 'v')
      const big = await r.cache.set('big', 'x'.repeat(200000))
      console.log(JSON.stringify({ small, big, kept: await r.cache.get('small'), bigValue: await r.cache.get('big') }))
    })()
  `
  const { stdout, stderr } = await runNode(script, { env: { DIGIS_REDIS_EMBEDDED_MAX_BYTES: '100000' } })
  expect(JSON.parse(stdout)).toEqual({ small: true, big: false, kept: 'v', bigValue: null })
  expect(stderr).toMatch(/cache\.set failed \(ERR_COMMAND\): OOM command not allowed .*bound of 100000 bytes/)
})

test('configure({ embeddedMaxBytes }) takes whole bytes (0: no bound) and refuses anything else', () => {
  const r = require('..')
  expect(() => r.configure({ embeddedMaxBytes: -1 })).toThrow(/embeddedMaxBytes must be a whole number from 0/)
  expect(() => r.configure({ embeddedMaxBytes: 1.5 })).toThrow(TypeError)
  r.configure({ embeddedMaxBytes: 256 * 1024 * 1024 })
})
