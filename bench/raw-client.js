#!/usr/bin/env node
'use strict'

// `npm run bench:raw`: the raw `redis` client's per-call cost on the embedded store (no network,
// so the argument building and the crossing into the binding are what is measured): set with an
// options object, get, zadd with a member object, 20,000 of each in flight per round.
// BENCH_PACKAGE_DIRS compares builds (comma-separated package directories), run alternately;
// medians of BENCH_RAW_ROUNDS (5) per run and of the runs per build.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const DIRS = (process.env.BENCH_PACKAGE_DIRS || path.resolve(__dirname, '..')).split(',')
const RUNS = Number(process.env.BENCH_RAW_RUNS || 3)
const CALLS = 20000

const child = `
  delete process.env.REDIS_URL; delete process.env.UPSTASH_REDIS_REST_URL; delete process.env.REDIS_CLUSTER_URLS
  const { redis } = require(process.argv[1])
  ;(async () => {
    const times = []
    for (let round = 0; round < ${Number(process.env.BENCH_RAW_ROUNDS || 5)}; round++) {
      const started = process.hrtime.bigint()
      const calls = []
      for (let i = 0; i < ${CALLS}; i++) {
        calls.push(redis.set('rawbench:' + (i % 100), { a: i }, { ex: 60 }))
        calls.push(redis.get('rawbench:' + (i % 100)))
        calls.push(redis.zadd('rawbench:z', { score: i, member: 'm' + (i % 50) }))
      }
      await Promise.all(calls)
      times.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    times.sort((a, b) => a - b)
    console.log(JSON.stringify({ ms: times[times.length >> 1], cpuMs: process.cpuUsage().user / 1000 }))
    process.exit(0)
  })()`

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const results = new Map(DIRS.map((dir) => [dir, []]))
for (let run = 0; run < RUNS; run++) {
  for (const dir of run % 2 ? [...DIRS].reverse() : DIRS) {
    const out = spawnSync(process.execPath, ['-e', child, dir], { encoding: 'utf8', env: { ...process.env, DIGIS_REDIS_EMBEDDED: '1' } })
    if (out.status !== 0) throw new Error(`${dir}: ${out.stderr}`)
    results.get(dir).push(JSON.parse(out.stdout.trim().split('\n').pop()))
  }
}
console.log(`${3 * CALLS} raw calls (set with options, get, zadd) per round on the embedded store; medians of ${RUNS} runs`)
for (const [dir, runs] of results) {
  console.log(`${dir}: ${median(runs.map((r) => r.ms)).toFixed(0)} ms per round (runs: ${runs.map((r) => r.ms.toFixed(0)).join(', ')}), process CPU ${median(runs.map((r) => r.cpuMs)).toFixed(0)} ms`)
}
