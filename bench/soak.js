'use strict'

// Soak test: millions of mixed utils/redis calls at bounded concurrency, sampling the process's
// memory, to show that a long-running backend neither leaks nor slows down.
//
//   npm run bench:soak                                  # embedded store, 10M operations
//   SOAK_OPS=1000000 npm run bench:soak                 # shorter
//   REDIS_URL=redis://127.0.0.1:6379/9 npm run bench:soak
//
// The backend is the one the environment selects (as in production: Upstash REST, REDIS_URL, or
// the embedded store). Every key carries a unique run prefix and is deleted at the end, so a
// shared database is left as it was.
//
// Options (environment):
//   SOAK_OPS           total operations, warm-up included      (default 10_000_000)
//   SOAK_CONCURRENCY   operations in flight                    (default 64)
//   SOAK_KEYS          cache working set, in keys              (default 100_000)
//   SOAK_WARMUP        operations before the baseline sample   (default 10% of SOAK_OPS)
//   SOAK_SAMPLES       memory samples after warm-up            (default 20)
// Run node with --expose-gc to also get heap figures after a full collection at the end.

const digis = require('..')

const { cache, sessions, users, rateLimiter, otp, streams } = digis

const intEnv = (name, fallback) => {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw.replace(/_/g, ''))
  if (!Number.isSafeInteger(n) || n < 1) {
    console.error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
    process.exit(2)
  }
  return n
}

const TOTAL = intEnv('SOAK_OPS', 10_000_000)
if (TOTAL < 2) {
  console.error('SOAK_OPS must be at least 2 (a warm-up, then the measured operations)')
  process.exit(2)
}
const CONCURRENCY = intEnv('SOAK_CONCURRENCY', 64)
const KEYS = intEnv('SOAK_KEYS', 100_000)
const WARMUP = Math.min(intEnv('SOAK_WARMUP', Math.max(1, Math.floor(TOTAL / 10))), TOTAL - 1)
const SAMPLES = intEnv('SOAK_SAMPLES', 20)
const SAMPLE_EVERY = Math.max(1, Math.floor((TOTAL - WARMUP) / SAMPLES))

const RUN = `soak-${process.pid}-${Date.now().toString(36)}`
const SESSIONS = Math.max(1, Math.floor(KEYS / 10))
const USERS = Math.max(1, Math.floor(KEYS / 2))
const LIMITED = Math.max(1, Math.floor(KEYS / 10))
const OTPS = Math.max(1, Math.floor(KEYS / 10))
const STREAMS = 20
const MGET_KEYS = 20

// Failures answer fallbacks and go to the logger: count them instead of printing millions of lines.
let failures = 0
let lastFailure = ''
let firstFailure = ''
let done = 0
digis.configure({
  logger: {
    error(message) {
      failures++
      lastFailure = message
      if (!firstFailure) firstFailure = `after ${done} operations: ${message}`
    },
    warn() {},
  },
})

// A deterministic generator, so that two runs issue the same operation mix.
let seed = 0x9e3779b9
const random = () => {
  seed ^= seed << 13
  seed ^= seed >>> 17
  seed ^= seed << 5
  return (seed >>> 0) / 4294967296
}
const pick = (n) => Math.floor(random() * n)

const cacheKey = (n) => `${RUN}:c:${n}`
const LOREM = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt '

/** An object whose JSON is about 400 bytes. */
const document = (n) => ({
  id: n,
  kind: 'creator-profile',
  updatedAt: new Date(1_700_000_000_000 + n * 1000).toISOString(),
  title: `Item ${n}`,
  tags: ['live', 'music', 'featured', `t${n % 97}`],
  stats: { views: n * 7, likes: n % 1000, followers: (n * 13) % 100_000, rating: (n % 50) / 10 },
  bio: LOREM.repeat(3).slice(0, 190 + (n % 20)),
  online: n % 3 === 0,
})

const session = (n) => ({ userId: n, role: n % 10 === 0 ? 'creator' : 'fan', csrf: `c${n * 7919}`, since: 1_700_000_000 + n })
const user = (n) => ({ id: n, username: `user${n}`, email: `user${n}@example.com`, tokens: n % 5000, verified: n % 2 === 0 })

const counts = {}
const count = (name) => {
  counts[name] = (counts[name] || 0) + 1
}
// Answers that say a call failed (every function answers a fallback instead of throwing).
let wrong = 0
const expect = (ok) => {
  if (!ok) wrong++
}

