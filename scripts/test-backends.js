#!/usr/bin/env node
'use strict'

// Type-checks the public types (__test__/types), then runs the jest suite once per backend:
// embedded (every test file), then the Redis protocol (its socket on Node's loop, then the
// conformance suite again on the I/O thread), Upstash REST (through a `digis-redis
// rest-server` started here) and Redis Cluster (a private cluster started here) for the
// conformance suite and the backend-specific files. The backend comes from the environment, as
// in production.

const { spawn, spawnSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

const { startCluster, clusterToolsAvailable } = require('../__test__/backends/cluster/cluster')

const ROOT = path.resolve(__dirname, '..')
const JEST = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js')
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
// Database 9 keeps the suite's keys away from anything else on a shared server.
const REDIS_URL = process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379/9'
const SHARED_FILES = ['__test__/conformance', '__test__/module-shape.test.js', '__test__/test-redis-script.test.js', '__test__/backends/servers']
// The near cache's correctness tests (issue 18): Redis and Cluster (private servers they start, or
// this run's cluster), and the TTL-only near cache on Upstash REST; each file skips elsewhere.
const NEAR_CACHE = '__test__/backends/near-cache'
const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_CLUSTER_URLS', 'REDIS_URL']

function redisReachable(url) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379 })
    socket.setTimeout(1000)
    socket.once('connect', () => {
      socket.end('PING\r\n')
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/**
 * Starts `digis-redis rest-server` on a free port, in front of `store` (`['--redis', url]` or
 * `['--embedded']`); resolves with its URL and a stop().
 */
function startRestServer(store, token) {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'digis-redis.js'), 'rest-server', '--port', '0', ...store, '--token', token, '--max-body-bytes', String(64 * 1024 * 1024)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`rest-server did not start: ${out}`)), 15000)
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) {
        clearTimeout(timer)
        resolve({
          url: match[1],
          stop: () =>
            new Promise((done) => {
              child.once('exit', done)
              child.kill('SIGTERM')
            }),
        })
      }
    })
    child.once('exit', (code) => reject(new Error(`rest-server exited with ${code}: ${out}`)))
  })
}

/** The public types, compiled as an application would (`__test__/types`): ok or not. */
function typeCheck() {
  console.log('\n=== tsc --noEmit -p __test__/types ===\n')
  const result = spawnSync(process.execPath, [TSC, '--noEmit', '-p', path.join('__test__', 'types')], { cwd: ROOT, stdio: 'inherit' })
  return result.status === 0
}

/** Server runs go file by file: their tests share one server and read its command counters. */
function runJest(label, env, files) {
  const report = path.join(os.tmpdir(), `digis-redis-jest-${process.pid}-${label}.json`)
  console.log(`\n=== jest on the ${label} backend ===\n`)
  const serial = label === 'embedded' ? [] : ['--runInBand']
  const result = spawnSync(process.execPath, [JEST, ...serial, '--json', `--outputFile=${report}`, ...files], {
    cwd: ROOT,
    env,
    stdio: 'inherit',
  })
  let counts = { passed: 0, failed: 0, skipped: 0 }
  try {
    const json = JSON.parse(fs.readFileSync(report, 'utf8'))
    counts = { passed: json.numPassedTests, failed: json.numFailedTests, skipped: json.numPendingTests }
    fs.rmSync(report, { force: true })
  } catch {
    counts.failed = 1
  }
  return { label, ok: result.status === 0, ...counts }
}

async function main() {
  const baseEnv = { ...process.env }
  for (const name of BACKEND_VARIABLES) delete baseEnv[name]
  const typesOk = typeCheck()
  // Every file once on the embedded store; backends/ holds what only server backends have.
  const results = [runJest('embedded', baseEnv, ['--testPathIgnorePatterns', '/__test__/backends/'])]

  if (await redisReachable(REDIS_URL)) {
    results.push(runJest('redis', { ...baseEnv, REDIS_URL, REDIS_TEST_URL: REDIS_URL }, [...SHARED_FILES, '__test__/backends/redis', NEAR_CACHE]))
    // The same server with its socket on the addon's I/O thread instead of Node's loop (what
    // TLS, Bun and Deno use): the conformance suite again.
    results.push(
      // The near cache's cross-process file too: the I/O thread answers reads while Node's
      // thread issues writes, where a placeholder taken late once kept a value a write replaced.
      runJest('redis-thread', { ...baseEnv, REDIS_URL, REDIS_TEST_URL: REDIS_URL, DIGIS_REDIS_TRANSPORT: 'thread' }, [
        '__test__/conformance',
        '__test__/module-shape.test.js',
        `${NEAR_CACHE}/cross-process.test.js`,
      ]),
    )
    const token = crypto.randomBytes(16).toString('hex')
    const server = await startRestServer(['--redis', REDIS_URL], token)
    try {
      results.push(
        runJest(
          'upstash',
          { ...baseEnv, UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: token, REDIS_TEST_URL: REDIS_URL },
          [...SHARED_FILES, '__test__/backends/upstash', NEAR_CACHE],
        ),
      )
    } finally {
      await server.stop()
    }
  } else {
    const reason = `no Redis answers at ${REDIS_URL} (start redis-server, or set REDIS_TEST_URL)`
    console.error(`\n${'!'.repeat(78)}\n!! SKIPPED the redis and upstash backends: ${reason}\n${'!'.repeat(78)}\n`)
    if (process.env.CI) {
      console.error('CI must run every backend: failing.')
      process.exitCode = 1
    }
  }

  // The conformance suite through `rest-server --embedded`: the local Upstash needs no Redis.
  const token = crypto.randomBytes(16).toString('hex')
  const local = await startRestServer(['--embedded'], token)
  try {
    results.push(runJest('upstash-embedded', { ...baseEnv, UPSTASH_REDIS_REST_URL: local.url, UPSTASH_REDIS_REST_TOKEN: token }, ['__test__/conformance']))
  } finally {
    await local.stop()
  }

  // Redis Cluster: a private 3-master cluster (one replica each) on free ports, for this run only.
  if (clusterToolsAvailable()) {
    const cluster = await startCluster({ masters: 3, replicas: 1 })
    try {
      results.push(runJest('cluster', { ...baseEnv, REDIS_CLUSTER_URLS: cluster.urls.join(',') }, [...SHARED_FILES, '__test__/backends/cluster', NEAR_CACHE]))
    } finally {
      await cluster.stop()
    }
  } else {
    console.error(`\n${'!'.repeat(78)}\n!! SKIPPED the redis-cluster backend: redis-server / redis-cli are not installed\n${'!'.repeat(78)}\n`)
    if (process.env.CI) {
      console.error('CI must run every backend: failing.')
      process.exitCode = 1
    }
  }

  console.log('\n=== summary ===')
  console.log(`${'types'.padEnd(16)} ${typesOk ? 'ok  ' : 'FAIL'} tsc --noEmit -p __test__/types`)
  for (const r of results) {
    console.log(`${r.label.padEnd(16)} ${r.ok ? 'ok  ' : 'FAIL'} ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped`)
  }
  const passed = results.reduce((n, r) => n + r.passed, 0)
  const failed = results.reduce((n, r) => n + r.failed, 0)
  console.log(`jest: ${passed} passed, ${failed} failed`)
  if (!typesOk || results.some((r) => !r.ok)) process.exitCode = 1
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
