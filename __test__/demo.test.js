'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')

const SERVER = path.join(__dirname, '..', 'demo', 'server.js')
const READY = /^digis-redis demo listening on (http:\/\/127\.0\.0\.1:\d+)$/m

// The demo runs on the embedded default. Empty values (not deletions) also stop dotenv from
// loading a backend from a .env file, and keep each server's data (rate-limit counters
// included) private to the process, whatever backend the test environment selects.
const EMBEDDED_ENV = { UPSTASH_REDIS_REST_URL: '', UPSTASH_REDIS_REST_TOKEN: '', KV_REST_API_URL: '', KV_REST_API_TOKEN: '', REDIS_URL: '' }

/** Starts the demo and resolves once it prints its ready line. */
function startServer(env) {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...EMBEDDED_ENV, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`demo not ready after 15 s\n${stdout}${stderr}`)), 15000)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
      const match = READY.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(match[1])
      }
    })
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`demo exited early (${code ?? signal})\n${stdout}${stderr}`))
    })
  })
  return { child, ready, exited, output: () => stdout + stderr }
}

async function stopServer(server) {
  if (!server) return null
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGTERM')
  return server.exited
}

const json = (body, token) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  body: JSON.stringify(body ?? {}),
})

describe('demo server (high rate limit)', () => {
  let server
  let base

  beforeAll(async () => {
    server = startServer({ DEMO_RATE_LIMIT: '1000' })
    base = await server.ready
  })

  afterAll(async () => {
    const { code, signal } = await stopServer(server)
    // SIGTERM is handled: the server closes and the process ends by itself with code 0.
    expect({ code, signal }).toEqual({ code: 0, signal: null })
  })

  test('health, login, streams, logout', async () => {
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ ok: true })
    expect(health.headers.get('x-ratelimit-limit')).toBe('1000')

    const login = await fetch(`${base}/login`, json({ userId: 'u-1', name: 'Ada' }))
    expect(login.status).toBe(200)
    const { sessionId } = await login.json()
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/)

    expect((await fetch(`${base}/streams/start`, json({ title: 'no token' }))).status).toBe(401)

    const start = await fetch(`${base}/streams/start`, json({ title: 'Hello live' }, sessionId))
    expect(start.status).toBe(201)
    const stream = await start.json()
    expect(stream).toMatchObject({ creatorId: 'u-1', title: 'Hello live' })

    const active = await (await fetch(`${base}/streams/active`)).json()
    expect(active).toContainEqual({ ...stream, viewers: 0 })

    const end = await fetch(`${base}/streams/${stream.streamId}/end`, json({}, sessionId))
    expect(end.status).toBe(200)
    const after = await (await fetch(`${base}/streams/active`)).json()
    expect(after.map((s) => s.streamId)).not.toContain(stream.streamId)

    expect((await fetch(`${base}/logout`, json({}, sessionId))).status).toBe(200)
    const denied = await fetch(`${base}/streams/start`, json({ title: 'after logout' }, sessionId))
    expect(denied.status).toBe(401)
  })

  test('profile is a cache MISS, then a HIT with the same body', async () => {
    const first = await fetch(`${base}/profile/42`)
    expect(first.status).toBe(200)
    expect(first.headers.get('x-cache')).toBe('MISS')
    const firstBody = await first.json()
    expect(firstBody).toMatchObject({ id: '42' })

    const second = await fetch(`${base}/profile/42`)
    expect(second.headers.get('x-cache')).toBe('HIT')
    expect(await second.json()).toEqual(firstBody)
  })

  test('creators are loaded once through cache.wrap, then answered from the cache', async () => {
    const first = await (await fetch(`${base}/creators/7`)).json()
    expect(first).toMatchObject({ id: '7', username: 'creator7' })
    const second = await (await fetch(`${base}/creators/7`)).json()
    // Same fetchedAt: the (fake) database was not asked again.
    expect(second).toEqual(first)
  })

  test('the live-stream listing is a cached response until a stream starts', async () => {
    const login = await (await fetch(`${base}/login`, json({ userId: 'u-cache' }))).json()
    // The first listing may already be cached by an earlier test; the second surely is.
    const first = await (await fetch(`${base}/streams/active`)).json()
    const hit = await fetch(`${base}/streams/active`)
    expect(hit.headers.get('x-cache')).toBe('HIT')
    expect(await hit.json()).toEqual(first)

    const stream = await (await fetch(`${base}/streams/start`, json({ title: 'Tagged' }, login.sessionId))).json()
    const fresh = await fetch(`${base}/streams/active`)
    expect(fresh.headers.get('x-cache')).toBe('MISS')
    expect((await fresh.json()).map((s) => s.streamId)).toContain(stream.streamId)
    await fetch(`${base}/streams/${stream.streamId}/end`, json({}, login.sessionId))
  })

  test('tips: concurrent tips under the wallet lock lose no update; a retried Idempotency-Key is refused', async () => {
    const { sessionId } = await (await fetch(`${base}/login`, json({ userId: 'u-tips' }))).json()
    const tips = await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/tips`, json({ amount: 5 }, sessionId))))
    const bodies = await Promise.all(tips.map((r) => r.json()))
    expect(tips.map((r) => r.status)).toEqual(Array(10).fill(200))
    // Starting balance 100: every tip saw the previous one's write.
    expect(bodies.map((b) => b.balance).sort((a, b) => a - b)).toEqual([50, 55, 60, 65, 70, 75, 80, 85, 90, 95])
    const tokens = bodies.map((b) => b.fencingToken)
    expect(new Set(tokens).size).toBe(10)

    const keyed = (key) => {
      const request = json({ amount: 1 }, sessionId)
      request.headers['idempotency-key'] = key
      return fetch(`${base}/tips`, request)
    }
    expect((await keyed('retry-1')).status).toBe(200)
    expect((await keyed('retry-1')).status).toBe(409)
    expect((await fetch(`${base}/tips`, json({ amount: 1000 }, sessionId))).status).toBe(402)
  })

  test('metrics are Prometheus text with this process\'s counts', async () => {
    const res = await fetch(`${base}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/)
    const text = await res.text()
    expect(text).toMatch(/^# TYPE \S+ counter$/m)
    expect(text).toMatch(/users/)
  })

  test('OTP: the right code verifies once', async () => {
    const email = `demo-${process.pid}@example.com`
    const request = await fetch(`${base}/otp/request`, json({ email }))
    expect(request.status).toBe(200)
    const { sent, devCode } = await request.json()
    expect(sent).toBe(true)
    expect(devCode).toMatch(/^\d{6}$/)

    const verify = await fetch(`${base}/otp/verify`, json({ email, code: devCode }))
    expect(verify.status).toBe(200)
    expect(await verify.json()).toEqual({ verified: true })

    const again = await fetch(`${base}/otp/verify`, json({ email, code: devCode }))
    expect(again.status).toBe(400)
    expect(await again.json()).toEqual({ verified: false })
  })
})

