#!/usr/bin/env node
'use strict'

// cache.mget of 100 keys on a 3-master Redis Cluster vs one redis-server, both private and
// started here on free ports. Each backend runs in its own Node process (the backend is chosen
// at require time); per round, sequential calls give the median latency and concurrent ones the
// throughput. Prints medians over the rounds.
//
//   npm run bench:cluster            (ROUNDS=5 CALLS=300 by default)

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { startCluster } = require('../__test__/backends/cluster/cluster')
const { freePort } = require('../__test__/helpers')

const ROOT = path.resolve(__dirname, '..')
const ROUNDS = Number(process.env.ROUNDS) || 5
const CALLS = Number(process.env.CALLS) || 300
const KEYS = 100

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

// The measuring child: writes 100 keys, then ROUNDS × (CALLS sequential + CALLS in 10 lanes).
const CHILD = `
const r = require(${JSON.stringify(ROOT)})
const median = ${median.toString()}
;(async () => {
  const keys = Array.from({ length: ${KEYS} }, (_, i) => 'bench:mget:' + i)
  await Promise.all(keys.map((k, i) => r.cache.set(k, { i, name: 'user ' + i }, 600)))
  const check = await r.cache.mget(keys)
  if (check.some((v, i) => !v || v.i !== i)) throw new Error('mget answered wrong values')
  for (let i = 0; i < 50; i++) await r.cache.mget(keys)
  const rounds = []
  for (let round = 0; round < ${ROUNDS}; round++) {
    const lat = []
    for (let i = 0; i < ${CALLS}; i++) {
      const t = process.hrtime.bigint()
      await r.cache.mget(keys)
      lat.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
    const t = process.hrtime.bigint()
    await Promise.all(Array.from({ length: 10 }, async () => {
      for (let i = 0; i < ${CALLS} / 10; i++) await r.cache.mget(keys)
    }))
    const secs = Number(process.hrtime.bigint() - t) / 1e9
    rounds.push({ p50: median(lat), perSec: ${CALLS} / secs })
  }
  await r.cache.delPattern('bench:mget:*')
  console.log(JSON.stringify({ backend: (await r.health()).backend, p50: median(rounds.map((x) => x.p50)), perSec: median(rounds.map((x) => x.perSec)) }))
})().catch((e) => { console.error(e); process.exit(1) })
`

function measure(env) {
  const clean = { ...process.env }
  for (const name of ['REDIS_URL', 'REDIS_CLUSTER_URLS', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN']) delete clean[name]
  const out = spawnSync(process.execPath, ['-e', CHILD], { cwd: ROOT, env: { ...clean, ...env }, encoding: 'utf8', timeout: 300000 })
  if (out.status !== 0) throw new Error(`measuring failed: ${out.stderr}`)
  return JSON.parse(out.stdout.trim().split('\n').pop())
}

async function main() {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-bench-'))
  const single = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
  const cluster = await startCluster({ masters: 3, replicas: 0 })
  try {
    const results = [measure({ REDIS_URL: `redis://127.0.0.1:${port}` }), measure({ REDIS_CLUSTER_URLS: cluster.urls.join(',') })]
    console.log(`cache.mget of ${KEYS} keys, ${ROUNDS} rounds × ${CALLS} calls, medians (${os.cpus().length} cores, ${os.cpus()[0].model})`)
    console.log('| backend | p50 latency (ms) | calls/s (10 concurrent) |')
    console.log('|---|---:|---:|')
    for (const r of results) console.log(`| ${r.backend} | ${r.p50.toFixed(3)} | ${Math.round(r.perSec)} |`)
  } finally {
    single.kill('SIGKILL')
    await cluster.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
