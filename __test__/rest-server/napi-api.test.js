'use strict'

// startRestServer, the JS API the CLI is built on. Loads the generated binding directly, as
// bin/digis-redis.js does (the package entry point would pick a backend and warn).

const crypto = require('node:crypto')
const { startRestServer } = require('../../binding')
const { REDIS_URL, redisUp } = require('./support')

const up = redisUp()
if (!up) {
  console.warn(`SKIPPED __test__/rest-server/napi-api.test.js (server tests): no redis at ${REDIS_URL}`)
}
const testIfRedis = up ? test : test.skip
const TOKEN = `tok-${crypto.randomBytes(12).toString('hex')}`

testIfRedis('starts on a free port, serves, and closes', async () => {
  const server = await startRestServer({ port: 0, redisUrl: REDIS_URL, token: TOKEN })
  try {
    expect(server.port).toBeGreaterThan(0)
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`)
    expect(server.redisUrl).toBe(REDIS_URL)
    const res = await fetch(`${server.url}/ping`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(await res.json()).toEqual({ result: 'PONG' })
  } finally {
    await server.close()
  }
  await server.close() // twice is harmless
  await expect(fetch(`${server.url}/ping`)).rejects.toThrow()
})

test('a Redis that is down does not prevent starting; requests answer 500 quickly', async () => {
  const server = await startRestServer({
    port: 0,
    redisUrl: 'redis://:hunter22@127.0.0.1:1',
    token: TOKEN,
    maxBodyBytes: 64,
  })
  try {
    expect(server.redisUrl).toBe('redis://:***@127.0.0.1:1')
    const started = Date.now()
    const res = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: '["PING"]',
    })
    expect(res.status).toBe(500)
    const body = await res.json()
    expect(body.error).toMatch(/^ERR cannot connect to redis/)
    expect(JSON.stringify(body)).not.toMatch(/hunter22|tok-/)
    expect(Date.now() - started).toBeLessThan(2000)
    const big = await fetch(`${server.url}/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      body: JSON.stringify(['SET', 'k', 'x'.repeat(100)]),
    })
    expect(big.status).toBe(413)
    expect(await big.json()).toEqual({ error: 'ERR request body too large (limit 64 bytes)' })
  } finally {
    await server.close()
  }
})

test('bad options reject without secrets in the message', async () => {
  const base = { port: 0, redisUrl: REDIS_URL, token: TOKEN }
  await expect(startRestServer({ ...base, port: 70000 })).rejects.toThrow(/port must be/)
  await expect(startRestServer({ ...base, token: '' })).rejects.toThrow(/token is required/)
  await expect(startRestServer({ ...base, maxBodyBytes: 0 })).rejects.toThrow(/maxBodyBytes/)
  const err = await startRestServer({ ...base, redisUrl: 'http://:hunter22@x' }).catch((e) => e)
  expect(err.message).toMatch(/^invalid redis URL/)
  expect(err.message).not.toMatch(/hunter22|tok-/)
})
