'use strict'

// A small Express 5 backend wired to digis-redis exactly as the original app uses utils/redis:
// sessions, profile caching, live streams, OTP login codes and per-IP rate limiting; plus the
// design document's next steps: cache-aside (cache.wrap), a response cache, locks, idempotent
// tips and cache analytics.
// Run: node demo/server.js   (PORT=0 picks a free port; DEMO_RATE_LIMIT / DEMO_RATE_WINDOW tune
// the limiter). With no UPSTASH_* / REDIS_URL set it runs on the embedded in-process store.

const crypto = require('node:crypto')
const http = require('node:http')
const express = require('express')
const { sessions, users, streams, rateLimiter, otp, tokens, cache, locks, idempotency, cacheResponse, analytics, testConnection, TTL } = require('..')

const RATE_LIMIT = positiveInt(process.env.DEMO_RATE_LIMIT, 30)
const RATE_WINDOW = positiveInt(process.env.DEMO_RATE_WINDOW, 60)
const PORT = process.env.PORT === undefined || process.env.PORT === '' ? 3000 : Number(process.env.PORT)

function positiveInt(text, fallback) {
  const n = Number(text)
  return Number.isInteger(n) && n > 0 ? n : fallback
}

// Stands in for the database the caches save queries to.
const fakeDatabase = {
  startingBalance: 100,
  async creator(id) {
    return { id, username: `creator${id}`, displayName: `Demo Creator ${id}`, pricePerMinute: 2, fetchedAt: new Date().toISOString() }
  },
}

const app = express()
app.use(express.json())

// The design document's rate-limit middleware. The limiter never rejects (it fails open on a
// cache outage), so no try/catch is needed, just as in the original routes.
app.use(async (req, res, next) => {
  const result = await rateLimiter.check(`api:${req.ip}`, RATE_LIMIT, RATE_WINDOW)
  res.set({
    'X-RateLimit-Limit': String(RATE_LIMIT),
    'X-RateLimit-Remaining': String(result.remaining),
    'X-RateLimit-Reset': String(result.reset),
  })
  if (!result.allowed) {
    res.set('Retry-After', String(result.reset))
    return res.status(429).json({ error: 'Too many requests', retryAfter: result.reset })
  }
  next()
})

// Bearer-token sessions: the session id is the token; each use slides its expiry.
async function authenticate(req, res, next) {
  const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') || '')
  const session = match ? await sessions.get(match[1]) : null
  if (!session) return res.status(401).json({ error: 'Not authenticated' })
  await sessions.refresh(match[1])
  req.sessionId = match[1]
  req.user = session
  next()
}

const isNonEmptyString = (v) => typeof v === 'string' && v.length > 0

app.post('/login', async (req, res) => {
  const { userId, name } = req.body || {}
  if (!isNonEmptyString(userId) && !Number.isFinite(userId)) return res.status(400).json({ error: 'userId is required' })
  const sessionId = crypto.randomUUID()
  const stored = await sessions.store(sessionId, { userId: String(userId), name: name ?? null, createdAt: new Date() })
  if (!stored) return res.status(503).json({ error: 'Session store unavailable' })
  res.json({ sessionId })
})

app.post('/logout', authenticate, async (req, res) => {
  await sessions.destroy(req.sessionId)
  res.json({ loggedOut: true })
})

app.get('/profile/:id', async (req, res) => {
  const { id } = req.params
  let profile = await users.get(id)
  res.set('X-Cache', profile ? 'HIT' : 'MISS')
  if (!profile) {
    // Stands in for the database query the cache saves.
    profile = { id, username: `user${id}`, displayName: `Demo User ${id}`, bio: 'Fetched from the (fake) database', fetchedAt: new Date().toISOString() }
    await users.cache(id, profile)
  }
  res.json(profile)
})

// Cache-aside with stampede protection: one loader call per creator across every instance, and
// a stale profile is served at once while one caller refreshes it.
app.get('/creators/:id', async (req, res) => {
  const { id } = req.params
  const creator = await cache.wrap(`creator:${id}`, () => fakeDatabase.creator(id), TTL.MEDIUM, { staleTtl: TTL.SHORT })
  res.json(creator)
})

