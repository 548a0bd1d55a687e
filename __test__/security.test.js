'use strict'

// Secrets never leave the process: a failing run with a known token and password is captured
// whole (stdout and stderr, logs, errors, health(), inspect() and toString() output) and searched.
const http = require('node:http')
const { runNode, ROOT } = require('./helpers')

const PASSWORD = 'S3cr3t-Passw0rd-x9'
const TOKEN = 'AXtokenSECRETvalue42'

/** Exercises everything that can print: failing calls, strict errors, health, inspect. */
const SCRIPT = `
  const util = require('node:util')
  const r = require(${JSON.stringify(ROOT)})
  ;(async () => {
    await r.cache.set('k', { a: 1 })
    await r.cache.get('k')
    await r.otp.verify('someone@example.com', '123456')
    await r.sessions.get('session-id-0123456789abcdef')
    await r.rateLimiter.check('1.2.3.4')
    for (let i = 0; i < 6; i++) await r.users.get(i)            // trips the breaker
    console.log(JSON.stringify(await r.health()))
    console.log(util.inspect(r, { depth: 8, showHidden: true }))
    console.log(String(r.redis), util.inspect(r.redis, { showHidden: true, depth: 8 }))
    r.configure({ strict: true })
    for (const call of [() => r.cache.get('k'), () => r.redis.get('k'), () => r.redis.pipeline().get('k').exec()]) {
      try { await call() } catch (err) { console.log(err.message); console.log(err.stack); console.log(util.inspect(err)) }
    }
  })()
`

function blackHoleHttp(status) {
  const server = http.createServer((req, res) => {
    res.statusCode = status
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ error: 'WRONGPASS invalid or missing auth token' }))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)))
}

describe('secrets in a failing run', () => {
  test('the Redis password appears nowhere', async () => {
    const { stdout, stderr, code } = await runNode(SCRIPT, {
      env: { REDIS_URL: `redis://app:${PASSWORD}@127.0.0.1:1/0`, DIGIS_REDIS_TIMEOUT_MS: '200' },
    })
    const output = stdout + stderr
    expect(code).toBe(0)
    expect(output).toMatch(/failed \(ERR_/)
    expect(output).toMatch(/redis:\/\/app:\*\*\*@127\.0\.0\.1:1\/0/)
    expect(output).not.toContain(PASSWORD)
    expect(output).not.toContain(encodeURIComponent(PASSWORD))
  })

  test('the Upstash token appears nowhere (bearer header, URL query, errors)', async () => {
    const server = await blackHoleHttp(401)
    try {
      const url = `http://127.0.0.1:${server.address().port}/?_token=${TOKEN}`
      const { stdout, stderr, code } = await runNode(SCRIPT, {
        env: { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: TOKEN },
      })
      const output = stdout + stderr
      expect(code).toBe(0)
      expect(output).toMatch(/WRONGPASS/)
      expect(output).not.toContain(TOKEN)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  test('a password in the user position (redis://PASSWORD@host) appears nowhere', async () => {
    const { stdout, stderr, code } = await runNode(SCRIPT, {
      env: { REDIS_URL: `redis://${PASSWORD}@127.0.0.1:1/0`, DIGIS_REDIS_TIMEOUT_MS: '200' },
    })
    const output = stdout + stderr
    expect(code).toBe(0)
    expect(output).toContain('[digis-redis raw client: redis redis://***@127.0.0.1:1/0]')
    expect(output).not.toContain(PASSWORD)
  })

  test('one-time codes and session ids are not logged', async () => {
    const { stdout, stderr } = await runNode(SCRIPT, {
      env: { REDIS_URL: 'redis://127.0.0.1:1/0', DIGIS_REDIS_TIMEOUT_MS: '200' },
    })
    const output = stdout + stderr
    expect(output).not.toContain('123456')
    expect(output).not.toContain('session-id-0123456789abcdef')
    expect(output).not.toContain('someone@example.com')
  })
})
