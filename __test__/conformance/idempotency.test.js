'use strict'

const mod = require('../..')
const { idempotency, redis, TTL } = mod
const { selectBackend } = require('../../lib/environment')
const { uniquePrefix, captureLogs, runNode, freePort, ROOT, backendEnv } = require('../helpers')

const P = uniquePrefix('idem')
const server = selectBackend().kind !== 'embedded'
const used = []
const eventId = (label) => {
  const id = `${P}:${label}:${used.length}`
  used.push(id)
  return id
}

let logs
beforeEach(() => {
  logs = captureLogs(mod)
})
afterEach(() => logs.restore())
afterAll(async () => {
  for (const id of used) await redis.del(`idempotency:${id}`)
})

describe('idempotency', () => {
  test('claim is true only for the first caller, for TTL.DAY by default; release reopens it', async () => {
    const id = eventId('basic')
    await expect(idempotency.claim(id)).resolves.toBe(true)
    await expect(idempotency.claim(id)).resolves.toBe(false)
    const ttl = await redis.ttl(`idempotency:${id}`)
    expect(ttl).toBeGreaterThan(TTL.DAY - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.DAY)
    await expect(idempotency.release(id)).resolves.toBe(true)
    await expect(idempotency.release(id)).resolves.toBe(false)
    await expect(idempotency.claim(id, 60)).resolves.toBe(true)
    expect(await redis.ttl(`idempotency:${id}`)).toBeLessThanOrEqual(60)
    // 0 means no expiry, as for cache.set.
    const forever = eventId('forever')
    await expect(idempotency.claim(forever, 0)).resolves.toBe(true)
    expect(await redis.ttl(`idempotency:${forever}`)).toBe(-1)
  })

  test('an expired claim can be claimed again', async () => {
    const id = eventId('expiry')
    await expect(idempotency.claim(id, 1)).resolves.toBe(true)
    await new Promise((resolve) => setTimeout(resolve, 1100))
    await expect(idempotency.claim(id, 1)).resolves.toBe(true)
  })

  test('1000 concurrent claims of one key: exactly one is first', async () => {
    const id = eventId('race')
    const results = await Promise.all(Array.from({ length: 1000 }, () => idempotency.claim(id)))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  test('bad input: logged, answers the fallback; strict mode throws TypeError', async () => {
    await expect(idempotency.claim('')).resolves.toBe(true)
    await expect(idempotency.claim(eventId('bad'), -5, { failClosed: true })).resolves.toBe(false)
    await expect(idempotency.claim(eventId('bad'), 60, { failClosed: 'yes' })).resolves.toBe(true)
    await expect(idempotency.release(null)).resolves.toBe(false)
    expect(logs.errors).toHaveLength(4)
    for (const line of logs.errors) expect(line).toMatch(/idempotency\.(claim|release) failed \(ERR_INVALID_ARGUMENT\)/)
    mod.configure({ strict: true })
    await expect(idempotency.claim({})).rejects.toThrow(TypeError)
  })

  // Run once: the answer to an unreachable backend does not depend on the backend under test.
  const onEmbedded = server ? test.skip : test
  onEmbedded('an unreachable backend: claim answers true (at least once), or false with failClosed; strict rejects', async () => {
    const port = await freePort()
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      r.configure({ timeoutMs: 300 })
      ;(async () => {
        const open = await r.idempotency.claim('evt')
        const closed = await r.idempotency.claim('evt', 60, { failClosed: true })
        r.configure({ strict: true })
        const strict = await r.idempotency.claim('evt').then(() => 'resolved', (e) => e instanceof r.DigisRedisError)
        console.log(JSON.stringify({ open, closed, strict }))
      })()
    `
    const run = await runNode(script, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
    expect(JSON.parse(run.stdout.trim())).toEqual({ open: true, closed: false, strict: true })
    expect(run.stderr.match(/idempotency\.claim failed/g)).toHaveLength(2)
    expect(run.stderr).not.toMatch(/evt/)
  })
})

const describeServer = server ? describe : describe.skip

describeServer('idempotency across processes', () => {
  test('4 processes × 50 concurrent claims of one key: exactly one is first', async () => {
    const id = eventId('procs')
    const startAt = Date.now() + 1500
    const env = backendEnv()
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      setTimeout(async () => {
        const results = await Promise.all(Array.from({ length: 50 }, () => r.idempotency.claim(${JSON.stringify(id)})))
        console.log(results.filter(Boolean).length)
      }, ${startAt} - Date.now())
    `
    const runs = await Promise.all(Array.from({ length: 4 }, () => runNode(script, { env, timeoutMs: 30000 })))
    for (const run of runs) expect(run.stderr).toBe('')
    expect(runs.map((run) => Number(run.stdout.trim())).reduce((a, b) => a + b, 0)).toBe(1)
  }, 40000)
})