/** One operation of the mix, drawn at random with the weights below. */
async function operation() {
  const r = random()
  if (r < 0.3) {
    count('cache.get')
    await cache.get(cacheKey(pick(KEYS)))
  } else if (r < 0.48) {
    count('cache.set')
    const n = pick(KEYS)
    expect(await cache.set(cacheKey(n), document(n), 60 + pick(540)))
  } else if (r < 0.53) {
    count('cache.mget')
    const keys = []
    for (let j = 0; j < MGET_KEYS; j++) keys.push(cacheKey(pick(KEYS)))
    const values = await cache.mget(keys)
    expect(values.length === MGET_KEYS)
  } else if (r < 0.63) {
    count('sessions.get')
    await sessions.get(`${RUN}-${pick(SESSIONS)}`)
  } else if (r < 0.65) {
    count('sessions.store')
    const n = pick(SESSIONS)
    expect(await sessions.store(`${RUN}-${n}`, session(n), 600))
  } else if (r < 0.73) {
    count('users.cache')
    const n = pick(USERS)
    expect(await users.cache(`${RUN}-${n}`, user(n), 600))
  } else if (r < 0.83) {
    count('rateLimiter.check')
    const result = await rateLimiter.check(`${RUN}-${pick(LIMITED)}`, 100, 60)
    expect(typeof result.allowed === 'boolean')
  } else if (r < 0.9) {
    count('otp.store')
    const n = pick(OTPS)
    expect(await otp.store(`${RUN}-${n}`, String(100000 + n), 120))
  } else if (r < 0.97) {
    count('otp.verify')
    const n = pick(OTPS)
    // Half right, half wrong guesses; either answer is a boolean.
    const code = random() < 0.5 ? String(100000 + n) : '000000'
    expect(typeof (await otp.verify(`${RUN}-${n}`, code)) === 'boolean')
  } else if (r < 0.998) {
    count('cache.get')
    await cache.get(cacheKey(pick(KEYS)))
  } else if (r < 0.9995) {
    count('streams.setActive')
    const n = pick(STREAMS)
    expect(await streams.setActive(`${RUN}-${n}`, { streamId: n, creatorId: n * 3, title: `Stream ${n}` }, 300))
  } else {
    count('streams.getAllActive')
    expect(Array.isArray(await streams.getAllActive()))
  }
}

