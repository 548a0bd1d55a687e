#!/usr/bin/env node
'use strict'

// One cell of the benchmark in a fresh process (this package picks its backend from the
// environment at require time):
//
//   node bench/run-one.js <contender> <workload> <concurrency> <durationMs>
//
// prints one JSON line: ops/s, p50/p99 latency, CPU seconds per 100k ops, misses.
// Contenders: ours-redis ours-redis-near ioredis ioredis-auto ours-rest upstash ours-embedded lru-cache.
// Run by bench/index.js, which passes BENCH_PREFIX / BENCH_REDIS_URL / BENCH_REST_URL /
// BENCH_REST_TOKEN and seeds the live streams (and the 1M unrelated keys). Run by hand it
// uses database 9 of 127.0.0.1:6379 (or BENCH_REDIS_URL), starts its own rest-server when
// needed, seeds what it needs and deletes it afterwards.
//
//   node bench/run-one.js --seed-streams | --unseed-streams    (used by index.js)
const fs = require('node:fs')
const { spawn } = require('node:child_process')
const { CONTENDERS, createContender } = require('./contenders')
const { describeWorkload } = require('./workloads')
const { measure } = require('./measure')
const { RespClient, seed, pipelined, unlinkMatching } = require('./resp')
const { BENCH_DIR, PACKAGE_DIR, BACKEND_VARIABLES, DEFAULT_REDIS_URL, uniquePrefix, startRestServer } = require('./common')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function usage(message) {
  process.stderr.write(`${message}\nusage: node bench/run-one.js <contender> <workload> <concurrency> <durationMs>\n`)
  process.exit(2)
}

/** Point this process's environment at the contender's backend, before anything requires ours. */
function selectBackend(contender, { redisUrl, restUrl, restToken }) {
  for (const name of BACKEND_VARIABLES) delete process.env[name]
  if (contender === 'ours-redis' || contender === 'ours-redis-near') process.env.REDIS_URL = redisUrl
  if (contender === 'ours-rest') Object.assign(process.env, { UPSTASH_REDIS_REST_URL: restUrl, UPSTASH_REDIS_REST_TOKEN: restToken })
  // The package loads .env from the working directory; bench/ has none.
  process.chdir(BENCH_DIR)
}

/** `--seed-streams` / `--unseed-streams`: the live streams, written through this package. */
async function streamsCommand(seedThem) {
  const P = process.env.BENCH_PREFIX
  if (!P) usage('BENCH_PREFIX is required')
  selectBackend('ours-redis', { redisUrl: process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL })
  const mod = require(PACKAGE_DIR)
  mod.configure({ strict: true, timeoutMs: 10000 })
  const w = describeWorkload('streams.getAllActive', P)
  if (seedThem) await Promise.all(w.ids.map((id, i) => mod.streams.setActive(id, w.objects[i], 3600)))
  else await Promise.all(w.ids.map((id) => mod.streams.removeActive(id)))
  process.stdout.write(`${JSON.stringify({ streams: w.ids.length, seeded: seedThem })}\n`)
}

