'use strict'

// Every public call answers within its deadline whatever the network does. For each server
// backend (the Redis protocol straight to a private redis-server, and Upstash REST to a
// rest-server in front of it), a fault proxy sits between the package and the server; each
// scenario runs in its own Node process (own module instance, own environment) which starts the
// proxy itself, so the mode switches happen exactly between its calls:
//   warm up through the proxy → set the mode → 6 calls (cache.get, cache.set,
//   rateLimiter.check, twice: enough to open the breaker at its default threshold of 5) →
//   mode `pass` → the service works again (set/get round trips, with the right values) within the
//   breaker cool-down + 1 s → the process exits by itself.
const { uniquePrefix } = require('../helpers')
const { usePrivateServers, describeWithRedisServer } = require('./redis-server')
const { proxiedScript, runScenario, failureLines } = require('./scenario')

const DEADLINE_MS = 300
// A failed call answers within deadline + this + how late the child's timers ran during the
// call (its lagMs): a loaded machine delays the answer's delivery, not the deadline.
const SLACK_MS = 150
const COOLDOWN_MS = 1000 // the breaker's default, set explicitly so the budget below is clear
const RECOVERY_BUDGET_MS = COOLDOWN_MS + 1000
const TRANSPORT_CODES = ['ERR_TIMEOUT', 'ERR_CONNECTION', 'ERR_PROTOCOL', 'ERR_CIRCUIT_OPEN']
const RL_FALLBACK = { allowed: true, remaining: 5, reset: 60, limit: 5, retryAfter: 0 }

const FAULTS = [
  ['delay', { ms: DEADLINE_MS + 400 }],
  ['stall', {}],
  ['cut', {}],
  ['reset', {}],
  ['half', {}],
]

/** The scenario (see scenario.js): warm up, fault, 6 calls, pass, recovery, correctness. */
const faultBody = ({ mode, options }) => `
  const calls = () => [
    ['cache.get', () => r.cache.get(P + ':warm')],
    ['cache.set', () => r.cache.set(P + ':fault', 'x', 600)],
    ['rateLimiter.check', () => r.rateLimiter.check(P + ':rl-fault', 5, 60)],
  ]
  out.warm = [
    await r.cache.set(P + ':warm', 'w', 600),
    await r.cache.get(P + ':warm'),
    await r.rateLimiter.check(P + ':rl-warm', 5, 60),
  ]

  proxy.setMode(${JSON.stringify(mode)}, ${JSON.stringify(options)})
  out.faulty = []
  for (let round = 0; round < 2; round++) {
    for (const [op, call] of calls()) out.faulty.push({ op, ...(await timed(call)) })
  }
  out.healthDuringFault = typeof r.health === 'function' ? await r.health() : null

  proxy.setMode('pass')
  const passAt = performance.now()
  out.recoveredMs = null
  out.attempts = 0
  while (performance.now() - passAt < ${RECOVERY_BUDGET_MS + 2000}) {
    const n = ++out.attempts
    const want = 'rec-' + n
    if ((await r.cache.set(P + ':rec:' + n, want, 600)) === true && (await r.cache.get(P + ':rec:' + n)) === want) {
      out.recoveredMs = performance.now() - passAt
      break
    }
    await sleep(20)
  }
  // Distinct values read back: a reply handed to the wrong caller shows up here.
  out.after = []
  for (let i = 0; i < 5; i++) {
    const want = { i, tag: 'after-' + i }
    const stored = await r.cache.set(P + ':after:' + i, want, 600)
    out.after.push({ stored, got: await r.cache.get(P + ':after:' + i), want })
  }
  out.rateLimit = await r.rateLimiter.check(P + ':rl-after', 5, 60)
  out.healthAfter = typeof r.health === 'function' ? await r.health() : null
`

const CHILD_ENV = {
  DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS),
  DIGIS_REDIS_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
}

const fallbackOf = (op) => ({ 'cache.get': null, 'cache.set': false, 'rateLimiter.check': RL_FALLBACK })[op]

