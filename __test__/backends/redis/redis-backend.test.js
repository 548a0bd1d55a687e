'use strict'

// What only the Redis protocol backend has: its URL, deadlines against broken servers, and
// secrets kept out of every message. Each case runs in a child process whose environment
// selects the server under test.
const { runNode, timedCall, blackHole, freePort, ROOT } = require('../../helpers')

const PASSWORD = 'pw-never-shown-7f3a'
const MOD = JSON.stringify(ROOT)

describe('redis backend', () => {
  test('a refused connection answers the fallback quickly, logging no password', async () => {
    const port = await freePort()
    const { stdout, stderr, code } = await runNode(timedCall(`r.cache.get('k')`), {
      env: { REDIS_URL: `redis://app:${PASSWORD}@127.0.0.1:${port}/0` },
    })
    expect(code).toBe(0)
    const { ms, value } = JSON.parse(stdout)
    expect(value).toBeNull()
    expect(ms).toBeLessThan(1500)
    expect(stderr).toMatch(/cache\.get failed \(ERR_(CONNECTION|TIMEOUT)\)/)
    expect(stderr + stdout).not.toContain(PASSWORD)
  })

  test('a server that never answers is cut off at the deadline (DIGIS_REDIS_TIMEOUT_MS)', async () => {
    const hole = await blackHole()
    try {
      const { stdout, stderr } = await runNode(timedCall(`r.users.get(1)`), {
        env: { REDIS_URL: `redis://127.0.0.1:${hole.port}`, DIGIS_REDIS_TIMEOUT_MS: '300' },
      })
      const { ms, value } = JSON.parse(stdout)
      expect(value).toBeNull()
      expect(ms).toBeGreaterThanOrEqual(290)
      expect(ms).toBeLessThan(900)
      expect(stderr).toMatch(/users\.get failed \(ERR_TIMEOUT\)/)
    } finally {
      await hole.close()
    }
  })

  test('configure({ timeoutMs }) changes the deadline at run time; strict mode rejects with ERR_TIMEOUT', async () => {
    const hole = await blackHole()
    try {
      const { stdout } = await runNode(timedCall(`r.cache.set('k', 1)`, `r.configure({ timeoutMs: 150, strict: true })`), {
        env: { REDIS_URL: `redis://127.0.0.1:${hole.port}` },
      })
      const { error } = JSON.parse(stdout)
      expect(error.code).toBe('ERR_TIMEOUT')
      expect(error.message).toMatch(/150 ms/)
    } finally {
      await hole.close()
    }
  })

  test('an unusable REDIS_URL makes every call answer its fallback with the reason', async () => {
    const { stdout, stderr, code } = await runNode(
      `const r = require(${MOD}); Promise.all([r.testConnection(), r.cache.set('k', 1), r.rateLimiter.check('ip')]).then((v) => console.log(JSON.stringify(v)))`,
      { env: { REDIS_URL: `memcached://app:${PASSWORD}@127.0.0.1:11211` } },
    )
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual([false, false, { allowed: true, remaining: 10, reset: 60, limit: 10, retryAfter: 0 }])
    expect(stderr).toMatch(/must start with redis:\/\/ or rediss:\/\//)
    expect(stderr).not.toContain(PASSWORD)
  })

  test('a bad DIGIS_REDIS_TIMEOUT_MS is reported and ignored', async () => {
    const { stderr, stdout } = await runNode(`require(${MOD}).testConnection().then((ok) => console.log(ok))`, {
      env: { REDIS_URL: process.env.REDIS_URL, DIGIS_REDIS_TIMEOUT_MS: 'soon' },
    })
    expect(stderr).toMatch(/ignoring DIGIS_REDIS_TIMEOUT_MS must be a whole number/)
    expect(stdout.trim()).toBe('true')
  })
})
