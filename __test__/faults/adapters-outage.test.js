'use strict'

// SessionStore and RateLimitStore while the backend is down, under real express-session and
// express-rate-limit over real HTTP, through a fault proxy (see scenario.js): the session store
// tells express-session it is disconnected (requests are served without a session instead of
// failing) and reconnected once the backend is back; the rate-limit store fails open, or closed
// when asked; and sessions stored before the outage are still there after it.
const { uniquePrefix } = require('../helpers')
const { usePrivateServers, describeWithRedisServer } = require('./redis-server')
const { proxiedScript, runScenario, failureLines } = require('./scenario')

const KINDS = ['redis', 'rest']

const APP = `
  const express = require('express')
  const session = require('express-session')
  const { rateLimit } = require('express-rate-limit')
  const events = []
  const store = new r.SessionStore({ prefix: P + ':sess:' })
  store.on('disconnect', () => events.push('disconnect'))
  store.on('connect', () => events.push('connect'))
  const app = express()
  const limiter = (name, options) =>
    rateLimit({ windowMs: 60000, limit: 2, keyGenerator: () => 'client', store: new r.RateLimitStore({ prefix: P + ':' + name + ':', ...options }) })
  app.get('/open', limiter('open'), (req, res) => res.json({ ok: true }))
  app.get('/closed', limiter('closed', { failClosed: true }), (req, res) => res.json({ ok: true }))
  app.use(session({ store, secret: 's', resave: false, saveUninitialized: false }))
  app.post('/login', (req, res) => { req.session.user = 'ada'; res.json({ ok: true }) })
  app.get('/me', (req, res) => res.json({ user: req.session ? req.session.user ?? null : 'bypassed' }))
  app.use((err, req, res, next) => res.status(500).json({ error: err.code }))
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const base = 'http://127.0.0.1:' + server.address().port
  let cookie = ''
  const call = async (method, path) => {
    const res = await fetch(base + path, { method, headers: { cookie } })
    const set = res.headers.get('set-cookie')
    if (set) cookie = set.split(';')[0]
    const text = await res.text()
    return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text }
  }
`

describeWithRedisServer('express adapters during an outage', () => {
  const { targets, token } = usePrivateServers()

  test.concurrent.each(KINDS)('%s: sessions are bypassed then restored; rate limits fail open or closed', async (kind) => {
    const run = await runScenario(
      proxiedScript({
        kind,
        targetPort: targets[kind],
        token,
        prefix: uniquePrefix(`adapters-${kind}`),
        body: `
          ${APP}
          out.before = [(await call('POST', '/login')).status, (await call('GET', '/me')).body]
          proxy.setMode('cut')
          out.during = []
          for (let i = 0; i < 4; i++) out.during.push(await call('GET', '/me'))
          out.open = []
          out.closed = []
          for (let i = 0; i < 4; i++) {
            out.open.push((await call('GET', '/open')).status)
            out.closed.push((await call('GET', '/closed')).status)
          }
          out.eventsDuring = [...events]
          proxy.setMode('pass')
          const deadline = Date.now() + 10000
          while (!events.includes('connect') && Date.now() < deadline) await sleep(50)
          out.after = (await call('GET', '/me')).body
          out.events = [...events]
          server.close()
        `,
      }),
      { env: { DIGIS_REDIS_TIMEOUT_MS: '300', DIGIS_REDIS_BREAKER_COOLDOWN_MS: '200' } },
    )
    expect(run.code).toBe(0)
    expect(run.out.before).toEqual([200, { user: 'ada' }])
    // The first request meets the failure (express-session answers it with the error); from
    // then on express-session bypasses the store and the app answers without a session.
    expect(run.out.during[0].status).toBe(500)
    expect(run.out.during.slice(1)).toEqual(Array(3).fill({ status: 200, body: { user: 'bypassed' } }))
    expect(run.out.eventsDuring).toEqual(['disconnect'])
    expect(run.out.open).toEqual([200, 200, 200, 200])
    expect(run.out.closed).toEqual([429, 429, 429, 429])
    expect(run.out.events).toEqual(['disconnect', 'connect'])
    expect(run.out.after).toEqual({ user: 'ada' })
    const ops = new Set(failureLines(run.stderr).map(([op]) => op))
    expect(ops).toEqual(new Set(['SessionStore.get', 'RateLimitStore.increment']))
  })
})
