'use strict'

// rateLimiter.middleware in a real Express app over real HTTP.
const express = require('express')
const { rateLimiter } = require('../..')
const { uniquePrefix } = require('../helpers')

const P = uniquePrefix('mw')
const identifiers = new Set()
let server
let base

beforeAll(async () => {
  const app = express()
  app.set('trust proxy', true) // so X-Forwarded-For picks the client address per test
  const keyed = (name) => (req) => {
    const id = `${P}-${name}-${req.get('x-user') || 'anon'}`
    identifiers.add(id)
    return id
  }
  app.get('/ip', rateLimiter.middleware({ limit: 2, window: 60 }), (req, res) => res.json({ ok: true }))
  app.get('/keyed', rateLimiter.middleware({ limit: 1, window: 60, key: keyed('k') }), (req, res) => res.json({ ok: true }))
  app.get('/fixed', rateLimiter.middleware({ limit: 1, window: 30, algorithm: 'fixed-window', key: keyed('f') }), (req, res) =>
    res.json({ ok: true }),
  )
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve)
  })
  base = `http://127.0.0.1:${server.address().port}`
})

afterAll(async () => {
  for (const id of identifiers) await rateLimiter.reset(id)
  for (const ip of ['198.51.100.9', '2001:db8:77:100::/56']) await rateLimiter.reset(`ip:${ip}`)
  await new Promise((resolve) => server.close(resolve))
})

const get = (path, headers = {}) => fetch(`${base}${path}`, { headers })

describe('rateLimiter.middleware', () => {
  test('draft-7 RateLimit headers on every answer, then 429 with Retry-After and the JSON body', async () => {
    const from = { 'x-forwarded-for': '198.51.100.9' }
    const first = await get('/ip', from)
    expect(first.status).toBe(200)
    expect(first.headers.get('ratelimit-policy')).toBe('2;w=60')
    expect(first.headers.get('ratelimit')).toMatch(/^limit=2, remaining=1, reset=\d+$/)
    expect((await get('/ip', from)).headers.get('ratelimit')).toMatch(/^limit=2, remaining=0, reset=\d+$/)
    const blocked = await get('/ip', from)
    expect(blocked.status).toBe(429)
    const retryAfter = Number(blocked.headers.get('retry-after'))
    expect(retryAfter).toBeGreaterThanOrEqual(29)
    expect(retryAfter).toBeLessThanOrEqual(30)
    expect(await blocked.json()).toEqual({ error: 'Too many requests', retryAfter })
    expect(blocked.headers.get('ratelimit')).toMatch(/^limit=2, remaining=0, reset=\d+$/)
  })

  test('keys by client address: IPv4-mapped addresses unwrap, IPv6 groups by /56', async () => {
    expect((await get('/ip', { 'x-forwarded-for': '2001:db8:77:1ab::1' })).status).toBe(200)
    expect((await get('/ip', { 'x-forwarded-for': '2001:db8:77:1cd::2' })).status).toBe(200)
    // Same /56 (2001:db8:77:100::/56): the third request is over the limit of 2.
    expect((await get('/ip', { 'x-forwarded-for': '2001:db8:77:1ff::3' })).status).toBe(429)
    // The mapped form of the blocked IPv4 client from the previous test is the same client.
    expect((await get('/ip', { 'x-forwarded-for': '::ffff:198.51.100.9' })).status).toBe(429)
  })

  test('a key function chooses the identifier', async () => {
    expect((await get('/keyed', { 'x-user': 'alice' })).status).toBe(200)
    expect((await get('/keyed', { 'x-user': 'alice' })).status).toBe(429)
    expect((await get('/keyed', { 'x-user': 'bob' })).status).toBe(200)
  })

  test('the algorithm option is honoured', async () => {
    expect((await get('/fixed', { 'x-user': 'carol' })).status).toBe(200)
    const blocked = await get('/fixed', { 'x-user': 'carol' })
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(25)
  })

  test('bad options throw at setup, not per request', () => {
    expect(() => rateLimiter.middleware({ limit: 0 })).toThrow(TypeError)
    expect(() => rateLimiter.middleware({ algorithm: 'leaky-bucket' })).toThrow(TypeError)
    expect(() => rateLimiter.middleware({ key: 'ip' })).toThrow(TypeError)
  })
})
