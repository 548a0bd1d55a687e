'use strict'

// A server outage under load. A child process runs 200 concurrent callers looping mixed calls
// (cache.set of unique keys, cache.get, rateLimiter.check, sessions.get) for ~9 s against a
// private redis-server — over the Redis protocol, and over REST through a rest-server in front
// of it. At t≈1.5 s the redis-server is killed (SIGKILL), at t≈6.5 s restarted on the same port.
// The child records every call (start, latency, result), unhandled rejections, the keys whose
// write answered false, what was logged, and health() every 50 ms; it prints one JSON report.
const crypto = require('node:crypto')
const { runNode, uniquePrefix, ROOT } = require('../helpers')
const { startRedisServer, startRestServer, describeWithRedisServer, sleep } = require('./redis-server')

const DEADLINE_MS = Number(process.env.FAULTS_OUTAGE_TIMEOUT_MS) || 300
const LATENCY_SLACK_MS = 50 // the bound: slowest call <= deadline + 50 ms
const COOLDOWN_MS = 1000
const THRESHOLD = 5
const CALLERS = 200
const KILL_AFTER_MS = 1500
const RESTART_AFTER_MS = 6500
const RUN_MS = 9000
const OPS = ['cache.set', 'cache.get', 'rateLimiter.check', 'sessions.get']
const RL_LIMIT = 1000000 // never reached: a real answer has remaining < limit, the fallback has remaining === limit

