'use strict'

// Store level: express-session's store `get` and `touch`, express-rate-limit's `increment`,
// called directly (no HTTP) with 50 calls in flight, for this package's SessionStore and
// RateLimitStore on Redis against connect-redis and rate-limit-redis on node-redis. One process
// per contender and round (`node stores.js <contender>` prints one JSON line), order alternated
// by round, medians. Part of `npm run bench:app` (bench/README.md).
const os = require('node:os')
const path = require('node:path')
const { promisify } = require('node:util')
const { spawnSync } = require('node:child_process')
const { DEFAULT_REDIS_URL, uniquePrefix, childEnv } = require('../common')
const { build, threeIds, seedThree, runThree } = require('./modules')

const OPS = ['get', 'touch', 'increment']

/** Exactly `count` calls of `call`, `inFlight` at a time (for instructions.js). */
async function callCount(call, count, inFlight) {
  let n = 0
  const loop = async () => {
    while (n < count) await call(n++)
  }
  await Promise.all(Array.from({ length: inFlight }, loop))
}

/** `/three`'s calls (server.js) on 1000 seeded ids, as one call. */
async function threeCalls(m, prefix) {
  const ids = threeIds(prefix)
  await seedThree(m.three, ids)
  return async (i) => {
    const { limit, user, value } = await runThree(m.three, ids[i % ids.length])
    if (!limit.allowed || user === null || value === null) throw new Error('/three: seed missing')
  }
}

async function child(contender) {
  const prefix = process.env.BENCH_PREFIX
  const ms = Number(process.env.BENCH_STORE_MS || 2000)
  const inFlight = Number(process.env.BENCH_STORE_IN_FLIGHT || 50)
  const m = await build(contender, process.env)
  // BENCH_STORE_COUNT: exactly that many calls of BENCH_STORE_OP, then exit, for instructions.js;
  // the op `three` is /three's calls without HTTP (every contender has them, not every one stores).
  const count = Number(process.env.BENCH_STORE_COUNT || 0)
  if (count > 0 && process.env.BENCH_STORE_OP === 'three') {
    await callCount(await threeCalls(m, prefix), count, inFlight)
    return m.close()
  }
  const sessions = m.sessionStore(`sess:${prefix}:`)
  const limits = m.rateLimitStore(`rl:${prefix}:`)
  if (limits.init) limits.init({ windowMs: 60_000 })
  const maxAge = 86400 * 1000
  const sess = { cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), httpOnly: true, path: '/' }, userId: 'u1' }
  const ids = Array.from({ length: 1000 }, (_, i) => `${prefix}-s${i}`)
  const set = promisify(sessions.set.bind(sessions))
  for (const id of ids) await set(id, sess)
  const get = promisify(sessions.get.bind(sessions))
  const touch = promisify(sessions.touch.bind(sessions))
  const calls = {
    get: (i) => get(ids[i % ids.length]),
    touch: (i) => touch(ids[i % ids.length], sess),
    increment: (i) => limits.increment(`k${i % 1000}`),
  }
  if (count > 0) {
    await callCount(calls[process.env.BENCH_STORE_OP], count, inFlight)
    return m.close()
  }
  const out = { contender }
  for (const op of OPS) {
    const call = calls[op]
    let n = 0
    let until = 0
    // The clock, not a timer, ends the window: an in-process store (ours-embedded, map) answers
    // at once, so these loops never yield to a timer.
    const loop = async () => {
      while (performance.now() < until) await call(n++)
    }
    // Warm-up, then the measured window.
    until = performance.now() + 300
    await Promise.all(Array.from({ length: inFlight }, loop))
    n = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    until = t0 + ms
    await Promise.all(Array.from({ length: inFlight }, loop))
    const seconds = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    out[op] = { opsPerSec: n / seconds, cpuUsPerOp: (cpu.user + cpu.system) / n }
    // Sequential latency per call (one in flight).
    const lat = []
    for (let i = 0; i < 2000; i++) {
      const s = performance.now()
      await call(i)
      lat.push(performance.now() - s)
    }
    lat.sort((a, b) => a - b)
    out[op].p50Us = lat[lat.length >> 1] * 1000
  }
  await m.close()
  console.log(JSON.stringify(out))
}

/** The run's contenders, rounds, Redis and key prefix, from the environment. */
function runOptions() {
  return {
    contenders: (process.env.BENCH_STORE_CONTENDERS || 'ours-redis,node-redis').split(','),
    rounds: Number(process.env.BENCH_ROUNDS || 3),
    redisUrl: process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL,
    prefix: uniquePrefix(),
  }
}

/** The contenders in round `round`'s order (alternating), each with its child's environment. */
function roundOf({ contenders, redisUrl, prefix }, round) {
  return (round % 2 ? [...contenders].reverse() : contenders).map((c) => [c, childEnv(c === 'before-redis' ? 'ours-redis' : c, { redisUrl, prefix: `${prefix}:${c}` })])
}

/** Deletes the run's keys. */
async function cleanUp({ redisUrl, prefix }) {
  const { RespClient, unlinkMatching } = require('../resp')
  const resp = await RespClient.connect(redisUrl)
  await unlinkMatching(resp, `*${prefix}*`)
  resp.close()
}

/** The middle value; the mean of the two middle ones for an even count. */
function median(xs) {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main() {
  const run = runOptions()
  const { contenders, rounds } = run
  const results = []
  for (let round = 0; round < rounds; round++) {
    for (const [c, env] of roundOf(run, round)) {
      const load = os.loadavg()[0].toFixed(2)
      const r = spawnSync(process.execPath, [__filename, c], { env, encoding: 'utf8', timeout: 120000 })
      if (r.status !== 0) throw new Error(`${c}: ${r.stderr}`)
      const line = JSON.parse(r.stdout.trim().split('\n').pop())
      results.push({ round, load, ...line })
      console.error(`round ${round + 1} ${c} load ${load}: ${OPS.map((op) => `${op} ${(line[op].opsPerSec / 1000).toFixed(1)}k/s ${line[op].cpuUsPerOp.toFixed(1)} µs CPU p50 ${line[op].p50Us.toFixed(0)} µs`).join('; ')}`)
    }
  }
  await cleanUp(run)
  const lines = ['| store operation | ' + contenders.map((c) => `${c} ops/s · CPU µs/op · p50 µs (c=1)`).join(' | ') + ' | ops/s ratio |', '|---' + '|---'.repeat(contenders.length) + '|---|']
  for (const op of OPS) {
    const cells = contenders.map((c) => {
      const rs = results.filter((r) => r.contender === c)
      return { ops: median(rs.map((r) => r[op].opsPerSec)), cpu: median(rs.map((r) => r[op].cpuUsPerOp)), p50: median(rs.map((r) => r[op].p50Us)) }
    })
    const ratio = cells.length > 1 ? `${(cells[0].ops / cells[1].ops).toFixed(2)}×` : ''
    lines.push(`| ${op} | ${cells.map((x) => `${(x.ops / 1000).toFixed(1)}k · ${x.cpu.toFixed(1)} · ${x.p50.toFixed(0)}`).join(' | ')} | ${ratio} |`)
  }
  console.log(`\n#### Store level (${rounds} rounds, medians, 50 in flight; p50 with one in flight; load1 ${results.map((r) => r.load).join(', ')})\n`)
  console.log(lines.join('\n'))
}

module.exports = { OPS, runOptions, roundOf, cleanUp, median }

if (require.main === module) {
  const fn = process.argv[2] ? child(process.argv[2]) : main()
  fn.catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
