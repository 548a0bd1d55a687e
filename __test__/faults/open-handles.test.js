'use strict'

// A process that uses the package exits by itself once its work is done: no socket, timer,
// keep-alive pool, reconnect loop or breaker timer may hold Node's event loop open. Each case
// is a `node -e` script that makes its calls and then simply ends (no process.exit); it must be
// gone within 5 s of starting, and promptly after its last call.
const crypto = require('node:crypto')
const { runNode, uniquePrefix, blackHole, freePort, ROOT } = require('../helpers')
const { startRedisServer, startRestServer, describeWithRedisServer } = require('./redis-server')

const MOD = JSON.stringify(ROOT)
const BOUND_MS = 5000
const EXIT_LAG_MS = 1000
const ENV = { DIGIS_REDIS_TIMEOUT_MS: '300', DIGIS_REDIS_CONNECT_TIMEOUT_MS: '300' }

/**
 * Runs `body` (async code using `r`, the package) in a child; it reports `out` and ends on its
 * own. Resolves with the child's report and `exitLagMs` (report → exit).
 */
async function runToExit(body, env) {
  const script = `
    const r = require(${MOD})
    ;(async () => {
      const out = {}
      ${body}
      console.log(JSON.stringify({ out, doneAt: Date.now() }))
    })()
  `
  const started = Date.now()
  const run = await runNode(script, { env: { ...ENV, ...env }, timeoutMs: BOUND_MS })
  const line = run.stdout.trim().split('\n').pop()
  let report
  try {
    report = JSON.parse(line)
  } catch {
    throw new Error(`no report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
  }
  return { ...run, out: report.out, exitLagMs: started + run.ms - report.doneAt }
}

/** Mixed feature calls; `out.values` holds their results. */
const MIXED_CALLS = (prefix) => `
  const P = ${JSON.stringify(prefix)}
  out.values = [
    await r.cache.set(P + ':k', { a: 1 }, 60),
    await r.cache.get(P + ':k'),
    (await r.rateLimiter.check(P + ':rl', 5, 60)).remaining,
    await r.sessions.store(P + ':s', { u: 1 }, 60),
    await r.otp.store(P + ':o', '123456', 60),
    await r.otp.verify(P + ':o', '123456'),
    await r.streams.setActive(P + ':st', { title: 't' }, 60),
    (await r.streams.getAllActive()).length > 0,
    await r.testConnection(),
  ]
  out.health = typeof r.health === 'function' ? await r.health() : null
`

/** A failing call of each kind, then the breaker's state. */
const FAILING_CALLS = `
  out.values = [
    await r.cache.get('k'),
    await r.cache.set('k', 1),
    (await r.rateLimiter.check('ip', 5, 60)).remaining,
    await r.testConnection(),
  ]
  out.health = typeof r.health === 'function' ? await r.health() : null
`

/** Enough failures to open the breaker (threshold 2 below), a fail-fast call, health(). */
const BREAKER_OPEN = `
  for (let i = 0; i < 4; i++) await r.cache.get('k' + i)
  out.health = typeof r.health === 'function' ? await r.health() : null
  const started = performance.now()
  out.failFast = await r.cache.set('k', 1)
  out.failFastMs = performance.now() - started
`

function expectExited(run) {
  expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({ code: 0, stderr: '' })
  expect(run.ms).toBeLessThan(BOUND_MS)
  expect(run.exitLagMs).toBeLessThan(EXIT_LAG_MS)
}

describe('processes exit by themselves: embedded and unreachable servers', () => {
  let hole
  let refusedPort
  beforeAll(async () => {
    hole = await blackHole()
    refusedPort = await freePort()
  })
  afterAll(() => hole.close())

  test.concurrent('embedded store, after mixed calls', async () => {
    const run = await runToExit(MIXED_CALLS(uniquePrefix('exit-embedded')), {})
    expectExited(run)
    expect(run.out.values).toEqual([true, { a: 1 }, 4, true, true, true, true, true, true])
    if (run.out.health) expect(run.out.health).toMatchObject({ backend: 'embedded', ok: true })
  })

  test.concurrent('embedded store, after a failed (bad input) call', async () => {
    const run = await runToExit(`out.values = [await r.cache.set('k', 1n), await r.cache.get('')]`, {})
    expectExited(run)
    expect(run.out.values).toEqual([false, null])
    expect(run.stderr).toMatch(/cache\.set failed \(ERR_INVALID_ARGUMENT\)/)
  })

  // Each server backend, pointed at a hung server or a refused port.
  const servers = {
    'redis protocol': (port) => ({ REDIS_URL: `redis://127.0.0.1:${port}` }),
    'upstash REST': (port) => ({ UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`, UPSTASH_REDIS_REST_TOKEN: 'tok' }),
  }
  const backendName = { 'redis protocol': 'redis', 'upstash REST': 'upstash' }

  test.concurrent.each(Object.keys(servers))('%s, a server that never answers (timeouts)', async (kind) => {
    const run = await runToExit(FAILING_CALLS, servers[kind](hole.port))
    expectExited(run)
    expect(run.out.values).toEqual([null, false, 5, false])
    expect(run.stderr).toMatch(/failed \(ERR_TIMEOUT\)/)
  })

  test.concurrent.each(Object.keys(servers))('%s, a refused connection', async (kind) => {
    const run = await runToExit(FAILING_CALLS, servers[kind](refusedPort))
    expectExited(run)
    expect(run.out.values).toEqual([null, false, 5, false])
  })

  test.concurrent.each(Object.keys(servers))('%s, while the breaker is open', async (kind) => {
    const run = await runToExit(BREAKER_OPEN, {
      ...servers[kind](hole.port),
      DIGIS_REDIS_BREAKER_THRESHOLD: '2',
      DIGIS_REDIS_BREAKER_COOLDOWN_MS: '60000',
    })
    expectExited(run)
    expect(run.out.failFast).toBe(false)
    expect(run.out.failFastMs).toBeLessThan(50)
    expect(run.stderr).toMatch(/cache\.set failed \(ERR_CIRCUIT_OPEN\)/)
    expect(run.out.health).toMatchObject({ backend: backendName[kind], ok: false, circuit: 'open' })
  })
})

describeWithRedisServer('processes exit by themselves: live servers', () => {
  let redis
  let rest
  const token = crypto.randomBytes(12).toString('hex')
  beforeAll(async () => {
    redis = await startRedisServer()
    rest = await startRestServer(redis.url, token)
  }, 30000)
  afterAll(async () => {
    if (rest) await rest.stop()
    if (redis) await redis.stop()
  })

  const liveEnv = (kind) =>
    kind === 'redis' ? { REDIS_URL: redis.url } : { UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: token }
  const backendName = { redis: 'redis', rest: 'upstash' }

  test.concurrent.each(['redis', 'rest'])('%s backend, after mixed calls (connection kept alive)', async (kind) => {
    const prefix = uniquePrefix(`exit-${kind}`)
    const run = await runToExit(
      `${MIXED_CALLS(prefix)}
       const [n] = await r.redis.pipeline().incr(P + ':n').expire(P + ':n', 60).exec()
       out.pipeline = n`,
      liveEnv(kind),
    )
    expectExited(run)
    expect(run.out.values).toEqual([true, { a: 1 }, 4, true, true, true, true, true, true])
    expect(run.out.pipeline).toBe(1)
    if (run.out.health) expect(run.out.health).toMatchObject({ backend: backendName[kind], ok: true, circuit: 'closed' })
  })

  test.concurrent.each(['redis', 'rest'])('%s backend, after a server error reply (WRONGTYPE)', async (kind) => {
    const prefix = uniquePrefix(`exit-${kind}-err`)
    const run = await runToExit(
      `const P = ${JSON.stringify(prefix)}
       await r.redis.hset(P + ':h', { a: 1 })
       await r.redis.expire(P + ':h', 60)
       out.values = [await r.cache.incr(P + ':h'), await r.cache.get(P + ':h')]
       out.health = typeof r.health === 'function' ? await r.health() : null`,
      liveEnv(kind),
    )
    expectExited(run)
    expect(run.out.values).toEqual([null, null])
    expect(run.stderr).toMatch(/cache\.incr failed \(ERR_COMMAND\)/)
    if (run.out.health) expect(run.out.health.circuit).toBe('closed')
  })
})