/** The load generator. `START_AT` etc. are epoch ms, shared with the parent that kills the server. */
function loadScript({ prefix, startAt, endAt }) {
  return `
    const START_AT = ${startAt}
    const END_AT = ${endAt}
    const P = ${JSON.stringify(prefix)}
    const OPS = ${JSON.stringify(OPS)}
    let unhandled = 0
    process.on('unhandledRejection', () => { unhandled++ })
    // The default logger is console: count its lines here instead of printing tens of thousands.
    const errorLines = {}
    const errorTimeline = {} // 250 ms bucket → { '<op> <code>': count }
    let otherErrorLines = []
    const warnLines = []
    const firstLines = {}
    const transportFailures = []
    console.error = (message) => {
      const m = /^\\[digis-redis\\] (\\S+) failed \\((\\w+)\\)/.exec(String(message))
      if (m) {
        const key = m[1] + ' ' + m[2]
        errorLines[key] = (errorLines[key] || 0) + 1
        const bucket = Math.floor((Date.now() - START_AT) / 250) * 250
        const counts = (errorTimeline[bucket] ??= {})
        counts[key] = (counts[key] || 0) + 1
        if (!firstLines[key]) firstLines[key] = String(message).slice(0, 300)
        // Failures that reached the network (not answered by the open breaker), with their time.
        if (m[2] !== 'ERR_CIRCUIT_OPEN' && transportFailures.length < 5000) {
          transportFailures.push([Date.now() - START_AT, m[1], m[2]])
        }
      }
      else if (otherErrorLines.length < 20) otherErrorLines.push(String(message))
    }
    console.warn = (message) => { warnLines.push([Date.now() - START_AT, String(message)]) }
    const r = require(${JSON.stringify(ROOT)})
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

    const records = [] // [start offset ms, latency ms, op index, 1 success | 0 fallback | -1 unknown]
    const failedWrites = []
    const lastWrites = []
    const healthSamples = [] // [offset ms, circuit, ok, health() latency ms]
    let healthErrors = 0

    async function caller(c) {
      let i = 0
      let lastKey = P + ':seed'
      while (Date.now() < END_AT) {
        const opIndex = (c + i) % OPS.length
        i++
        const startedAt = Date.now()
        const started = performance.now()
        let outcome = -1
        switch (opIndex) {
          case 0: {
            const key = P + ':w:' + c + ':' + i
            const stored = await r.cache.set(key, { c, i }, 600)
            outcome = stored === true ? 1 : 0
            if (stored === true) {
              lastKey = key
              lastWrites.push(key)
              if (lastWrites.length > 400) lastWrites.splice(0, 200)
            } else {
              failedWrites.push(key)
            }
            break
          }
          case 1:
            await r.cache.get(lastKey)
            break
          case 2: {
            const result = await r.rateLimiter.check(P + ':rl:' + (c % 20), ${RL_LIMIT}, 60)
            outcome = result.remaining < ${RL_LIMIT} ? 1 : 0
            break
          }
          default:
            await r.sessions.get(P + ':s:' + (c % 10))
        }
        records.push([startedAt - START_AT, Math.round((performance.now() - started) * 10) / 10, opIndex, outcome])
        await sleep(15 + Math.random() * 20)
      }
    }

    async function sampleHealth() {
      while (Date.now() < END_AT) {
        const started = performance.now()
        try {
          const h = await r.health()
          healthSamples.push([Date.now() - START_AT, h.circuit, h.ok, Math.round(performance.now() - started)])
        } catch {
          healthErrors++
        }
        await sleep(50)
      }
    }

    ;(async () => {
      // Seed what the readers read, while the server is up.
      await r.cache.set(P + ':seed', 'seed', 600)
      for (let s = 0; s < 10; s++) await r.sessions.store(P + ':s:' + s, { s }, 600)
      await r.rateLimiter.check(P + ':rl:warm', ${RL_LIMIT}, 60)
      await sleep(Math.max(0, START_AT - Date.now()))
      await Promise.all([sampleHealth(), ...Array.from({ length: ${CALLERS} }, (_, c) => caller(c))])
      const finalHealth = await r.health()
      process.stdout.write(JSON.stringify({
        records, failedWrites, lastWrites: lastWrites.slice(-50), unhandled, errorLines, errorTimeline, firstLines, transportFailures, otherErrorLines,
        warnLines, healthSamples, healthErrors, finalHealth, doneAt: Date.now(),
      }) + '\\n')
    })()
  `
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

/** How many of `keys` exist, read straight from the server (EXISTS over a raw socket). */
async function countExisting(redis, keys) {
  let total = 0
  for (let i = 0; i < keys.length; i += 500) {
    const [n] = await redis.command(['EXISTS', ...keys.slice(i, i + 500)])
    total += n
  }
  return total
}

describeWithRedisServer('an outage under load: kill the server, restart it, nothing breaks', () => {
  const servers = []
  afterAll(async () => {
    for (const server of servers.reverse()) await server.stop()
  })

  test.each(['redis', 'rest'])(
    '%s backend: 200 callers through kill and restart',
    async (kind) => {
      const redis = await startRedisServer()
      servers.push(redis)
      const env = {
        DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS),
        DIGIS_REDIS_BREAKER_THRESHOLD: String(THRESHOLD),
        DIGIS_REDIS_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
      }
      if (kind === 'rest') {
        const token = crypto.randomBytes(12).toString('hex')
        const rest = await startRestServer(redis.url, token)
        servers.push(rest)
        Object.assign(env, { UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: token })
      } else {
        env.REDIS_URL = redis.url
      }

      const prefix = uniquePrefix(`outage-${kind}`)
      const startAt = Date.now() + 1500
      const endAt = startAt + RUN_MS
      const child = runNode(loadScript({ prefix, startAt, endAt }), { env, timeoutMs: 25000 })

      // The parent's side of the timeline.
      await sleep(startAt + KILL_AFTER_MS - Date.now())
      const killAt = Date.now()
      await redis.kill()
      await sleep(startAt + RESTART_AFTER_MS - Date.now())
      await redis.restart()
      const readyAt = Date.now() // answers PING again

      const run = await child
      const exitedAt = Date.now()
      let report
      try {
        report = JSON.parse(run.stdout)
      } catch {
        throw new Error(`no report from the child (exit ${run.code}):\n${run.stdout.slice(0, 2000)}\n${run.stderr}`)
      }
      const kill = killAt - startAt
      const ready = readyAt - startAt

      // --- the numbers, printed for the record ---
      const latencies = report.records.map((r) => r[1]).sort((a, b) => a - b)
      const slowest = report.records.reduce((max, r) => (r[1] > max[1] ? r : max), [0, 0, 0, 0])
      // before: answered before the kill; outage: started before the server was back; after: the rest.
      const phase = (r) => (r[0] + r[1] < kill ? 'before' : r[0] < ready ? 'outage' : 'after')
      const byPhase = {}
      for (const r of report.records) {
        const p = (byPhase[phase(r)] ??= { calls: 0, success: 0, fallback: 0, maxMs: 0 })
        p.calls++
        if (r[3] === 1) p.success++
        if (r[3] === 0) p.fallback++
        p.maxMs = Math.max(p.maxMs, r[1])
      }
      const firstSuccessAfter = report.records
        .filter((r) => r[3] === 1 && r[0] >= ready)
        .reduce((min, r) => Math.min(min, r[0] + r[1]), Infinity)
      const recoveryMs = firstSuccessAfter - ready
      const circuitLines = report.warnLines.filter(([, m]) => m.startsWith('[digis-redis] circuit'))
      const states = circuitLines.map(([, m]) => /^\[digis-redis\] circuit (half-open|open|closed)/.exec(m)?.[1] ?? m)
      const summary = {
        kind,
        deadlineMs: DEADLINE_MS,
        calls: report.records.length,
        slowestMs: slowest[1],
        slowestCall: { op: OPS[slowest[2]], startedAtMs: slowest[0] },
        p50: percentile(latencies, 50),
        p99: percentile(latencies, 99),
        p999: percentile(latencies, 99.9),
        killAtMs: kill,
        readyAtMs: ready,
        recoveryMs,
        byPhase,
        failedWrites: report.failedWrites.length,
        unhandled: report.unhandled,
        errorLines: report.errorLines,
        circuitStates: states,
        healthCircuits: [...new Set(report.healthSamples.map((s) => s[1]))],
        healthMaxMs: Math.max(...report.healthSamples.map((s) => s[3])),
        exitLagMs: exitedAt - report.doneAt,
      }
      console.log(`outage ${kind}: ${JSON.stringify(summary, null, 1)}`)
      if (process.env.FAULTS_VERBOSE) {
        const buckets = {}
        for (const r of report.records) {
          const b = (buckets[Math.floor(r[0] / 250) * 250] ??= { ok: 0, fallback: 0, maxMs: 0 })
          if (r[3] === 1) b.ok++
          if (r[3] === 0) b.fallback++
          b.maxMs = Math.max(b.maxMs, r[1])
        }
        const lines = Object.entries(buckets).map(
          ([t, b]) => `${t}: ok ${b.ok} fallback ${b.fallback} max ${b.maxMs} ms ${JSON.stringify(report.errorTimeline[t] ?? {})}`,
        )
        console.log(`outage ${kind} timeline (250 ms buckets):\n${lines.join('\n')}\n${JSON.stringify(report.firstLines, null, 1)}\n${JSON.stringify(report.warnLines)}`)
      }

      // --- assertions ---
      expect(run.code).toBe(0) // no crash
      expect(report.unhandled).toBe(0)
      expect(report.otherErrorLines).toEqual([]) // every logged error is a "<op> failed (<code>)" line
      expect(summary.exitLagMs).toBeLessThan(2000) // exits by itself, promptly
      expect(byPhase.before.fallback).toBe(0) // the server was really there

      // Every call answers within its deadline (+ 50 ms), before, during and after the outage.
      expect(summary.slowestMs).toBeLessThanOrEqual(DEADLINE_MS + LATENCY_SLACK_MS)

      // Fallbacks during the outage, each failed call logged once.
      expect(byPhase.outage.fallback).toBeGreaterThan(0)
      // An outage is a connection failure, never a command error: only the former opens the
      // breaker (a rest-server's 500 to a batch once read as ERR_COMMAND, and the breaker
      // stayed closed in about 1 run in 3).
      expect(Object.keys(report.errorLines).filter((k) => k.endsWith(' ERR_COMMAND'))).toEqual([])
      const setFailures = Object.entries(report.errorLines)
        .filter(([k]) => k.startsWith('cache.set '))
        .reduce((n, [, v]) => n + v, 0)
      expect(setFailures).toBe(report.failedWrites.length)
      const rlFallbacks = report.records.filter((r) => r[2] === 2 && r[3] === 0).length
      const rlLines = Object.entries(report.errorLines)
        .filter(([k]) => k.startsWith('rateLimiter.check '))
        .reduce((n, [, v]) => n + v, 0)
      expect(rlLines).toBe(rlFallbacks)

      // Back within the breaker cool-down + 1 s of the restart…
      expect(recoveryMs).toBeLessThanOrEqual(COOLDOWN_MS + 1000)
      // …and steady: every call started a moment after the first success succeeds (no
      // flapping). The moment (250 ms) covers calls already on their way while the first
      // connection to the restarted server settles; a CI run once saw 3 such failures.
      const tail = report.records.filter((r) => r[0] > firstSuccessAfter + 250 && r[3] !== -1)
      expect(tail.length).toBeGreaterThan(1000)
      expect(tail.filter((r) => r[3] === 0).length).toBe(0)

      // A write that answered false never lands later (e.g. replayed after the reconnect).
      expect(report.failedWrites.length).toBeGreaterThan(0)
      expect(await countExisting(redis, report.failedWrites)).toBe(0)
      // …while the last successful writes are there: the check reads the right database.
      expect(report.lastWrites.length).toBe(50)
      expect(await countExisting(redis, report.lastWrites)).toBe(50)

      // The breaker opened during the outage and closed after it.
      const openSamples = report.healthSamples.filter((s) => s[1] === 'open' && s[0] >= kill && s[0] < ready)
      expect(openSamples.length).toBeGreaterThan(0)
      expect(report.finalHealth).toMatchObject({ circuit: 'closed', ok: true })
      expect(report.healthErrors).toBe(0)
      // health() itself answers within the deadline too.
      expect(summary.healthMaxMs).toBeLessThanOrEqual(DEADLINE_MS + LATENCY_SLACK_MS)
      // One warn line per state change, not per call. The lines follow the breaker's state
      // machine from 'closed': closed→open, open→half-open, half-open→open (a failed probe),
      // half-open→closed. A missing line shows up as a transition the machine does not have
      // (e.g. open→closed: the half-open went unlogged).
      expect(circuitLines.length).toBeGreaterThan(0)
      const ALLOWED = { closed: ['open'], open: ['half-open'], 'half-open': ['open', 'closed'] }
      const illegal = []
      states.reduce((prev, state) => {
        if (!(ALLOWED[prev] ?? []).includes(state)) illegal.push(`${prev} → ${state}`)
        return state
      }, 'closed')
      expect(illegal).toEqual([])
      expect(states[0]).toBe('open')
      expect(states[states.length - 1]).toBe('closed')
      // Each probe that failed is two changes (open → half-open → open). A failure logged later
      // than the deadline after the breaker opened came from a call started while it was open:
      // a probe (every other call fails fast with ERR_CIRCUIT_OPEN). Calls of one tick may go
      // out as one pipeline, so failures within 200 ms of each other count as one probe
      // (probes are a cool-down apart).
      const openedAt = circuitLines[0][0]
      const probeTimes = report.transportFailures.map(([t]) => t).filter((t) => t > openedAt + DEADLINE_MS + 50)
      const failedProbes = probeTimes.filter((t, i) => i === 0 || t - probeTimes[i - 1] > 200).length
      const atLeast = 1 + 2 * failedProbes + 2 // open, (half-open, open) per failed probe, half-open, closed
      expect({ failedProbes, probeTimes, states, changesLogged: states.length }).toEqual({
        failedProbes,
        probeTimes,
        states,
        changesLogged: Math.max(states.length, atLeast),
      })
      // …and not per call: at most one open/half-open pair per cool-down.
      const maxChanges = 2 * Math.ceil((ready - kill) / COOLDOWN_MS + 2) + 1
      expect(states.length).toBeLessThanOrEqual(maxChanges)
      expect(circuitLines.every(([t]) => t >= kill)).toBe(true)
    },
    30000,
  )
})