const mb = (bytes) => (bytes / 1048576).toFixed(1)
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function main() {
  const backend = String(digis.redis)
  console.log(`soak: ${TOTAL.toLocaleString('en-US')} operations, ${CONCURRENCY} in flight, ` +
    `${KEYS.toLocaleString('en-US')} cache keys, backend ${backend}`)
  console.log(`node ${process.version}, ${require('node:os').cpus().length} CPUs, run prefix ${RUN}`)

  // Fill the working sets first, so that the warm-up and the measured phase see a full keyspace.
  const fillStart = process.hrtime.bigint()
  const fill = async (n, write) => {
    let next = 0
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) expect(await write(next++))
    }))
  }
  await fill(KEYS, (n) => cache.set(cacheKey(n), document(n), 60 + pick(540)))
  await fill(SESSIONS, (n) => sessions.store(`${RUN}-${n}`, session(n), 600))
  await fill(USERS, (n) => users.cache(`${RUN}-${n}`, user(n), 600))
  const fillSeconds = Number(process.hrtime.bigint() - fillStart) / 1e9
  console.log(`filled ${(KEYS + SESSIONS + USERS).toLocaleString('en-US')} keys in ${fillSeconds.toFixed(1)} s`)

  const samples = []
  let issued = 0
  let warmEnd = null
  let lastSample = null
  const start = process.hrtime.bigint()
  const sample = () => {
    const now = process.hrtime.bigint()
    const { rss, heapUsed } = process.memoryUsage()
    const s = {
      ops: done,
      seconds: Number(now - start) / 1e9,
      rss,
      heapUsed,
      failures,
      rate: lastSample ? (done - lastSample.ops) / (Number(now - lastSample.at) / 1e9) : NaN,
      at: now,
    }
    lastSample = s
    return s
  }

  // One row per sample, printed as it is taken: the warm-up's end, then every SAMPLE_EVERY ops.
  const row = (s) =>
    console.log(
      `${s.ops.toLocaleString('en-US').padStart(14)}  ${s.seconds.toFixed(1).padStart(10)}  ` +
        `${(Number.isNaN(s.rate) ? '(warm-up end)' : Math.round(s.rate).toLocaleString('en-US')).padStart(18)}  ` +
        `${mb(s.rss).padStart(7)}  ${mb(s.heapUsed).padStart(12)}  ${String(s.failures).padStart(8)}`,
    )
  const record = (s) => {
    samples.push(s)
    row(s)
  }
  console.log('')
  // `failures` is cumulative: calls that answered a fallback and logged why.
  console.log('      ops done   elapsed s    ops/s (interval)   RSS MB   heapUsed MB  failures')

  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (issued < TOTAL) {
      issued++
      await operation()
      done++
      if (done === WARMUP) {
        warmEnd = sample()
        record(warmEnd)
      } else if (done > WARMUP && (done - WARMUP) % SAMPLE_EVERY === 0) {
        record(sample())
      }
    }
  }))
  const end = process.hrtime.bigint()
  if (samples[samples.length - 1].ops !== done) record(sample())

  const measured = samples.slice(1)
  const startRss = warmEnd.rss
  const endRss = samples[samples.length - 1].rss
  const maxRss = Math.max(...samples.map((s) => s.rss))
  const measuredSeconds = Number(end - warmEnd.at) / 1e9
  const totalSeconds = Number(end - start) / 1e9
  const rates = measured.map((s) => s.rate).filter((x) => Number.isFinite(x))
  const heapEnd = samples[samples.length - 1].heapUsed

  let gcLine = ''
  if (typeof global.gc === 'function') {
    global.gc()
    const after = process.memoryUsage()
    gcLine = `after a full GC: RSS ${mb(after.rss)} MB, heapUsed ${mb(after.heapUsed)} MB`
  }

  // Leave a shared database as it was: every key of this run carries its prefix. Should the
  // backend be failing fast (an open circuit), retry for a while rather than leave keys behind.
  const cleanStart = process.hrtime.bigint()
  const runFailures = failures
  let deleted = 0
  let cleaned = false
  for (let attempt = 0; attempt < 30 && !cleaned; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 1000))
    const before = failures
    for (let n = 0; n < STREAMS; n++) await streams.removeActive(`${RUN}-${n}`)
    deleted += await cache.delPattern(`*${RUN}*`)
    cleaned = failures === before
  }
  const cleanSeconds = Number(process.hrtime.bigint() - cleanStart) / 1e9

  console.log('')
  console.log('summary')
  console.log(`  backend                    ${backend}`)
  console.log(`  operations                 ${TOTAL.toLocaleString('en-US')} (warm-up ${WARMUP.toLocaleString('en-US')}), concurrency ${CONCURRENCY}`)
  console.log(`  start RSS (after warm-up)  ${mb(startRss)} MB`)
  console.log(`  end RSS                    ${mb(endRss)} MB`)
  console.log(`  max RSS                    ${mb(maxRss)} MB`)
  console.log(`  RSS growth                 ${(((endRss - startRss) / startRss) * 100).toFixed(1)} % (end vs start)`)
  console.log(`  heapUsed start / end       ${mb(warmEnd.heapUsed)} / ${mb(heapEnd)} MB`)
  if (gcLine) console.log(`  ${gcLine}`)
  console.log(`  ops/s                      ${Math.round((done - WARMUP) / measuredSeconds).toLocaleString('en-US')} after warm-up, ` +
    `${Math.round(done / totalSeconds).toLocaleString('en-US')} overall; interval median ${Math.round(median(rates)).toLocaleString('en-US')}, ` +
    `min ${Math.round(Math.min(...rates)).toLocaleString('en-US')}, max ${Math.round(Math.max(...rates)).toLocaleString('en-US')}`)
  console.log(`  wall time                  ${totalSeconds.toFixed(1)} s (+ ${fillSeconds.toFixed(1)} s fill, ${cleanSeconds.toFixed(1)} s cleanup)`)
  console.log(`  failed calls               ${runFailures} logged, ${wrong} fallback answers`)
  if (firstFailure) console.log(`  first failure              ${firstFailure}`)
  if (lastFailure) console.log(`  last failure               ${lastFailure}`)
  console.log(`  cleanup                    ${deleted} keys deleted${cleaned ? '' : `; FAILED, keys matching *${RUN}* are left`}`)
  console.log(`  mix                        ${Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(v / done * 100).toFixed(2)}%`).join(', ')}`)
  // The embedded store's sweeper thread keeps the event loop free, but be explicit.
  process.exit(failures > 0 || wrong > 0 || !cleaned ? 1 : 0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
