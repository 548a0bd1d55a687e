'use strict'

// Private servers for the fault tests: a `redis-server` on a free port (no persistence), and a
// `digis-redis rest-server` in front of any Redis URL. Both are child processes of the jest
// worker; stop them in afterAll.
//
//   const redis = await startRedisServer()   // { port, url, ping(), command(args), kill(), restart(), stop() }
//   const rest = await startRestServer(redis.url, token)   // { url, port, stop() }
//   describeWithRedisServer('name', () => { … })            // describe, or describe.skip + a loud warning

const crypto = require('node:crypto')
const { spawn, spawnSync } = require('node:child_process')
const net = require('node:net')
const path = require('node:path')

const { freePort, ROOT } = require('../helpers')
const { encode } = require('../resp')
const REDIS_SERVER = process.env.REDIS_SERVER_BIN || 'redis-server'

let available
function redisServerAvailable() {
  if (available === undefined) {
    const probe = spawnSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' })
    available = probe.status === 0
  }
  return available
}

/** `describe(name, fn)` when redis-server is installed; otherwise a loud warning and `describe.skip`. */
function describeWithRedisServer(name, fn) {
  if (redisServerAvailable()) return describe(name, fn)
  console.warn(
    `\n${'!'.repeat(78)}\n!! SKIPPED fault tests: '${REDIS_SERVER}' is not installed (apt-get install redis-server,\n` +
      `!! or set REDIS_SERVER_BIN). These tests start their own private server.\n${'!'.repeat(78)}\n`,
  )
  return describe.skip(name, fn)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Parses one RESP2 reply at `buf[offset]`: `{ value, end }`, or null when incomplete. Errors are
 * `{ error: text }` values.
 */
function parseReply(buf, offset = 0) {
  const lineEnd = buf.indexOf('\r\n', offset)
  if (lineEnd < 0) return null
  const type = String.fromCharCode(buf[offset])
  const line = buf.toString('utf8', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, end: next }
    case '-':
      return { value: { error: line }, end: next }
    case ':':
      return { value: Number(line), end: next }
    case '$': {
      const len = Number(line)
      if (len < 0) return { value: null, end: next }
      if (buf.length < next + len + 2) return null
      return { value: buf.toString('utf8', next, next + len), end: next + len + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, end: next }
      const items = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, at)
        if (item === null) return null
        items.push(item.value)
        at = item.end
      }
      return { value: items, end: at }
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`)
  }
}

/**
 * Sends `commands` (arrays of arguments) to 127.0.0.1:`port` over a fresh raw socket; resolves
 * with their parsed replies. Independent of the package under test.
 */
function rawCommands(port, commands, { timeoutMs = 2000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let buf = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`redis on port ${port} did not answer within ${timeoutMs} ms`))
    }, timeoutMs)
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk])
      const replies = []
      let at = 0
      for (let i = 0; i < commands.length; i++) {
        const reply = parseReply(buf, at)
        if (reply === null) return
        replies.push(reply.value)
        at = reply.end
      }
      clearTimeout(timer)
      socket.end()
      resolve(replies)
    })
    socket.on('error', (err) => {
      clearTimeout(timer)
      socket.destroy()
      reject(err)
    })
    socket.write(commands.map(encode).join(''))
  })
}

/** Starts a private redis-server on a free port and waits until it answers PING. */
async function startRedisServer({ port } = {}) {
  if (!redisServerAvailable()) throw new Error(`${REDIS_SERVER} is not installed`)
  port = port || (await freePort())
  let child = null
  let output = ''

  async function launch() {
    output = ''
    child = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    const current = child
    current.stdout.on('data', (d) => (output += d))
    current.stderr.on('data', (d) => (output += d))
    current.exited = new Promise((resolve) => current.once('exit', resolve))
    const deadline = Date.now() + 10000
    for (;;) {
      if (current.exitCode !== null || current.signalCode !== null) {
        throw new Error(`redis-server on port ${port} exited at start-up:\n${output}`)
      }
      try {
        const [pong] = await rawCommands(port, [['PING']], { timeoutMs: 500 })
        if (pong === 'PONG') return
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING:\n${output}`)
      await sleep(20)
    }
  }

  /** Ends the server with `signal` and waits for the process to be gone. */
  async function end(signal) {
    const current = child
    if (!current || current.exitCode !== null || current.signalCode !== null) return
    current.kill(signal)
    await current.exited
  }

  await launch()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    /** Sends commands over a raw socket: parsed replies. */
    command: (...commands) => rawCommands(port, commands),
    ping: async () => {
      try {
        return (await rawCommands(port, [['PING']], { timeoutMs: 500 }))[0] === 'PONG'
      } catch {
        return false
      }
    },
    /** SIGKILL: the server vanishes mid-whatever, as in a crash. */
    kill: () => end('SIGKILL'),
    /** Starts it again on the same port (after kill or stop); resolves once it answers PING. */
    restart: async () => {
      await end('SIGKILL')
      await launch()
    },
    stop: () => end('SIGTERM'),
    get pid() {
      return child && child.pid
    },
  }
}

/**
 * Starts `digis-redis rest-server --port 0 --redis <redisUrl> --token <token>`; resolves with
 * `{ url, port, stop() }` once it prints its ready line.
 */
function startRestServer(redisUrl, token) {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'bin', 'digis-redis.js'), 'rest-server', '--port', '0', '--redis', redisUrl, '--token', token],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err += d))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`rest-server did not start: ${out}${err}`))
    }, 15000)
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (!match) return
      clearTimeout(timer)
      const url = match[1]
      resolve({
        url,
        port: Number(new URL(url).port),
        get stderr() {
          return err
        },
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.kill('SIGTERM')
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
          await exited
          clearTimeout(timer)
        },
      })
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`rest-server exited with ${code}: ${out}${err}`))
    })
  })
}

/**
 * For the enclosing describe: a private redis-server and a rest-server (with a random token) in
 * front of it, started in beforeAll and stopped in afterAll. `targets` maps a backend kind
 * ('redis', 'rest') to the port a client of that kind talks to; it is filled before the tests.
 */
function usePrivateServers() {
  const servers = { token: crypto.randomBytes(12).toString('hex'), targets: {} }
  beforeAll(async () => {
    servers.redis = await startRedisServer()
    servers.rest = await startRestServer(servers.redis.url, servers.token)
    servers.targets.redis = servers.redis.port
    servers.targets.rest = servers.rest.port
  }, 30000)
  afterAll(async () => {
    if (servers.rest) await servers.rest.stop()
    if (servers.redis) await servers.redis.stop()
  })
  return servers
}

module.exports = {
  usePrivateServers,
  startRedisServer,
  startRestServer,
  redisServerAvailable,
  describeWithRedisServer,
  rawCommands,
  sleep,
}
