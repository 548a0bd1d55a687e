'use strict'

// The documented deadline (DIGIS_REDIS_TIMEOUT_MS / configure({ timeoutMs })) is the only one: a
// server-side script busy for ~800 ms succeeds under a 3000 ms deadline (redis-rs's own 500 ms
// response timeout once cut it short), and a small deadline still answers fallbacks in time.
const { selectBackend } = require('../../../lib/environment')
const { runNode, backendEnv, uniquePrefix, ROOT } = require('../../helpers')

const selection = selectBackend()
const describeServer = selection.kind === 'embedded' ? describe.skip : describe

// Busy for `ARGV[1]` ms by the server's clock; touches KEYS[1] so that a cluster runs it on the
// key's master, where the concurrent cache.get waits behind it.
const BUSY = `
  redis.call('SET', KEYS[1], '"stored"')
  local t = redis.call('TIME')
  local start = t[1] * 1000000 + t[2]
  while true do
    t = redis.call('TIME')
    if t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1]) * 1000 then return 'done' end
  end`

/** Runs the busy script and, 50 ms later, a cache.get of its key, under `timeoutMs`. */
function busyRun(timeoutMs, key) {
  const script = `
    const r = require(${JSON.stringify(ROOT)})
    r.configure({ logger: null })
    const timed = (promise) => {
      const started = Date.now()
      return promise.then((value) => ({ ms: Date.now() - started, value }), (err) => ({ ms: Date.now() - started, error: err.code }))
    }
    ;(async () => {
      await r.cache.del(${JSON.stringify(key)})
      const script = timed(r.redis.eval(${JSON.stringify(BUSY)}, [${JSON.stringify(key)}], [800]))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const get = timed(r.cache.get(${JSON.stringify(key)}))
      console.log(JSON.stringify({ script: await script, get: await get }))
      // Let a timed-out script finish before cleaning up.
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await r.cache.del(${JSON.stringify(key)})
    })()
  `
  return runNode(script, { env: { ...backendEnv(), DIGIS_REDIS_TIMEOUT_MS: String(timeoutMs) }, timeoutMs: 20000 })
}

describeServer('the call deadline is the only deadline', () => {
  test('a script busy for 800 ms succeeds under a 3000 ms deadline, and a read behind it waits', async () => {
    const key = `${uniquePrefix('deadline')}:busy`
    const run = await busyRun(3000, key)
    expect(run.stderr).toBe('')
    const { script, get } = JSON.parse(run.stdout)
    expect(script).toEqual({ ms: expect.any(Number), value: 'done' })
    expect(script.ms).toBeGreaterThanOrEqual(700)
    expect(get.value).toBe('stored')
  }, 30000)

  test('under a 300 ms deadline the script times out and the read answers its fallback in time', async () => {
    const key = `${uniquePrefix('deadline')}:short`
    const run = await busyRun(300, key)
    const { script, get } = JSON.parse(run.stdout)
    expect(script.error).toBe('ERR_TIMEOUT')
    expect(get).toEqual({ ms: expect.any(Number), value: null })
    // Generous bounds for a loaded machine; the script itself runs for 800 ms.
    expect(script.ms).toBeLessThan(2000)
    expect(get.ms).toBeLessThan(2000)
  }, 30000)
})