describeWithRedisServer('fault proxy: every call answers within its deadline, then the service recovers', () => {
  const { targets, token } = usePrivateServers()

  const cases = []
  for (const kind of ['redis', 'rest']) for (const [mode, options] of FAULTS) cases.push([kind, mode, options])

  test.concurrent.each(cases)('%s backend, proxy mode %s', async (kind, mode, options) => {
    const prefix = uniquePrefix(`fault-${kind}-${mode}`)
    const { code, stderr, out: report, exitLagMs } = await runScenario(
      proxiedScript({ kind, targetPort: targets[kind], token, prefix, body: faultBody({ mode, options }) }),
      { env: CHILD_ENV },
    )
    const summary = {
      faulty: report.faulty.map((c) => `${c.op} ${Math.round(c.ms)} ms (lag ${Math.round(c.lagMs)}) ${JSON.stringify(c.value)}`),
      recoveredMs: report.recoveredMs,
      attempts: report.attempts,
    }
    console.log(`${kind}/${mode}: ${JSON.stringify(summary)}`)
    expect(code).toBe(0)
    // Exits by itself (no process.exit in the script) and promptly: nothing holds the loop.
    expect(exitLagMs).toBeLessThan(1500)

    // Warm-up through the proxy in pass mode worked.
    expect(report.warm).toEqual([true, 'w', expect.objectContaining({ allowed: true, remaining: 4, limit: 5 })])

    // Each faulty call: its contract fallback, within the deadline + slack.
    for (const call of report.faulty) {
      expect([call.op, call.value]).toEqual([call.op, fallbackOf(call.op)])
      expect(call.ms).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS + call.lagMs)
    }
    // The first faulty call really met the fault (not a fast path): its reason names it.
    const lines = failureLines(stderr)
    const firstCode = lines[0][1]
    if (mode === 'delay' || mode === 'stall' || mode === 'half') expect(firstCode).toBe('ERR_TIMEOUT')
    else expect(['ERR_CONNECTION', 'ERR_TIMEOUT', 'ERR_PROTOCOL']).toContain(firstCode)
    // Only transport codes: nothing internal, nothing mistaken for a server error reply.
    for (const [, errCode] of lines) expect(TRANSPORT_CODES).toContain(errCode)

    // Back to pass: works again within the breaker cool-down + 1 s, with the right values.
    expect(report.recoveredMs).not.toBeNull()
    expect(report.recoveredMs).toBeLessThanOrEqual(RECOVERY_BUDGET_MS)
    for (const item of report.after) expect(item).toEqual({ stored: true, got: item.want, want: item.want })
    expect(report.rateLimit).toMatchObject({ allowed: true, remaining: 4, limit: 5 })
    if (report.healthAfter !== null) {
      expect(report.healthAfter).toMatchObject({ backend: kind === 'rest' ? 'upstash' : 'redis', ok: true, circuit: 'closed' })
    }

    // One logged line per failed call: the two faulty checks (the final check succeeded), and
    // at least the two faulty gets and sets (recovery attempts may add more).
    expect(lines.filter(([op]) => op === 'rateLimiter.check')).toHaveLength(2)
    for (const op of ['cache.get', 'cache.set']) {
      expect(lines.filter(([o]) => o === op).length).toBeGreaterThanOrEqual(2)
    }
  }, 30000)

  // Replies lost on a connection that stays open (stall drops what it read) must not shift the
  // pairing of later replies: no caller may ever receive the answer to another caller's call.
  test.concurrent.each(['redis', 'rest'])('%s backend, after a short stall no caller gets another call\'s reply', async (kind) => {
    const prefix = uniquePrefix(`fault-${kind}-pairing`)
    const body = `
      for (let i = 0; i < 20; i++) await r.cache.set(P + ':' + i, 'value-of-' + i, 600)
      proxy.setMode('stall')
      out.stalled = [await r.cache.get(P + ':0'), await r.cache.get(P + ':1')] // below the breaker threshold
      proxy.setMode('pass')
      // Overlapping reads of distinct keys, in separate ticks.
      const got = await Promise.all(Array.from({ length: 20 }, (_, i) => sleep(i * 3).then(() => r.cache.get(P + ':' + i))))
      out.wrong = got.map((v, i) => [i, v]).filter(([i, v]) => v !== null && v !== 'value-of-' + i)
      out.missing = got.filter((v) => v === null).length
      // And once the connection has had time to settle, reads are right again.
      await sleep(${RECOVERY_BUDGET_MS})
      out.later = []
      for (let i = 0; i < 5; i++) out.later.push(await r.cache.get(P + ':' + i))
    `
    const { code, out: report } = await runScenario(proxiedScript({ kind, targetPort: targets[kind], token, prefix, body }), {
      env: CHILD_ENV,
    })
    expect(code).toBe(0)
    expect(report.stalled).toEqual([null, null])
    expect(report.wrong).toEqual([]) // [index read, value of another key] pairs
    expect(report.later).toEqual([0, 1, 2, 3, 4].map((i) => `value-of-${i}`))
  }, 30000)

  test.concurrent.each(['redis', 'rest'])('%s backend, a delay below the deadline just works', async (kind) => {
    const prefix = uniquePrefix(`fault-${kind}-slow`)
    const delay = 50 // each way: a round trip costs >= 100 ms of a 300 ms deadline
    const body = `
      // Warm up in pass mode: the connection is open and the scripts are loaded.
      await r.cache.set(P + ':warm', 1, 600)
      await r.rateLimiter.check(P + ':warm-rl', 5, 60)
      proxy.setMode('delay', { ms: ${delay} })
      out.calls = []
      for (const [op, call] of [
        ['cache.set', () => r.cache.set(P + ':k', { a: 1 }, 600)],
        ['cache.get', () => r.cache.get(P + ':k')],
        ['rateLimiter.check', () => r.rateLimiter.check(P + ':rl', 5, 60)],
        ['sessions.get', () => r.sessions.get(P + ':none')],
      ]) out.calls.push({ op, ...(await timed(call)) })
    `
    const { code, stderr, out: report, exitLagMs } = await runScenario(
      proxiedScript({ kind, targetPort: targets[kind], token, prefix, body }),
      { env: CHILD_ENV },
    )
    expect(code).toBe(0)
    expect(exitLagMs).toBeLessThan(1500)
    expect(stderr).not.toMatch(/failed \(/)
    expect(report.calls.map((c) => c.value)).toEqual([
      true,
      { a: 1 },
      expect.objectContaining({ allowed: true, remaining: 4, limit: 5 }),
      null,
    ])
    for (const call of report.calls) {
      expect(call.ms).toBeGreaterThanOrEqual(2 * delay - 5) // the delay really applied
      expect(call.ms).toBeLessThan(DEADLINE_MS)
    }
  }, 30000)
})
