#!/usr/bin/env node
'use strict'

// `npm run bench:cold`: a serverless cold start, in a fresh Node process each time: `require` of
// the module, then its first call (`cache.get` of a ~400-byte object) over Upstash REST (a
// `digis-redis rest-server` this script starts in front of BENCH_REDIS_URL). This package against
// the original module (@upstash/redis and the same GET + parse). Runs alternate; medians of
// BENCH_COLD_RUNS (20). BENCH_PACKAGE_DIR measures another copy (e.g. an installed one).

const { spawnSync } = require('node:child_process')
const { PACKAGE_DIR, BENCH_DIR, DEFAULT_REDIS_URL, BACKEND_VARIABLES, uniquePrefix, startRestServer } = require('./common')

const RUNS = Number(process.env.BENCH_COLD_RUNS || 20)
const REDIS_URL = process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL

// Each loads its module, then prints { requireMs, firstCallMs, ok } after the first cache.get.
// The original module: utils/redis.js builds an @upstash/redis client at require time; its
// cache.get is redis.get (which parses JSON) with a null fallback.
const timed = (load) => `
    const t0 = performance.now()
    ${load}
    const t1 = performance.now()
    cache.get(process.env.COLD_KEY).then((v) => {
      const t2 = performance.now()
      console.log(JSON.stringify({ requireMs: t1 - t0, firstCallMs: t2 - t1, ok: v !== null && v.id === 'cold' }))
      process.exit(0)
    })`
const SCRIPTS = {
  'digis-redis': timed(`const { cache } = require(${JSON.stringify(PACKAGE_DIR)})`),
  'original (@upstash/redis)': timed(`
    const { Redis } = require('@upstash/redis')
    const redis = new Redis({ url: process.env.UPSTASH_REDIS_REST_URL, token: process.env.UPSTASH_REDIS_REST_TOKEN })
    const cache = { get: async (key) => { try { return (await redis.get(key)) ?? null } catch (err) { console.error(err); return null } } }`),
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main() {
  const rest = await startRestServer(REDIS_URL)
  const env = { ...process.env, UPSTASH_REDIS_REST_URL: rest.url, UPSTASH_REDIS_REST_TOKEN: rest.token }
  for (const name of BACKEND_VARIABLES.filter((n) => !n.startsWith('UPSTASH_'))) delete env[name]
  const key = `${uniquePrefix()}:cold`
  env.COLD_KEY = key
  const value = { id: 'cold', name: 'Cold Start', bio: 'x'.repeat(300), followers: 12345, verified: true }
  try {
    const seed = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(PACKAGE_DIR)}).cache.set(process.env.COLD_KEY, ${JSON.stringify(value)}, 600).then((ok) => process.exit(ok ? 0 : 1))`], { env, cwd: BENCH_DIR })
    if (seed.status !== 0) throw new Error(`could not store the key: ${seed.stderr}`)
    const results = Object.fromEntries(Object.keys(SCRIPTS).map((name) => [name, []]))
    for (let round = 0; round < RUNS; round++) {
      const order = round % 2 ? Object.keys(SCRIPTS).reverse() : Object.keys(SCRIPTS)
      for (const name of order) {
        const started = process.hrtime.bigint()
        const child = spawnSync(process.execPath, ['-e', SCRIPTS[name]], { env, cwd: BENCH_DIR, encoding: 'utf8' })
        const processMs = Number(process.hrtime.bigint() - started) / 1e6
        const line = JSON.parse(child.stdout.trim().split('\n').pop())
        if (!line.ok) throw new Error(`${name} did not read the value: ${child.stdout}${child.stderr}`)
        results[name].push({ ...line, processMs })
      }
    }
    console.log(`cold start over Upstash REST (rest-server), median of ${RUNS} fresh processes each, alternating\n`)
    console.log('| module | require | first call | require + first call | whole process |')
    console.log('|---|---|---|---|---|')
    for (const [name, runs] of Object.entries(results)) {
      const m = (f) => median(runs.map(f)).toFixed(1)
      console.log(`| ${name} | ${m((r) => r.requireMs)} ms | ${m((r) => r.firstCallMs)} ms | ${m((r) => r.requireMs + r.firstCallMs)} ms | ${m((r) => r.processMs)} ms |`)
    }
  } finally {
    spawnSync(process.execPath, ['-e', `require(${JSON.stringify(PACKAGE_DIR)}).cache.del(process.env.COLD_KEY).then(() => process.exit(0))`], { env, cwd: BENCH_DIR })
    await rest.stop()
  }
}

main().catch((err) => {
  console.error(`bench:cold: ${err.message}`)
  process.exitCode = 1
})
