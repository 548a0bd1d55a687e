'use strict'

const crypto = require('node:crypto')
const net = require('node:net')
const { spawn } = require('node:child_process')
const path = require('node:path')

const ROOT = path.resolve(__dirname, '..')
const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_CLUSTER_URLS', 'REDIS_URL']

/** This process's backend variables, to give a child process the same backend. */
function backendEnv() {
  return Object.fromEntries(BACKEND_VARIABLES.filter((name) => process.env[name]).map((name) => [name, process.env[name]]))
}

/**
 * Runs `script` in a fresh Node process whose backend comes only from `env` (the inherited
 * backend variables are removed). Resolves with { code, stdout, stderr, ms }.
 */
function runNode(script, options) {
  return runNodeArgs(['-e', script], options)
}

/** `runNode` for a command line: node with `args` (a script file and its arguments). */
function runNodeArgs(args, { env = {}, cwd = ROOT, timeoutMs = 15000 } = {}) {
  const childEnv = { ...process.env }
  for (const name of BACKEND_VARIABLES) delete childEnv[name]
  Object.assign(childEnv, env)
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child did not exit within ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.once('exit', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: Date.now() - started })
    })
  })
}

/** A prefix no other test file (or earlier run) uses, so tests can share one server. */
function uniquePrefix(label) {
  return `t:${label}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`
}

/** Collects what the module logs, via configure({ logger }); `restore()` puts console back. */
function captureLogs(mod) {
  const errors = []
  // When each error was logged (Date.now()), at the same index as `errors`.
  const errorsAt = []
  const warnings = []
  mod.configure({
    logger: {
      error: (message) => {
        errors.push(message)
        errorsAt.push(Date.now())
      },
      warn: (message) => warnings.push(message),
    },
  })
  return {
    errors,
    errorsAt,
    warnings,
    clear() {
      errors.length = 0
      errorsAt.length = 0
      warnings.length = 0
    },
    restore() {
      mod.configure({ logger: console, strict: false })
    },
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A child-process script (for runNode) that loads the package, runs `setup`, times `call` and
 * prints `{ ms, value }` or `{ error: { code, message } }` as JSON.
 */
const timedCall = (call, setup = '') => `
  const r = require(${JSON.stringify(ROOT)})
  ${setup}
  const started = process.hrtime.bigint()
  ${call}.then((value) => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    console.log(JSON.stringify({ ms, value }))
  }, (err) => console.log(JSON.stringify({ error: { code: err.code, message: err.message } })))
`

/** A TCP server that accepts connections and never answers (a hung server): `{ port, close() }`. */
function blackHole() {
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy()
            server.close(done)
          }),
      }),
    )
  })
}

/** A port nothing listens on (free when asked). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

module.exports = { uniquePrefix, captureLogs, sleep, runNode, runNodeArgs, backendEnv, timedCall, blackHole, freePort, ROOT }

/**
 * The exact text stored under `key`. The raw client JSON-parses replies (as @upstash/redis
 * does), so append a suffix no JSON text can end with, read, strip it, and put the text back.
 */
async function storedText(redis, key) {
  await redis.append(key, '~')
  const text = String(await redis.get(key)).slice(0, -1)
  await redis.set(key, text, { keepTtl: true })
  return text
}

/** A fresh numeric id, for checking that number and string ids address the same key. */
function uniqueNumber() {
  return Number(`${Date.now() % 1e9}${Math.floor(Math.random() * 1e5)}`)
}

module.exports.storedText = storedText
module.exports.uniqueNumber = uniqueNumber
