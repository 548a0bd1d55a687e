#!/usr/bin/env node
'use strict'

// The near cache's invalidation delay (part of `npm run bench:near`): how long after another
// process's write a reader with the near cache on first sees the new value.
//
//   A (a child process, this package on Redis): reads one key with cache.get in a loop that
//     yields to the event loop between reads (setImmediate), so the invalidation listener and
//     the refill's GET are served, and then sleeps --poll-us (Atomics.wait): a busy poller would
//     take a whole core from B and Redis on a 2-core machine and delay B's replies. It prints
//     the clock time at which each new value first comes back.
//   B (this process, plain ioredis): writes that key N times, each value carrying its sequence
//     number, spaced gap..2×gap ms, and notes the clock time of each write's reply.
//   delay = A's first sight of value k − B's reply to write k. Both read process.hrtime
//     (CLOCK_MONOTONIC: one clock for every process on the machine). A write whose value A never
//     saw (the next write came first) is counted, not timed. Negative delays are possible: A
//     can see the value before B has parsed the reply.
//
// Modes, run one after the other against the same writer: `near` (configure({ nearCache: true }),
// tracking live before the first write) and `off` (no near cache: every read is a GET, the
// floor a poller on Redis gets).
//
//   node bench/near-invalidation.js [--writes=2000] [--gap-ms=2] [--poll-us=50] [--modes=near,off] [--redis=URL] [--json=FILE]
//   BENCH_REDIS_URL=redis://127.0.0.1:6392/9 node bench/near-invalidation.js
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { DEFAULT_REDIS_URL, BENCH_DIR, PACKAGE_DIR, uniquePrefix, childEnv, enableNearCache, nearCacheCounters } = require('./common')

const now = () => process.hrtime.bigint()
const PAD = 'x'.repeat(360) // the value is ~400 bytes, like the hot-key workload's

function options() {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  return {
    writes: Number(arg('writes') ?? process.env.BENCH_NEAR_WRITES ?? 2000),
    gapMs: Number(arg('gap-ms') ?? process.env.BENCH_NEAR_GAP_MS ?? 2),
    pollUs: Number(arg('poll-us') ?? process.env.BENCH_NEAR_POLL_US ?? 50),
    modes: (arg('modes') ?? process.env.BENCH_NEAR_MODES ?? 'near,off').split(','),
    redisUrl: arg('redis') ?? process.env.BENCH_REDIS_URL ?? DEFAULT_REDIS_URL,
    json: arg('json') ?? path.join(BENCH_DIR, 'near-invalidation-last-run.json'),
  }
}

/** Process A: `node near-invalidation.js --reader <key> <near|off>`. */
async function reader(key, mode, pollUs) {
  const nap = new Int32Array(new SharedArrayBuffer(4))
  process.chdir(BENCH_DIR) // the package loads .env from the working directory; bench/ has none
  const mod = require(PACKAGE_DIR)
  const near = mode === 'near' ? await enableNearCache(mod) : { active: false, tracking: null, note: 'off by choice' }
  let last = -1
  let reads = 0
  let stopping = false
  const out = (line) => process.stdout.write(`${line}\n`)
  // The seeded value first: from here on every change is B's.
  while (last !== 0) {
    const v = await mod.cache.get(key)
    last = v && typeof v === 'object' ? v.seq : -1
    if (last !== 0) await new Promise((resolve) => setTimeout(resolve, 5))
  }
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line === 'stop') stopping = true
  })
  out(`ready ${JSON.stringify(near)}`)
  const t0 = now()
  while (!stopping) {
    const v = await mod.cache.get(key)
    const t = now()
    reads++
    const seq = v && typeof v === 'object' ? v.seq : null
    if (seq !== last) {
      // A value older than one already seen: the near cache served a stale value after a newer one.
      out(`${seq !== null && seq < last ? 'back' : 'seen'} ${seq} ${t}`)
      last = Math.max(last, seq ?? -1)
    }
    await new Promise((resolve) => setImmediate(resolve))
    if (pollUs > 0) Atomics.wait(nap, 0, 0, pollUs / 1000)
  }
  out(`done ${JSON.stringify({ reads, seconds: Number(now() - t0) / 1e9, near, counters: nearCacheCounters(mod) })}`)
  process.exit(0)
}

function quantile(sorted, q) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]
}