describe('demo server (rate limit 5)', () => {
  let server
  let base

  beforeAll(async () => {
    server = startServer({ DEMO_RATE_LIMIT: '5', DEMO_RATE_WINDOW: '60' })
    base = await server.ready
  })

  afterAll(async () => {
    expect(await stopServer(server)).toEqual({ code: 0, signal: null })
  })

  test('the sixth request in the window is answered 429 with Retry-After', async () => {
    for (let remaining = 4; remaining >= 0; remaining--) {
      const res = await fetch(`${base}/health`)
      expect(res.status).toBe(200)
      expect(res.headers.get('x-ratelimit-limit')).toBe('5')
      expect(res.headers.get('x-ratelimit-remaining')).toBe(String(remaining))
      await res.arrayBuffer()
    }

    const blocked = await fetch(`${base}/health`)
    expect(blocked.status).toBe(429)
    const body = await blocked.json()
    expect(body.error).toBe('Too many requests')
    expect(Number.isInteger(body.retryAfter)).toBe(true)
    expect(body.retryAfter).toBeGreaterThan(0)
    expect(body.retryAfter).toBeLessThanOrEqual(60)
    expect(blocked.headers.get('retry-after')).toBe(String(body.retryAfter))
    expect(blocked.headers.get('x-ratelimit-remaining')).toBe('0')
  })
})

describe('demo server under NODE_ENV=production without a backend', () => {
  test('starts, says what to set, answers the fallbacks (health false, login 503)', async () => {
    const server = startServer({ NODE_ENV: 'production' })
    try {
      const base = await server.ready
      const health = await fetch(`${base}/health`)
      expect(health.status).toBe(200)
      expect(await health.json()).toEqual({ ok: false })
      // The rate limiter fails open, so requests still pass.
      const login = await fetch(`${base}/login`, json({ userId: 'u-1', name: 'Ada' }))
      expect(login.status).toBe(503)
      expect(await login.json()).toEqual({ error: 'Session store unavailable' })
      expect(server.output()).toMatch(/NODE_ENV=production and no backend is configured/)
    } finally {
      await stopServer(server)
    }
  })
})
