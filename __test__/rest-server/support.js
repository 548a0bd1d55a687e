'use strict'

// Shared by the rest-server tests: is a Redis up, and a `digis-redis rest-server` child process.

const { spawn, spawnSync } = require('node:child_process')
const path = require('node:path')

const BIN = path.resolve(__dirname, '..', '..', 'bin', 'digis-redis.js')
// `REDIS_TEST_URL` as `npm test` takes it, or the Redis at 127.0.0.1:6379.
const REDIS_URL = process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379'
const REDIS_ADDRESS = new URL(REDIS_URL)
// `(redis <url>)`, or with --embedded `(embedded store: …)` (then `redis` is undefined).
const READY = /^digis-redis rest-server listening on (http:\/\/\S+) \((?:redis (\S+)|embedded store: [^)]*)\)$/

/**
 * Whether a Redis answers PING at REDIS_URL. Synchronous (a child process), because jest
 * decides between describe and describe.skip while collecting tests.
 */
function redisUp() {
  const probe = `
    const s = require('net').connect(${Number(REDIS_ADDRESS.port) || 6379}, ${JSON.stringify(REDIS_ADDRESS.hostname)})
    s.setTimeout(1000, () => process.exit(1))
    s.on('error', () => process.exit(1))
    s.on('connect', () => s.write('PING\\r\\n'))
    s.on('data', (d) => process.exit(String(d).startsWith('+PONG') ? 0 : 1))
  `
  return spawnSync(process.execPath, ['-e', probe], { timeout: 3000 }).status === 0
}

/**
 * Starts the CLI and resolves once it printed its ready line:
 * `{ child, url, line, stdout(), stderr(), exited }` (`exited` resolves with `{ code, signal }`).
 */
function startCli(args, env = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`rest-server printed no ready line; stdout: ${out}; stderr: ${err}`))
    }, 15000)
    child.stderr.on('data', (chunk) => {
      err += chunk
    })
    child.stdout.on('data', (chunk) => {
      out += chunk
      const line = out.split('\n')[0]
      const match = out.includes('\n') && READY.exec(line)
      if (match) {
        clearTimeout(timer)
        resolve({ child, url: match[1], redis: match[2], line, stdout: () => out, stderr: () => err, exited })
      }
    })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`rest-server exited (${code ?? signal}) before ready; stderr: ${err}`))
    })
  })
}

/** Runs the CLI to completion: `{ code, stdout, stderr }`. */
function runCli(args, env = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 15000,
  })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** SIGTERM (or `signal`) and wait for the exit. */
async function stopCli(server, signal = 'SIGTERM') {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill(signal)
  return server.exited
}

module.exports = { BIN, REDIS_URL, READY, redisUp, startCli, runCli, stopCli }
