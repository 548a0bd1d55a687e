#!/usr/bin/env node
'use strict'

// What other clients' writes cost a process that has the near cache on but never read the keys
// they write (part of `npm run bench:near`). Tracking on BCAST without prefixes is told of every
// key change on the server, so each write anywhere reaches every such process.
//
//   A (a child process, this package on Redis): idle after one read, with the near cache on
//     (`near`), on for every namespace but `cache` (`near-prefixed`: then only the other
//     namespaces' key prefixes are tracked), or off.
//   B (this process, plain ioredis): writes keys A never read for --ms, either one SET per round
//     trip (`single`: each invalidation arrives on its own, as with independent clients) or
//     in pipelines of 50 every 10 ms (`pipelined`).
//   A's CPU (on-CPU time of all its threads, /proc/<pid>/task/*/schedstat) over the window, per
//   write.
//
//   node bench/near-write-load.js [--ms=5000] [--rounds=2] [--redis=URL]
const fs = require('node:fs')
const path = require('node:path')
const { spawn } = require('node:child_process')
const { DEFAULT_REDIS_URL, BENCH_DIR, PACKAGE_DIR, uniquePrefix, childEnv, enableNearCache, nearCacheCounters } = require('./common')

function options() {
  const arg = (name) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
  return {
    ms: Number(arg('ms') ?? 5000),
    rounds: Number(arg('rounds') ?? 2),
    redisUrl: arg('redis') ?? process.env.BENCH_REDIS_URL ?? DEFAULT_REDIS_URL,
  }
}

/** Process A: `node near-write-load.js --idle <near|off> <key>`. */
async function idle(mode, key) {
  process.chdir(BENCH_DIR)
  const mod = require(PACKAGE_DIR)
  const options = { near: true, 'near-prefixed': { namespaces: ['users', 'creators', 'sessions', 'tokens'] } }[mode]
  const near = options ? await enableNearCache(mod, options) : { active: false, note: 'off by choice' }
  await mod.cache.get(key)
  process.stdout.write(`ready ${JSON.stringify(near)}\n`)
  const keepAlive = setInterval(() => {}, 1000)
  process.on('SIGTERM', () => {
    clearInterval(keepAlive)
    process.stdout.write(`counters ${JSON.stringify(nearCacheCounters(mod))}\n`)
    process.exit(0)
  })
}

/** On-CPU seconds of all of `pid`'s threads (schedstat: nanoseconds, finer than stat's ticks). */
const cpuSeconds = (pid) => {
  let ns = 0
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0])
    } catch {} // a thread that ended meanwhile
  }
  return ns / 1e9
}

async function measure(mode, style, o, client, P) {
  const child = spawn(process.execPath, [__filename, '--idle', mode, `${P}:read`], {
    cwd: BENCH_DIR,
    env: childEnv('ours-redis', { redisUrl: o.redisUrl, prefix: P }),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  await Promise.race([new Promise((resolve) => child.stdout.on('data', () => out.includes('ready') && resolve())), exited])
  const ready = /ready (.*)/.exec(out)
  if (!ready) throw new Error(`idle process (${mode}) exited before it was ready`)
  const near = JSON.parse(ready[1])
  await new Promise((resolve) => setTimeout(resolve, 300))
  const cpu0 = cpuSeconds(child.pid)
  const t0 = Date.now()
  let n = 0
  while (Date.now() - t0 < o.ms) {
    if (style === 'single') {
      await client.set(`${P}:w:${n++ % 10000}`, 'x', 'EX', 60)
      continue
    }
    const pipeline = client.pipeline()
    for (let i = 0; i < 50; i++) pipeline.set(`${P}:w:${n++ % 10000}`, 'x', 'EX', 60)
    await pipeline.exec()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const seconds = (Date.now() - t0) / 1000
  const cpu = cpuSeconds(child.pid) - cpu0
  child.kill('SIGTERM')
  await exited
  const counters = JSON.parse(/counters (.*)/.exec(out)?.[1] ?? 'null')
  return { mode, style, writes: n, announced: counters?.announced ?? null, seconds, writesPerSec: n / seconds, cpuMsPerSec: (cpu * 1000) / seconds, cpuUsPerWrite: (cpu * 1e6) / n, near, counters }
}

async function main() {
  if (process.argv[2] === '--idle') return idle(process.argv[3], process.argv[4])
  const o = options()
  const Redis = require('ioredis')
  const client = new Redis(o.redisUrl)
  const P = uniquePrefix()
  const results = []
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const style of ['single', 'pipelined']) {
        const modes = ['near', 'near-prefixed', 'off']
        for (const mode of round % 2 ? [...modes].reverse() : modes) {
          const r = await measure(mode, style, o, client, P)
          results.push(r)
          process.stderr.write(
            `round ${round + 1} ${style} ${mode}${mode !== 'off' && !r.near.active ? ' (NEAR CACHE NOT ON)' : ''}: ${Math.round(r.writesPerSec)} writes/s; idle process CPU ${r.cpuMsPerSec.toFixed(0)} ms/s = ${r.cpuUsPerWrite.toFixed(2)} µs per write\n`,
          )
        }
      }
    }
  } finally {
    const keys = await client.keys(`${P}:*`)
    for (let i = 0; i < keys.length; i += 500) await client.unlink(...keys.slice(i, i + 500))
    await client.quit()
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b)
    const mid = s.length >> 1
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
  }
  const lines = [
    `Idle process, other clients' writes to keys it never read (${o.rounds} rounds × ${o.ms} ms; medians, each run in brackets):`,
    '',
    '| writes arrive | near cache | writes/s | idle process CPU ms/s | CPU µs per write | changes announced per write |',
    '|---|---|--:|--:|--:|--:|',
  ]
  for (const style of ['single', 'pipelined']) {
    for (const mode of ['near', 'near-prefixed', 'off']) {
      const rs = results.filter((r) => r.style === style && r.mode === mode)
      const label = { near: 'on', 'near-prefixed': 'on, namespaces without cache', off: 'off' }[mode]
      const on = mode === 'off' || rs.every((r) => r.near.active) ? label : `**NOT on** (${label})`
      const runs = (f, digits) => `${median(rs.map(f)).toFixed(digits)} (${rs.map((r) => f(r).toFixed(digits)).join(', ')})`
      lines.push(`| ${style === 'single' ? 'one SET per round trip' : 'pipelines of 50 every 10 ms'} | ${on} | ${runs((r) => r.writesPerSec, 0)} | ${runs((r) => r.cpuMsPerSec, 0)} | ${runs((r) => r.cpuUsPerWrite, 2)} | ${mode !== 'off' && rs.every((r) => r.announced !== null) ? median(rs.map((r) => r.announced / r.writes)).toFixed(2) : '—'} |`)
    }
  }
  console.log(lines.join('\n'))
  fs.writeFileSync(path.join(BENCH_DIR, 'near-write-load-last-run.json'), `${JSON.stringify({ options: o, results }, null, 1)}\n`)
}

main().catch((err) => {
  process.stderr.write(`near-write-load failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
