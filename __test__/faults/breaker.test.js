'use strict'

// The circuit breaker of the server backends, one behaviour at a time, through a fault proxy
// (see scenario.js): it opens after `breakerThreshold` consecutive transport failures, then
// fails fast without touching the network; server error replies do not count; after the
// cool-down one probe goes through; a failed probe re-opens it, a successful one closes it;
// every state change is logged once through the logger's warn. And the first call after a
// server comes back is answered by the server, not by a stale connection error.
const { runNode, uniquePrefix, ROOT } = require('../helpers')
const { usePrivateServers, startRedisServer, startRestServer, describeWithRedisServer, sleep } = require('./redis-server')
const { proxiedScript, runScenario, failureLines, circuitStates } = require('./scenario')

const DEADLINE_MS = 300
const KINDS = ['redis', 'rest']

describeWithRedisServer('circuit breaker', () => {
  const { targets, token } = usePrivateServers()

  const scenario = (kind, label, body, env = {}) =>
    runScenario(
      proxiedScript({ kind, targetPort: targets[kind], token, prefix: uniquePrefix(`breaker-${kind}-${label}`), body }),
      { env: { DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS), ...env } },
    )

  test.concurrent.each(KINDS)('%s: opens at the threshold, then fails fast without touching the network', async (kind) => {
    const run = await scenario(
      kind,
      'open',
      `
      await r.cache.set(P + ':k', 'v', 600)
      proxy.setMode('delay', { ms: 500 }) // timeouts, no disconnection
      out.failing = []
      for (let i = 0; i < 3; i++) out.failing.push((await timed(() => r.cache.get(P + ':k'))).value)
      const before = proxy.stats()
      out.fast = []
      for (let i = 0; i < 20; i++) {
        const { ms, value } = await timed(() => (i % 2 ? r.cache.set(P + ':x' + i, 1, 600) : r.rateLimiter.check(P + ':rl', 5, 60)))
        out.fast.push({ ms, value })
      }
      const after = proxy.stats()
      out.sent = { connections: after.accepted - before.accepted, bytes: after.bytesFromClients - before.bytesFromClients }
      r.configure({ strict: true })
      out.strict = await r.cache.get(P + ':k').then(() => 'resolved', (err) => ({ code: err.code, typed: err instanceof r.DigisRedisError }))
      r.configure({ strict: false })
      out.health = await r.health()
      `,
      { DIGIS_REDIS_BREAKER_THRESHOLD: '3', DIGIS_REDIS_BREAKER_COOLDOWN_MS: '60000' },
    )
    expect(run.code).toBe(0)
    expect(run.out.failing).toEqual([null, null, null])
    const codes = failureLines(run.stderr).map(([, code]) => code)
    expect(codes.slice(0, 3)).toEqual(['ERR_TIMEOUT', 'ERR_TIMEOUT', 'ERR_TIMEOUT'])
    expect(codes.slice(3)).toEqual(Array(20).fill('ERR_CIRCUIT_OPEN'))
    for (const { ms, value } of run.out.fast) {
      // Far below the proxy's 500 ms delay, which any call that reached the network would wait
      // out; not a tight bound: two loaded cores once took 33 ms.
      expect(ms).toBeLessThan(150)
      expect([false, { allowed: true, remaining: 5, reset: 60, limit: 5, retryAfter: 0 }]).toContainEqual(value)
    }
    expect(run.out.sent).toEqual({ connections: 0, bytes: 0 })
    expect(run.out.strict).toEqual({ code: 'ERR_CIRCUIT_OPEN', typed: true })
    expect(run.out.health).toMatchObject({ ok: false, circuit: 'open', latencyMs: null })
    expect(run.out.health.lastError).toEqual(expect.any(String))
  })

  test.concurrent.each(KINDS)('%s: server error replies (WRONGTYPE) do not open it', async (kind) => {
    const run = await scenario(
      kind,
      'wrongtype',
      `
      await r.redis.hset(P + ':h', { a: 1 })
      await r.redis.expire(P + ':h', 600)
      out.incr = []
      for (let i = 0; i < 6; i++) out.incr.push(await r.cache.incr(P + ':h'))
      out.health = await r.health()
      out.set = await r.cache.set(P + ':ok', 1, 600)
      `,
      { DIGIS_REDIS_BREAKER_THRESHOLD: '2' },
    )
    expect(run.code).toBe(0)
    expect(run.out.incr).toEqual(Array(6).fill(null))
    expect(failureLines(run.stderr)).toEqual(Array(6).fill(['cache.incr', 'ERR_COMMAND']))
    expect(run.out.health).toMatchObject({ ok: true, circuit: 'closed' })
    expect(run.out.set).toBe(true)
    expect(circuitStates(run.stderr)).toEqual([])
  })

  test.concurrent.each(KINDS)(
    '%s: one probe after the cool-down; failed → open, succeeded → closed; each change logged once',
    async (kind) => {
      const run = await scenario(
        kind,
        'probe',
        `
        await r.cache.set(P + ':k', 'v', 600)
        proxy.setMode('delay', { ms: 500 })
        await r.cache.get(P + ':k')
        await r.cache.get(P + ':k') // threshold 2: open
        out.afterOpen = (await r.health()).circuit
        await sleep(350) // > cool-down
        const before = proxy.stats().bytesFromClients
        // Five overlapping calls, started 20 ms apart (separate ticks, so the package cannot
        // send them as one pipeline): one probe (times out), four fail fast while it is out.
        out.concurrent = await Promise.all(
          Array.from({ length: 5 }, (_, i) => sleep(i * 20).then(() => timed(() => r.cache.get(P + ':k')))),
        )
        out.probeBytes = proxy.stats().bytesFromClients - before
        out.afterFailedProbe = (await r.health()).circuit
        proxy.setMode('pass')
        await sleep(1100) // delayed chunks drained; cool-down over
        out.probe = await r.cache.get(P + ':k')
        out.afterProbe = (await r.health()).circuit
        out.more = [await r.cache.set(P + ':m', 2, 600), await r.cache.get(P + ':m')]
        `,
        // A connect timeout shorter than the cool-down: the attempt the second call started has
        // given up by the time the probe goes, so the probe opens its own (a live attempt would
        // be resumed, sending nothing new).
        { DIGIS_REDIS_BREAKER_THRESHOLD: '2', DIGIS_REDIS_BREAKER_COOLDOWN_MS: '300', DIGIS_REDIS_CONNECT_TIMEOUT_MS: '300' },
      )
      expect(run.code).toBe(0)
      expect(run.out.afterOpen).toBe('open')
      const probeCodes = failureLines(run.stderr)
        .slice(2, 7)
        .map(([, code]) => code)
        .sort()
      expect(probeCodes).toEqual(['ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_OPEN', 'ERR_CIRCUIT_OPEN', 'ERR_TIMEOUT'])
      expect(run.out.probeBytes).toBeGreaterThan(0) // the probe did go out…
      const slow = run.out.concurrent.filter((c) => c.ms > 100)
      expect(slow).toHaveLength(1) // …and only one call waited for it
      expect(run.out.afterFailedProbe).toBe('open')
      expect(run.out.probe).toBe('v')
      expect(run.out.afterProbe).toBe('closed')
      expect(run.out.more).toEqual([true, 2])
      // Every state change, once: closed→open, open→half-open, half-open→open (failed probe),
      // open→half-open, half-open→closed (successful probe).
      expect(circuitStates(run.stderr)).toEqual(['open', 'half-open', 'open', 'half-open', 'closed'])
    },
  )

  test.concurrent('configure({ breakerThreshold, breakerCooldownMs }) applies at run time', async () => {
    const run = await scenario(
      'redis',
      'configure',
      `
      await r.cache.set(P + ':k', 'v', 600)
      r.configure({ breakerThreshold: 1, breakerCooldownMs: 200 })
      proxy.setMode('delay', { ms: 500 })
      await r.cache.get(P + ':k')
      out.afterOne = (await r.health()).circuit
      proxy.setMode('pass')
      await sleep(1100)
      out.probe = await r.cache.get(P + ':k')
      out.afterProbe = (await r.health()).circuit
      out.badThreshold = (() => { try { r.configure({ breakerThreshold: 0 }); return 'accepted' } catch (e) { return e.name } })()
      `,
    )
    expect(run.code).toBe(0)
    expect(run.out).toMatchObject({ afterOne: 'open', probe: 'v', afterProbe: 'closed', badThreshold: 'TypeError' })
  })
})

