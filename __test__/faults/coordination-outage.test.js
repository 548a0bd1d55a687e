'use strict'

// Locks, idempotency claims and cache.wrap when the server stops answering mid-flight (a fault
// proxy in `stall` mode): a held lock is reported lost at its expiry (never later, never an
// unhandled rejection), and every call answers its documented fallback within its deadline.
const { uniquePrefix } = require('../helpers')
const { usePrivateServers, describeWithRedisServer } = require('./redis-server')
const { proxiedScript, runScenario, failureLines } = require('./scenario')

const DEADLINE_MS = 300
const LOCK_TTL_MS = 600
const SLACK_MS = 250

const body = `
  process.on('unhandledRejection', (reason) => { out.unhandled = String(reason) })
  const name = P + ':job'
  out.held = await r.locks.withLock(name, { ttl: ${LOCK_TTL_MS} }, async (signal) => {
    proxy.setMode('stall')
    const stalledAt = performance.now()
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, 5000)
      signal.addEventListener('abort', () => resolve(clearTimeout(timer)), { once: true })
    })
    return { aborted: signal.aborted, code: signal.reason && signal.reason.code, afterStallMs: performance.now() - stalledAt }
  })
  out.during = {
    acquire: await timed(() => r.locks.acquire(P + ':other')),
    claim: await timed(() => r.idempotency.claim(P + ':evt')),
    claimClosed: await timed(() => r.idempotency.claim(P + ':evt', 60, { failClosed: true })),
    wrap: await timed(() => r.cache.wrap(P + ':cached', async () => 'from-loader', 60)),
  }
  proxy.setMode('pass')
  await sleep(1200) // the breaker's cool-down
  // The lost lock expired on the server: the next holder gets it, with a higher token.
  const next = await r.locks.acquire(name)
  out.next = next && next.fencingToken
  if (next) await next.release()
`

describeWithRedisServer('coordination features through an outage', () => {
  const { targets, token } = usePrivateServers()

  test.concurrent.each(['redis', 'rest'])('%s backend', async (kind) => {
    const prefix = uniquePrefix(`coord-${kind}`)
    const { code, stderr, out, exitLagMs } = await runScenario(
      proxiedScript({ kind, targetPort: targets[kind], token, prefix, body }),
      { env: { DIGIS_REDIS_TIMEOUT_MS: String(DEADLINE_MS), DIGIS_REDIS_BREAKER_COOLDOWN_MS: '1000' } },
    )
    const ms = Object.fromEntries(Object.entries(out.during).map(([op, call]) => [op, Math.round(call.ms)]))
    console.log(`${kind}: lost after ${Math.round(out.held.value.afterStallMs)} ms of stall; fallbacks in ${JSON.stringify(ms)} ms`)
    expect(code).toBe(0)
    expect(exitLagMs).toBeLessThan(1500)
    expect(out.unhandled).toBeUndefined()

    // Lost at its expiry: the extensions timed out, nothing got through.
    expect(out.held).toMatchObject({ acquired: true, lost: true, fencingToken: 1 })
    expect(out.held.value).toMatchObject({ aborted: true, code: 'ERR_LOCK_LOST' })
    expect(out.held.value.afterStallMs).toBeLessThanOrEqual(LOCK_TTL_MS + SLACK_MS)
    expect(stderr).toMatch(/locks\.withLock lost its lock \(ERR_LOCK_LOST\)/)

    // Fallbacks, each within the deadline.
    const { acquire, claim, claimClosed, wrap } = out.during
    expect([acquire.value, claim.value, claimClosed.value, wrap.value]).toEqual([null, true, false, 'from-loader'])
    for (const call of [acquire, claim, claimClosed, wrap]) expect(call.ms).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS)
    const ops = failureLines(stderr).map(([op]) => op)
    for (const op of ['locks.acquire', 'idempotency.claim', 'cache.wrap']) expect(ops).toContain(op)

    expect(out.next).toBe(2)
  }, 30000)
})
