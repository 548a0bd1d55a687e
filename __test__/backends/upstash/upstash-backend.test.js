'use strict'

// What only the Upstash REST backend has: the token, HTTP-level failures and deadlines. Each
// case runs in a child process whose environment points at the server under test.
const http = require('node:http')
const { runNode, timedCall, ROOT } = require('../../helpers')

const TOKEN = 'tok-never-shown-91c2e7'
const MOD = JSON.stringify(ROOT)

/** An HTTP server answering with `handler`; resolves with its URL, the requests seen and close(). */
function httpServer(handler) {
  const requests = []
  const sockets = new Set()
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (d) => (body += d))
    req.on('end', () => {
      requests.push({ method: req.method, url: req.url, headers: req.headers, body })
      handler(req, res, body)
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        requests,
        close: () =>
          new Promise((done) => {
            for (const s of sockets) s.destroy()
            server.close(done)
          }),
      }),
    )
  })
}

describe('upstash backend', () => {
  test('sends requests the way @upstash/redis does', async () => {
    const server = await httpServer((req, res) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ result: Buffer.from('{"a":1}').toString('base64') }))
    })
    try {
      const { stdout } = await runNode(timedCall(`r.cache.get('k')`), {
        env: { UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: TOKEN },
      })
      expect(JSON.parse(stdout).value).toEqual({ a: 1 })
      const [request] = server.requests
      expect(request.method).toBe('POST')
      expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`)
      expect(request.headers['upstash-encoding']).toBe('base64')
      expect(JSON.parse(request.body)).toEqual(['GET', 'k'])
    } finally {
      await server.close()
    }
  })

  test('a wrong token answers the fallback and logs WRONGPASS, never the token', async () => {
    const server = await httpServer((req, res) => {
      res.statusCode = 401
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ error: 'WRONGPASS invalid or missing auth token' }))
    })
    try {
      const { stdout, stderr } = await runNode(timedCall(`r.testConnection()`), {
        env: { UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: TOKEN },
      })
      expect(JSON.parse(stdout).value).toBe(false)
      expect(stderr).toMatch(/testConnection failed \(ERR_\w+\): WRONGPASS/)
      expect(stderr + stdout).not.toContain(TOKEN)
    } finally {
      await server.close()
    }
  })

  test('a server that never answers is cut off at the deadline', async () => {
    const server = await httpServer(() => {})
    try {
      const { stdout, stderr } = await runNode(timedCall(`r.sessions.get('s')`), {
        env: { UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: TOKEN, DIGIS_REDIS_TIMEOUT_MS: '300' },
      })
      const { ms, value } = JSON.parse(stdout)
      expect(value).toBeNull()
      expect(ms).toBeGreaterThanOrEqual(290)
      expect(ms).toBeLessThan(900)
      expect(stderr).toMatch(/sessions\.get failed \(ERR_TIMEOUT\)/)
    } finally {
      await server.close()
    }
  })

  test('HTTP 5xx with a non-JSON body is a protocol error and the fallback', async () => {
    const server = await httpServer((req, res) => {
      res.statusCode = 502
      res.end('<html>Bad gateway</html>')
    })
    try {
      const { stdout, stderr } = await runNode(timedCall(`r.rateLimiter.check('ip', 5, 30)`), {
        env: { UPSTASH_REDIS_REST_URL: server.url, UPSTASH_REDIS_REST_TOKEN: TOKEN },
      })
      expect(JSON.parse(stdout).value).toEqual({ allowed: true, remaining: 5, reset: 30, limit: 5, retryAfter: 0 })
      expect(stderr).toMatch(/rateLimiter\.check failed \(ERR_PROTOCOL\)/)
    } finally {
      await server.close()
    }
  })

  test('an unreachable server answers the fallback quickly; the token stays out of the log', async () => {
    const server = await httpServer(() => {})
    const { url } = server
    await server.close()
    const { stdout, stderr } = await runNode(timedCall(`r.cache.set('k', { a: 1 })`), {
      env: { UPSTASH_REDIS_REST_URL: `${url}/?_token=${TOKEN}`, UPSTASH_REDIS_REST_TOKEN: TOKEN },
    })
    const { ms, value } = JSON.parse(stdout)
    expect(value).toBe(false)
    expect(ms).toBeLessThan(1500)
    expect(stderr).toMatch(/cache\.set failed \(ERR_(CONNECTION|TIMEOUT)\)/)
    expect(stderr + stdout).not.toContain(TOKEN)
  })
})