// Tips move tokens between wallets: the sender's wallet is locked for the read-modify-write, and
// an Idempotency-Key header makes a retried request a no-op instead of a second payment.
app.post('/tips', authenticate, async (req, res) => {
  const amount = req.body?.amount
  if (!Number.isSafeInteger(amount) || amount <= 0) return res.status(400).json({ error: 'amount must be a positive integer' })
  const key = req.get('idempotency-key')
  if (key && !(await idempotency.claim(`tip:${req.user.userId}:${key}`))) {
    return res.status(409).json({ error: 'Duplicate request (Idempotency-Key already used)' })
  }
  const outcome = await locks.withLock(`wallet:${req.user.userId}`, { ttl: 5000, wait: 2000 }, async () => {
    const balance = Number((await tokens.getBalance(req.user.userId)) ?? fakeDatabase.startingBalance)
    if (balance < amount) return { ok: false, balance }
    await tokens.cacheBalance(req.user.userId, balance - amount, TTL.DAY)
    return { ok: true, balance: balance - amount }
  })
  if (!outcome.acquired) {
    if (key) await idempotency.release(`tip:${req.user.userId}:${key}`)
    return res.status(503).json({ error: 'Wallet busy, try again' })
  }
  if (!outcome.value.ok) return res.status(402).json({ error: 'Insufficient tokens', balance: outcome.value.balance })
  res.json({ tipped: amount, balance: outcome.value.balance, fencingToken: outcome.fencingToken })
})

app.post('/streams/start', authenticate, async (req, res) => {
  const streamId = crypto.randomUUID()
  const title = isNonEmptyString(req.body?.title) ? req.body.title : 'Untitled stream'
  const stream = { streamId, creatorId: req.user.userId, title, startedAt: new Date().toISOString() }
  if (!(await streams.setActive(streamId, stream))) return res.status(503).json({ error: 'Stream registry unavailable' })
  await cache.invalidateTag('streams')
  res.status(201).json(stream)
})

app.post('/streams/:id/end', authenticate, async (req, res) => {
  const stream = await streams.getActive(req.params.id)
  if (!stream) return res.status(404).json({ error: 'No such live stream' })
  if (stream.creatorId !== req.user.userId) return res.status(403).json({ error: 'Not your stream' })
  await streams.removeActive(req.params.id)
  await cache.invalidateTag('streams')
  res.json({ ended: true, streamId: req.params.id })
})

// The listing is answered from the response cache (X-Cache: HIT) until a stream starts or ends.
app.get('/streams/active', cacheResponse({ ttl: 5, tags: ['streams'] }), async (req, res) => {
  res.json(await streams.getAllActive())
})

app.post('/otp/request', async (req, res) => {
  const email = req.body?.email
  if (!isNonEmptyString(email)) return res.status(400).json({ error: 'email is required' })
  // A fresh 6-digit code from the CSPRNG; a resend replaces the old one and its guess count.
  const code = await otp.generate(email)
  if (!code) return res.status(503).json({ error: 'Could not store the code' })
  // Demo only: a real backend emails the code and never returns it.
  res.json({ sent: true, devCode: code })
})

app.post('/otp/verify', async (req, res) => {
  const { email, code } = req.body || {}
  if (!isNonEmptyString(email) || (typeof code !== 'string' && typeof code !== 'number')) {
    return res.status(400).json({ error: 'email and code are required' })
  }
  const verified = await otp.verify(email, code)
  res.status(verified ? 200 : 400).json({ verified })
})

app.get('/health', async (req, res) => {
  res.json({ ok: await testConnection() })
})

// Hits, misses, latencies and rate-limit decisions of this process, for Prometheus.
app.get('/metrics', (req, res) => {
  res.type('text/plain; version=0.0.4').send(analytics.prometheus())
})

// JSON errors (malformed bodies included) instead of Express's HTML page.
app.use((err, req, res, next) => {
  const status = err.status || err.statusCode || 500
  if (status >= 500) console.error(err)
  res.status(status).json({ error: status >= 500 ? 'Internal error' : err.message })
})

const server = http.createServer(app)
server.on('error', (err) => {
  console.error(`digis-redis demo: ${err.message}`)
  process.exit(1)
})
server.listen(PORT, '127.0.0.1', () => {
  console.log(`digis-redis demo listening on http://127.0.0.1:${server.address().port}`)
})

function shutdown() {
  server.close()
  // Keep-alive clients would otherwise hold close() open.
  server.closeAllConnections()
  // A last resort should anything else keep the loop alive; unref'd so it never delays exit.
  setTimeout(() => process.exit(0), 3000).unref()
}
process.once('SIGINT', shutdown)
process.once('SIGTERM', shutdown)