/** One mode: start A, write N times from B, collect A's sightings. */
async function runMode(mode, o, Redis, P) {
  const key = `${P}:inv:${mode}`
  const client = new Redis(o.redisUrl)
  await client.set(key, JSON.stringify({ seq: 0, pad: PAD }), 'EX', 3600)
  const env = { ...childEnv('ours-redis', { redisUrl: o.redisUrl, prefix: P }) }
  const child = spawn(process.execPath, [__filename, '--reader', key, mode, String(o.pollUs)], { cwd: BENCH_DIR, env, stdio: ['pipe', 'pipe', 'inherit'] })
  const seen = new Map() // seq → first hrtime seen by A
  let wentBack = 0
  let readyInfo = null
  let doneInfo = null
  let onReady
  let onDone
  const ready = new Promise((resolve) => (onReady = resolve))
  const done = new Promise((resolve) => (onDone = resolve))
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => {
      onReady(null)
      onDone(null)
      if (code !== 0) process.stderr.write(`reader (${mode}) exited with ${code ?? signal}\n`)
      resolve()
    }),
  )
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const [kind, a, b] = line.split(' ')
    if (kind === 'back') wentBack++
    else if (kind === 'seen' && !seen.has(Number(a))) seen.set(Number(a), BigInt(b))
    else if (kind === 'ready') onReady((readyInfo = JSON.parse(line.slice(6))))
    else if (kind === 'done') onDone((doneInfo = JSON.parse(line.slice(5))))
  })
  if (!(await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, 60000, null))]))) {
    child.kill('SIGKILL')
    await client.quit()
    throw new Error(`reader (${mode}) did not get ready`)
  }
  const writes = []
  const started = Date.now()
  for (let seq = 1; seq <= o.writes; seq++) {
    const value = JSON.stringify({ seq, pad: PAD })
    const sent = now()
    await client.set(key, value, 'EX', 3600)
    writes.push({ seq, sent, reply: now() })
    // gap..2×gap ms: the next write rarely lands before A has seen this one.
    await new Promise((resolve) => setTimeout(resolve, o.gapMs * (1 + Math.random())))
  }
  const wroteMs = Date.now() - started
  await new Promise((resolve) => setTimeout(resolve, 500))
  child.stdin.write('stop\n')
  const timer = setTimeout(() => child.kill('SIGKILL'), 10000)
  await exited
  clearTimeout(timer)
  await client.del(key)
  await client.quit()

  const fromReply = []
  const fromSent = []
  let unseen = 0
  for (const w of writes) {
    const t = seen.get(w.seq)
    if (t === undefined) {
      unseen++
      continue
    }
    fromReply.push(Number(t - w.reply) / 1e6)
    fromSent.push(Number(t - w.sent) / 1e6)
  }
  fromReply.sort((a, b) => a - b)
  fromSent.sort((a, b) => a - b)
  const rtt = writes.map((w) => Number(w.reply - w.sent) / 1e6).sort((a, b) => a - b)
  const summary = (xs) => ({ p50: quantile(xs, 0.5), p90: quantile(xs, 0.9), p99: quantile(xs, 0.99), max: xs.length ? xs[xs.length - 1] : null, min: xs.length ? xs[0] : null })
  return {
    mode,
    writes: o.writes,
    wroteMs,
    timed: fromReply.length,
    unseen,
    // The last value must be the one A ends on: a near cache that kept an old value would not.
    lastSeen: Math.max(-1, ...seen.keys()),
    negative: fromReply.filter((x) => x < 0).length,
    wentBack,
    fromReply: summary(fromReply),
    fromSent: summary(fromSent),
    writeRtt: summary(rtt),
    reader: doneInfo,
    near: readyInfo,
  }
}

const fmt = (x) => (x === null || x === undefined ? '—' : Math.abs(x) < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`)

function report(results, o) {
  const lines = [
    `Invalidation delay: ${o.writes} writes by plain ioredis spaced ${o.gapMs}–${2 * o.gapMs} ms, one key, reader polling with cache.get, setImmediate and a ${o.pollUs} µs sleep; ${os.cpus().length} CPUs, load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}, Node ${process.version}.`,
    '',
    '| reader | p50 | p90 | p99 | max | min | from write sent: p50 / p99 | writes timed | never seen (superseded) | negative | reads of an older value after a newer one | last value seen | reader reads/s | near hits / misses / invalidations |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|',
  ]
  for (const r of results) {
    const d = r.fromReply
    const k = r.reader?.counters
    const nearState = r.mode === 'near' ? (r.near?.active ? 'near cache on' : `**near cache NOT on** (${r.near?.note})`) : 'no near cache'
    lines.push(
      `| ${r.mode} (${nearState}) | ${fmt(d.p50)} | ${fmt(d.p90)} | ${fmt(d.p99)} | ${fmt(d.max)} | ${fmt(d.min)} | ${fmt(r.fromSent.p50)} / ${fmt(r.fromSent.p99)} | ${r.timed} | ${r.unseen} | ${r.negative} | ${r.wentBack ? `**${r.wentBack}**` : 0} | ${r.lastSeen === r.writes ? `${r.lastSeen} (the last)` : `**${r.lastSeen} of ${r.writes}**`} | ${r.reader ? Math.round(r.reader.reads / r.reader.seconds).toLocaleString('en-US') : '—'} | ${k ? `${k.hits} / ${k.misses} / ${k.invalidations}` : '—'} |`,
    )
  }
  lines.push('', `Write round trip seen by B (SET … EX): p50 ${fmt(results[0]?.writeRtt.p50)}, p99 ${fmt(results[0]?.writeRtt.p99)}. Delays are from B's write reply unless noted.`)
  return lines.join('\n')
}

async function main() {
  if (process.argv[2] === '--reader') return reader(process.argv[3], process.argv[4], Number(process.argv[5]))
  const o = options()
  if (!(o.writes >= 1) || !(o.gapMs >= 0) || !(o.pollUs >= 0) || o.modes.some((m) => m !== 'near' && m !== 'off')) throw new Error('bad --writes, --gap-ms or --modes (near,off)')
  const Redis = require('ioredis')
  const P = uniquePrefix()
  const results = []
  for (const mode of o.modes) {
    const r = await runMode(mode, o, Redis, P)
    results.push(r)
    process.stderr.write(`${mode}: p50 ${fmt(r.fromReply.p50)} p99 ${fmt(r.fromReply.p99)} max ${fmt(r.fromReply.max)}; ${r.timed} timed, ${r.unseen} never seen, last seen ${r.lastSeen}\n`)
  }
  fs.writeFileSync(o.json, `${JSON.stringify({ options: o, date: new Date().toISOString(), results }, null, 1)}\n`)
  console.log(report(results, o))
}

main().catch((err) => {
  process.stderr.write(`near-invalidation failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
