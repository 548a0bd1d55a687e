'use strict'

// Every rate-limit check and OTP verify is one round trip. A recording proxy sits between a
// child process and the server backend under test and logs every request the client sends:
// RESP commands on the Redis protocol, HTTP requests (with their JSON bodies) on REST.
const http = require('node:http')
const net = require('node:net')
const { selectBackend } = require('../../../lib/environment')
const { runNode, uniquePrefix, ROOT } = require('../../helpers')

const selection = selectBackend()
// Not on a cluster: the recording proxy sits in front of one address, and a cluster client
// talks to every node at the addresses the cluster announces, around any proxy.
const describeServer = selection.kind === 'embedded' || selection.kind === 'cluster' ? describe.skip : describe

/** Names of the RESP commands in `buffer` (client → server), parsed incrementally. */
function respCommandNames(buffer) {
  const names = []
  let i = 0
  while (i < buffer.length) {
    if (buffer[i] !== 0x2a) break // '*'
    const lineEnd = buffer.indexOf('\r\n', i)
    const count = Number(buffer.toString('latin1', i + 1, lineEnd))
    let j = lineEnd + 2
    const parts = []
    for (let k = 0; k < count; k++) {
      const end = buffer.indexOf('\r\n', j)
      const len = Number(buffer.toString('latin1', j + 1, end))
      parts.push(buffer.toString('latin1', end + 2, end + 2 + len))
      j = end + 2 + len + 2
    }
    names.push(parts[0].toUpperCase())
    i = j
  }
  return names
}

/** A TCP proxy to Redis recording each command's name, in order. */
function recordingRedisProxy(target) {
  const seen = []
  const server = net.createServer((client) => {
    const upstream = net.connect(target)
    let pending = Buffer.alloc(0)
    client.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk])
      // Commands are small here; record once a chunk ends on a command boundary.
      try {
        seen.push(...respCommandNames(pending))
        pending = Buffer.alloc(0)
      } catch {
        // incomplete command: wait for more bytes
      }
      upstream.write(chunk)
    })
    upstream.pipe(client)
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port })))
}

/** An HTTP proxy to the REST server recording each request as `PATH first-command-names`. */
function recordingRestProxy(targetUrl) {
  const seen = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', async () => {
      try {
        const parsed = JSON.parse(body)
        const names = Array.isArray(parsed[0]) ? parsed.map((c) => String(c[0]).toUpperCase()) : [String(parsed[0]).toUpperCase()]
        seen.push(`${req.url} ${names.join(',')}`)
      } catch {
        seen.push(`${req.url} ?`)
      }
      const upstream = await fetch(new URL(req.url, targetUrl), { method: 'POST', headers: { ...req.headers, host: undefined }, body })
      res.writeHead(upstream.status, Object.fromEntries(upstream.headers))
      res.end(Buffer.from(await upstream.arrayBuffer()))
    })
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, seen, port: server.address().port })))
}

/** Requests recorded between the two PING markers the child sends. */
function between(seen) {
  const marks = seen.map((s, i) => (/PING/.test(s) ? i : -1)).filter((i) => i >= 0)
  return seen.slice(marks[0] + 1, marks[1])
}

describeServer('one round trip per check and per verify', () => {
  let proxy
  let env
  beforeAll(async () => {
    if (selection.kind === 'redis') {
      const { hostname, port } = new URL(selection.url)
      proxy = await recordingRedisProxy({ host: hostname, port: Number(port) || 6379 })
      env = { REDIS_URL: selection.url.replace(/\/\/([^/]*@)?[^/]+/, `//$1127.0.0.1:${proxy.port}`) }
    } else {
      proxy = await recordingRestProxy(selection.url)
      env = { UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${proxy.port}`, UPSTASH_REDIS_REST_TOKEN: selection.token }
    }
  })
  afterAll(() => new Promise((resolve) => proxy.server.close(resolve)))

  test.each([
    ['rateLimiter.check (token-bucket)', (id) => `r.rateLimiter.check('${id}', 100, 60)`],
    ['rateLimiter.check (sliding-window)', (id) => `r.rateLimiter.check('${id}', 100, 60, { algorithm: 'sliding-window' })`],
    ['rateLimiter.check (fixed-window)', (id) => `r.rateLimiter.check('${id}', 100, 60, { algorithm: 'fixed-window' })`],
    ['otp.verify', (id) => `r.otp.verify('${id}', '000000')`],
  ])('%s', async (_, call) => {
    const id = uniquePrefix('rtt')
    proxy.seen.length = 0
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      ;(async () => {
        await r.otp.store('${id}', '123456')
        await ${call(id)}              // loads the script into the server's cache if needed
        await r.testConnection()       // marker
        for (let i = 0; i < 3; i++) await ${call(id)}
        await r.testConnection()       // marker
        await r.rateLimiter.reset('${id}')
        await r.redis.del('otp:${id}', '{otp:${id}}:tries')
      })()
    `
    const { code, stderr } = await runNode(script, { env })
    expect(stderr).not.toMatch(/failed/)
    expect(code).toBe(0)
    const requests = between(proxy.seen)
    expect(requests).toHaveLength(3)
    for (const request of requests) expect(request).toMatch(/EVALSHA/)
  })
})
