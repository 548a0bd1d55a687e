'use strict'

// A plain-TCP REDIS_URL's socket is driven by Node's own event loop (src/node_loop): what a user
// relies on there beyond the conformance suite. Replies that arrive in many reads, a connection
// the server drops under calls in flight, worker threads that end or are terminated with calls
// in flight, and the switch back to the I/O thread. Each case runs in a child process.
const { runNode, ROOT } = require('../../helpers')

const MOD = JSON.stringify(ROOT)
const URL = process.env.REDIS_URL

describe('redis on Node\'s event loop', () => {
  test('is the default on Node; DIGIS_REDIS_TRANSPORT=thread selects the I/O thread; a bad value is reported', async () => {
    const script = `require(${MOD}).health().then((h) => console.log(h.transport))`
    const byDefault = await runNode(script, { env: { REDIS_URL: URL } })
    expect(byDefault.stdout.trim()).toBe('node-loop')
    const thread = await runNode(script, { env: { REDIS_URL: URL, DIGIS_REDIS_TRANSPORT: 'thread' } })
    expect(thread.stdout.trim()).toBe('io-thread')
    const bad = await runNode(script, { env: { REDIS_URL: URL, DIGIS_REDIS_TRANSPORT: 'uv' } })
    expect(bad.stdout.trim()).toBe('node-loop')
    expect(bad.stderr).toMatch(/ignoring DIGIS_REDIS_TRANSPORT must be loop or thread, got "uv"/)
  })

  test('large replies arriving in many reads come back whole, in order with small ones', async () => {
    const script = `
      const r = require(${MOD})
      const prefix = 'node-loop-large-' + process.pid + ':'
      ;(async () => {
        const big = 'x'.repeat(3 * 1024 * 1024)
        await r.cache.set(prefix + 'big', { big }, 60)
        const keys = Array.from({ length: 20000 }, (_, i) => prefix + i)
        await Promise.all(keys.map((k, i) => r.cache.set(k, { i }, 60)))
        const [whole, small, many] = await Promise.all([r.cache.get(prefix + 'big'), r.cache.get(prefix + 7), r.cache.mget(keys)])
        console.log(JSON.stringify({
          bigOk: whole && whole.big.length === big.length,
          small,
          manyOk: many.length === keys.length && many.every((v, i) => v && v.i === i),
        }))
        await r.cache.delPattern(prefix + '*')
      })()`
    const { stdout, stderr, code } = await runNode(script, { env: { REDIS_URL: URL }, timeoutMs: 60000 })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ bigOk: true, small: { i: 7 }, manyOk: true })
  }, 70000)

  test('a connection dropped under calls in flight answers each call its value or the fallback, and the next call reconnects', async () => {
    const proxyModule = JSON.stringify(require.resolve('../../faults/fault-proxy'))
    const script = `
      const { startFaultProxy } = require(${proxyModule})
      const target = new URL(process.env.TARGET_URL)
      ;(async () => {
        const proxy = await startFaultProxy({ target: { host: target.hostname, port: Number(target.port) } })
        process.env.REDIS_URL = 'redis://127.0.0.1:' + proxy.port + target.pathname
        const r = require(${MOD})
        const key = 'node-loop-drop-' + process.pid
        await r.cache.set(key, { v: 1 }, 60)
        proxy.setMode('delay', { ms: 300 })
        const inFlight = Array.from({ length: 50 }, () => r.cache.get(key))
        await new Promise((resolve) => setTimeout(resolve, 100))
        proxy.setMode('cut')
        const answered = await Promise.all(inFlight)
        proxy.setMode('pass')
        const after = await r.cache.get(key)
        await r.cache.del(key)
        await proxy.close()
        console.log(JSON.stringify({ answered: answered.length, values: [...new Set(answered.map((v) => JSON.stringify(v)))].sort(), after }))
      })()`
    const { stdout, code } = await runNode(script, { env: { TARGET_URL: URL, DIGIS_REDIS_TIMEOUT_MS: '5000' } })
    expect(code).toBe(0)
    const result = JSON.parse(stdout)
    expect(result.answered).toBe(50)
    // The cut closed the socket with the replies still owed: every call got the fallback,
    // never another call's reply, and the next call opened a new connection.
    expect(result.values).toEqual(['null'])
    expect(result.after).toEqual({ v: 1 })
  })

  test('empty batches answer at once and leave every later reply with its own call', async () => {
    const script = `
      const b = require(${JSON.stringify(require.resolve('../../../binding'))})
      const c = b.NativeClient.redis(process.env.REDIS_URL, {}, true)
      const p = 'node-loop-empty-' + process.pid + ':'
      ;(async () => {
        await c.command(['SET', p + 'a', 'A'])
        await c.command(['SET', p + 'b', 'B'])
        const settled = (promise) => promise.then((v) => ['ok', v], (e) => ['rejected', e.message])
        const all = await Promise.all([
          settled(c.pipeline([], false)),
          settled(c.getManyPacked(new Uint8Array(0), '', new Uint32Array(0))),
          settled(c.command(['GET', p + 'a'])),
          settled(c.command(['GET', p + 'b'])),
        ])
        await c.command(['DEL', p + 'a', p + 'b'])
        console.log(JSON.stringify({ onNodeLoop: c.onNodeLoop, gets: all.slice(2) }))
      })()`
    const { stdout, code } = await runNode(script, { env: { REDIS_URL: URL } })
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({ onNodeLoop: true, gets: [['ok', '"A"'], ['ok', '"B"']] })
  })

  test('worker threads with a connection end cleanly, terminated mid-flight or not', async () => {
    const script = `
      const { Worker } = require('node:worker_threads')
      const body = \`
        const { parentPort, workerData } = require('node:worker_threads')
        const r = require(${JSON.stringify(ROOT).replace(/"/g, "'")})
        const key = 'node-loop-worker-' + process.pid + '-' + workerData
        r.cache.set(key, { w: workerData }, 60)
          .then(() => r.cache.get(key))
          .then((v) => {
            if (workerData === 'busy') for (let i = 0; i < 500; i++) r.cache.get(key)
            parentPort.postMessage(v)
          })
      \`
      const run = (mode) => new Promise((resolve) => {
        const w = new Worker(body, { eval: true, workerData: mode })
        let value = null
        w.on('message', (v) => { value = v; if (mode !== 'idle') w.terminate() })
        w.on('error', (e) => resolve({ mode, error: e.message }))
        w.on('exit', (code) => resolve({ mode, value, exited: true }))
      })
      Promise.all(['idle', 'terminated', 'busy'].map(run)).then((r) => console.log(JSON.stringify(r)))`
    // Generous deadlines: this is about ending cleanly, on a machine the other files load.
    const env = { REDIS_URL: URL, DIGIS_REDIS_TIMEOUT_MS: '5000', DIGIS_REDIS_CONNECT_TIMEOUT_MS: '5000' }
    const { stdout, stderr, code } = await runNode(script, { env })
    // Nothing on stderr: no open-handle report, no abort, no failed call.
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
    expect(JSON.parse(stdout)).toEqual([
      { mode: 'idle', value: { w: 'idle' }, exited: true },
      { mode: 'terminated', value: { w: 'terminated' }, exited: true },
      { mode: 'busy', value: { w: 'busy' }, exited: true },
    ])
  })

  test('an idle connection does not keep the process alive', async () => {
    const started = Date.now()
    const { stdout, code } = await runNode(`require(${MOD}).cache.set('node-loop-idle-' + process.pid, 1, 5).then((ok) => console.log(ok))`, {
      env: { REDIS_URL: URL },
    })
    expect(code).toBe(0)
    expect(stdout.trim()).toBe('true')
    expect(Date.now() - started).toBeLessThan(10000)
  })
})