function spawnStreamsCommand(flag, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, flag], { env, stdio: ['ignore', 'ignore', 'inherit'] })
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${flag} exited with ${code}`))))
  })
}

async function main() {
  const [contender, workload, concurrencyArg, durationArg] = process.argv.slice(2)
  if (contender === '--seed-streams' || contender === '--unseed-streams') return streamsCommand(contender === '--seed-streams')
  if (!CONTENDERS[contender]) usage(`unknown contender '${contender}' (one of ${Object.keys(CONTENDERS).join(', ')})`)
  const concurrency = Number(concurrencyArg)
  const durationMs = Number(durationArg ?? 2000)
  if (!Number.isInteger(concurrency) || concurrency < 1) usage(`bad concurrency '${concurrencyArg}'`)
  if (!Number.isFinite(durationMs) || durationMs < 50) usage(`bad durationMs '${durationArg}'`)
  const warmupMs = Number(process.env.BENCH_WARMUP_MS || Math.max(200, Math.round(durationMs * 0.25)))
  const { group } = CONTENDERS[contender]
  const server = group !== 'embedded'

  // Standalone: own prefix, own rest-server, own seeding and cleanup.
  const standalone = !process.env.BENCH_PREFIX
  const P = process.env.BENCH_PREFIX || uniquePrefix()
  const redisUrl = process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL
  let restUrl = process.env.BENCH_REST_URL
  let restToken = process.env.BENCH_REST_TOKEN
  let restServer = null
  if (group === 'rest' && !restUrl) {
    restServer = await startRestServer(redisUrl)
    ;({ url: restUrl, token: restToken } = restServer)
  }
  const seedEnv = { ...process.env, BENCH_PREFIX: P, BENCH_REDIS_URL: redisUrl }
  const setupStarted = performance.now()
  selectBackend(contender, { redisUrl, restUrl, restToken })

  const w = describeWorkload(workload, P)
  const resp = server ? await RespClient.connect(redisUrl) : null
  let seededStreams = false
  if (server && workload === 'streams.getAllActive' && !process.env.BENCH_STREAMS_SEEDED) {
    await spawnStreamsCommand('--seed-streams', seedEnv)
    seededStreams = true
  }

  const c = await createContender(contender, { redisUrl, restUrl, restToken })

  // One-time codes verify once: a pool of codes, sized from a short calibration run.
  let pool = 0
  const tag = `${contender}-${concurrency}-${process.pid}`
  w.otpId = (j) => `${P}-${tag}-o${j}`
  const addCodes = async (from, n) => {
    const records = []
    for (let j = from; j < from + n; j++) records.push([`otp:${w.otpId(j)}`, w.code, w.ttl])
    if (server) await seed(resp, records)
    else await c.seedLocal(records, workload, w)
    pool = from + n
  }

  if (workload === 'otp.verify') {
    const initial = server ? 20000 : 100000
    if (c.sizeFor) c.sizeFor(initial)
    await addCodes(0, initial)
  } else if (server) {
    if (w.records.length && workload !== 'streams.getAllActive') await seed(resp, w.records)
  } else {
    await c.seedLocal(w.records, workload, w)
  }

  let op = c.op(workload, w)
  // One call first: connects, and shows the answer is the expected one (not a miss).
  const first = await op(0)
  if (!w.ok(first)) throw new Error(`${contender} ${workload}: unexpected answer ${JSON.stringify(first)?.slice(0, 300)}`)
  let startAt = 1

  if (workload === 'otp.verify') {
    // The rate over the whole calibration (it may run out of codes before its window opens).
    const calibrationStarted = performance.now()
    const calibration = await measure({ op, ok: w.ok, concurrency, warmupMs: 0, durationMs: warmupMs, startAt, stopWhen: (j) => j >= pool })
    await calibration.drained
    const used = Math.min(calibration.next(), pool) - startAt
    const rate = Math.max(used / ((performance.now() - calibrationStarted) / 1000), 1000)
    startAt = calibration.next()
    const needed = Math.ceil((rate * (warmupMs + durationMs)) / 1000 * 2.5) + 4 * concurrency
    if (c.sizeFor) {
      c.sizeFor(needed + 10000)
      op = c.op(workload, w)
    }
    await addCodes(startAt, needed)
  }
  const setupMs = performance.now() - setupStarted

  if (resp) {
    resp.close()
  }
  const maxWaitMs = Number(process.env.BENCH_MAX_WAIT_MS || 10000)
  const run = await measure({ op, ok: w.ok, concurrency, warmupMs, durationMs, startAt, maxWaitMs })
  const line = JSON.stringify({
    contender,
    workload,
    concurrency,
    durationMs,
    warmupMs,
    ...run.result,
    ...(c.report ? c.report() : {}),
    setupMs: Math.round(setupMs),
    pid: process.pid,
  })

  // Server-side leftovers of this process: the codes it did not consume.
  const cleanups = []
  if (server && workload === 'otp.verify') {
    cleanups.push(async () => {
      await Promise.race([run.drained, sleep(5000)])
      const from = run.next()
      const client = await RespClient.connect(redisUrl)
      const cmds = []
      for (let j = from; j < pool; j += 500) {
        const keys = []
        for (let k = j; k < Math.min(pool, j + 500); k++) keys.push(`otp:${w.otpId(k)}`)
        cmds.push(['UNLINK', ...keys])
      }
      await pipelined(client, cmds, { batch: 20, inFlight: 4 })
      client.close()
    })
  }
  if (standalone && server) {
    cleanups.push(async () => {
      await Promise.race([run.drained, sleep(5000)])
      if (seededStreams) await spawnStreamsCommand('--unseed-streams', seedEnv)
      const client = await RespClient.connect(redisUrl)
      await unlinkMatching(client, `*${P}*`)
      client.close()
    })
  }
  for (const cleanup of cleanups) await cleanup()
  if (restServer) await restServer.stop()
  fs.writeSync(1, `${line}\n`)
  // Ops still in flight (e.g. queued KEYS) are abandoned; the orchestrator waits for the
  // server to be idle before the next run.
  process.exit(0)
}

main().catch((err) => {
  process.stderr.write(`run-one failed: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})

