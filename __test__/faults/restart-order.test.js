'use strict'

// A Redis server that restarts forgets its scripts. Calls issued after the restart must still
// reach it in program order: the new connection loads every script before any call uses it, so
// no script call meets NOSCRIPT and is sent again (by EVAL) after calls issued later.

const { describeWithRedisServer, startRedisServer } = require('./redis-server')
const { runNode, ROOT } = require('../helpers')

describeWithRedisServer('a restarted server', () => {
  let redis
  beforeAll(async () => {
    redis = await startRedisServer()
  }, 30000)
  afterAll(async () => {
    if (redis) await redis.stop()
  })

  test.each(['loop', 'thread'])('script calls issued after it act in program order (increments, resetKey, increment: 1, 2, 3, 1), transport %s', async (transport) => {
    // The child restarts the server itself (it is told how on stdin), so the restart falls
    // exactly between its calls.
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      const store = new r.RateLimitStore({ prefix: 'restart-order-' + process.pid + ':' })
      store.init({ windowMs: 60000 })
      const round = async (key) => {
        const hits = [store.increment(key), store.increment(key), store.increment(key)]
        store.resetKey(key)
        hits.push(store.increment(key))
        return (await Promise.all(hits)).map((h) => h.totalHits)
      }
      ;(async () => {
        const before = await round('a')
        console.log('RESTART')
        await new Promise((resolve) => process.stdin.once('data', resolve))
        // A call may still meet the dead connection; the next one opens a new one.
        await r.cache.get('warm-after-restart')
        await r.cache.get('warm-after-restart')
        const after = []
        for (let i = 0; i < 5; i++) after.push(await round('b' + i))
        console.log(JSON.stringify({ before, after }))
        process.exit(0)
      })()`
    const { spawn } = require('node:child_process')
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, REDIS_URL: redis.url, DIGIS_REDIS_TIMEOUT_MS: '3000', DIGIS_REDIS_TRANSPORT: transport },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', async (d) => {
      out += d
      if (d.toString().includes('RESTART')) {
        await redis.restart()
        child.stdin.write('go\n')
      }
    })
    const code = await new Promise((resolve) => child.on('exit', resolve))
    expect(code).toBe(0)
    const result = JSON.parse(out.split('\n').find((line) => line.startsWith('{')))
    expect(result.before).toEqual([1, 2, 3, 1])
    for (const hits of result.after) expect(hits).toEqual([1, 2, 3, 1])
  }, 30000)
})
