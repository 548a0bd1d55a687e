'use strict'

const crypto = require('node:crypto')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.resolve(__dirname, '..')
// The package under test: the repository, or the snapshot bench/index.js takes at start (so a
// teammate's rebuild or edit in the middle of a run cannot mix versions).
const PACKAGE_DIR = process.env.BENCH_PACKAGE_DIR || ROOT
const BENCH_DIR = __dirname
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/9'
const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_URL']

/** A key prefix no other user of the database has, so cleanup deletes exactly what we made. */
function uniquePrefix() {
  return `bench:${process.pid}:${crypto.randomBytes(4).toString('hex')}`
}

/** Starts `digis-redis rest-server` in front of `redisUrl`; resolves { url, token, child, stop() }. */
function startRestServer(redisUrl, extraEnv = {}) {
  const token = crypto.randomBytes(16).toString('hex')
  const child = spawn(process.execPath, [path.join(extraEnv.BENCH_PACKAGE_DIR || PACKAGE_DIR, 'bin', 'digis-redis.js'), 'rest-server', '--port', '0', '--redis', redisUrl], {
    cwd: BENCH_DIR,
    env: { ...process.env, ...extraEnv, DIGIS_REST_TOKEN: token },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rest-server did not start: ${out}${err}`)), 20000)
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) {
        clearTimeout(timer)
        const stop = () =>
          new Promise((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done()
            child.once('exit', done)
            child.kill('SIGTERM')
          })
        resolve({ url: match[1], token, child, stop })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`rest-server exited with ${code}: ${out}${err}`))
    })
  })
}

/**
 * The environment for a child running `contender`: the inherited backend variables removed,
 * then the ones that select its backend (ours) or tell it where the server is (the JS ones).
 */
function childEnv(contender, { redisUrl, restUrl, restToken, prefix, extra = {} }) {
  const env = { ...process.env }
  for (const name of BACKEND_VARIABLES) delete env[name]
  Object.assign(env, { BENCH_REDIS_URL: redisUrl, BENCH_PREFIX: prefix }, extra)
  if (restUrl) Object.assign(env, { BENCH_REST_URL: restUrl, BENCH_REST_TOKEN: restToken })
  if (contender === 'ours-redis' || contender.startsWith('ours-redis-near')) env.REDIS_URL = redisUrl
  if (contender === 'ours-redis-thread') Object.assign(env, { REDIS_URL: redisUrl, DIGIS_REDIS_TRANSPORT: 'thread' })
  if (contender === 'ours-rest') Object.assign(env, { UPSTASH_REDIS_REST_URL: restUrl, UPSTASH_REDIS_REST_TOKEN: restToken })
  return env
}

/**
 * `configure({ nearCache })` on this package (`mod`), then waits until its tracking is live
 * (nothing is served from memory before that). Resolves { active, tracking, note }: a build
 * without the near cache (no `analytics.stats().nearCache`, or the option rejected) resolves
 * active: false with the reason, so the benchmarks still run and the report says so. A build
 * that has it but never goes live rejects: that is a product failure, not a benchmark figure.
 */
async function enableNearCache(mod, options = true, { timeoutMs = 20000 } = {}) {
  try {
    mod.configure({ nearCache: options })
  } catch (e) {
    return { active: false, tracking: null, note: `configure({ nearCache }) rejected: ${e.message}` }
  }
  const state = () => mod.analytics.stats().nearCache
  if (!state()) return { active: false, tracking: null, note: 'this build has no near cache (analytics.stats().nearCache is absent): the option was ignored' }
  const deadline = Date.now() + timeoutMs
  while (state().tracking !== 'live') {
    if (Date.now() > deadline) throw new Error(`near cache tracking not live after ${timeoutMs} ms: ${JSON.stringify(state())}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return { active: true, tracking: 'live', note: null }
}

/** The near cache's counters from `analytics.stats()`, or null on a build without one. */
function nearCacheCounters(mod) {
  const n = mod.analytics.stats().nearCache
  if (!n) return null
  const { enabled, tracking, entries, bytes, hits, misses, invalidations, evictions, announced } = n
  // announced: key changes the server told this process of, cached here or not (later builds).
  return { enabled, tracking, entries, bytes, hits, misses, invalidations, evictions, announced }
}

module.exports = { ROOT, PACKAGE_DIR, BENCH_DIR, DEFAULT_REDIS_URL, BACKEND_VARIABLES, uniquePrefix, startRestServer, childEnv, enableNearCache, nearCacheCounters }
