'use strict'

// One contender's Express app, in its own process: `node server.js <contender>`. Seeds its data
// under BENCH_PREFIX, listens on an ephemeral port and prints `ready <port> <sessionId>`; SIGTERM
// closes it. The orchestrator (index.js) drives it with autocannon from another process.
const { promisify } = require('node:util')
const express = require('express')
const session = require('express-session')
const { rateLimit } = require('express-rate-limit')
const { build, threeIds, seedThree, runThree, LIMIT, SESSION_SECRET } = require('./modules')

const KEYS = 1000

async function main() {
  const contender = process.argv[2]
  const prefix = process.env.BENCH_PREFIX
  const m = await build(contender, process.env)
  const ids = threeIds(prefix, KEYS)
  await seedThree(m.three, ids)

  const app = express()
  app.set('etag', false)
  app.set('x-powered-by', false)
  let n = 0
  app.get('/three', async (req, res) => {
    const { limit, user, value } = await runThree(m.three, ids[n++ % KEYS])
    if (!limit.allowed) return res.status(429).end()
    if (user === null || value === null) return res.status(500).json({ error: 'seed missing' })
    res.json({ user: user.userId, creator: value.username, remaining: limit.remaining })
  })

  // ours-redis-near: the orchestrator reads the near cache's counters after measuring.
  if (m.nearStats) app.get('/near-stats', (req, res) => res.json(m.nearStats()))

  let sessionId = '-'
  if (m.sessionStore) {
    const store = m.sessionStore(`sess:${prefix}:`)
    sessionId = `${prefix}-sid`
    const maxAge = 86400 * 1000
    await promisify(store.set.bind(store))(sessionId, {
      cookie: { originalMaxAge: maxAge, expires: new Date(Date.now() + maxAge).toISOString(), httpOnly: true, path: '/' },
      userId: 'u1',
    })
    const limiter = rateLimit({ windowMs: 60_000, limit: LIMIT, store: m.rateLimitStore(`rl:${prefix}:`), standardHeaders: 'draft-8', legacyHeaders: false })
    const sessions = session({ store, secret: SESSION_SECRET, resave: false, saveUninitialized: false, cookie: { maxAge } })
    app.get('/express', limiter, sessions, (req, res) => {
      if (!req.session || req.session.userId !== 'u1') return res.status(500).json({ error: 'no session' })
      res.json({ user: req.session.userId })
    })
  }

  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(`ready ${server.address().port} ${sessionId}\n`)
  })
  server.keepAliveTimeout = 60_000
  process.on('SIGTERM', async () => {
    server.close()
    server.closeAllConnections()
    try {
      await m.close()
    } finally {
      process.exit(0)
    }
  })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