describeWithRedisServer('after a server restart', () => {
  // The breaker is kept out of the way (a huge threshold): this is about the connection layer.
  // The server is down for ~1 s; ~1 s after it answers PING again, the next call must succeed,
  // not fail with an error left over from a reconnect attempt made while it was down.
  test.concurrent.each(KINDS)('%s: the first call after the server is back is answered by it', async (kind) => {
    const redis = await startRedisServer()
    const restServer = kind === 'rest' ? await startRestServer(redis.url, 'tok-restart') : null
    try {
      const env =
        kind === 'rest'
          ? { UPSTASH_REDIS_REST_URL: restServer.url, UPSTASH_REDIS_REST_TOKEN: 'tok-restart' }
          : { REDIS_URL: redis.url }
      const startAt = Date.now() + 2000 // room for the child to start under load
      const at = (ms) => startAt + ms
      const script = `
        const r = require(${JSON.stringify(ROOT)})
        const P = ${JSON.stringify(uniquePrefix(`restart-${kind}`))}
        const until = (t) => new Promise((resolve) => setTimeout(resolve, t - Date.now()))
        ;(async () => {
          const out = {}
          await until(${at(0)})
          out.startedLateMs = Date.now() - ${at(0)}
          out.up = await r.cache.set(P + ':a', 1, 600)
          out.down = []
          for (const t of [600, 900, 1200]) { // the server is down from 500 to ~1500
            await until(${at(0)} + t)
            out.down.push(await r.cache.set(P + ':d' + t, 1, 600))
          }
          out.downDoneAt = Date.now() - ${at(0)}
          await until(${at(2600)}) // back for ~1 s
          out.back = []
          for (let i = 0; i < 3; i++) out.back.push(await r.cache.set(P + ':e' + i, 1, 600))
          console.log(JSON.stringify(out))
        })()
      `
      const child = runNode(script, {
        env: { ...env, DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS), DIGIS_REDIS_BREAKER_THRESHOLD: '100000' },
        timeoutMs: 15000,
      })
      await sleep(at(500) - Date.now())
      await redis.kill()
      await sleep(at(1500) - Date.now())
      await redis.restart()
      const run = await child
      expect(run.code).toBe(0)
      const out = JSON.parse(run.stdout)
      // The schedule held (the child was not so slow that its "down" calls ran after the restart).
      expect(out.startedLateMs).toBeLessThan(300)
      expect(out.downDoneAt).toBeLessThan(1500)
      expect(out.up).toBe(true)
      expect(out.down).toEqual([false, false, false])
      if (!out.back.every((ok) => ok === true)) {
        throw new Error(`calls ~1 s after the restart answered ${JSON.stringify(out.back)} (want all true):\n${run.stderr}`)
      }
    } finally {
      if (restServer) await restServer.stop()
      await redis.stop()
    }
  })
})
