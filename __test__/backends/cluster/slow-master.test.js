'use strict'

// One master of a private 3-master cluster stalls (SIGSTOP) for less than cluster-node-timeout,
// so no failover happens, under load from many concurrent callers. Each master has its own
// circuit breaker: calls on the stalled master's slots answer their fallback within the
// deadline (and fail fast once its circuit opens), while every call on the healthy masters
// succeeds; after the stall, every key answers again.
const { describeOnPrivateCluster, usePrivateCluster } = require('./private-cluster')
const { sleep, uniquePrefix } = require('../../helpers')

const DEADLINE_MS = 1000
const STALL_MS = 2500
// Node's own scheduling on a shared machine, on top of the deadline.
const MARGIN_MS = 600
const COOLDOWN_MS = 1000
const CALLERS = 16

describeOnPrivateCluster('one slow master', () => {
  const run = usePrivateCluster(
    { masters: 3, replicas: 0, nodeTimeoutMs: 10000 },
    { timeoutMs: DEADLINE_MS, breakerCooldownMs: COOLDOWN_MS },
  )

  test('opens only its own circuit: the healthy masters keep answering every call', async () => {
    const { cluster, mod, logs, unhandled } = run
    const prefix = uniquePrefix('slow-master')
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`)
    const portOf = new Map(keys.map((k) => [k, cluster.masterOf(k).port]))
    expect(new Set(portOf.values()).size).toBe(3)
    expect(await Promise.all(keys.map((k) => mod.cache.set(k, k, 600)))).toEqual(keys.map(() => true))
    const stalled = cluster.masterOf(keys[0])

    const slowKeys = keys.filter((k) => portOf.get(k) === stalled.port)
    const healthyKeys = keys.filter((k) => portOf.get(k) !== stalled.port)
    const calls = []
    let running = true
    // Half the callers on the stalled master's keys, half on the others: a caller waiting on
    // the stalled master does not slow down the calls to the healthy ones.
    const caller = async (n, group) => {
      for (let i = 0; running; i++) {
        const key = group[(n * 7 + i) % group.length]
        const start = Date.now()
        const value = await mod.cache.get(key)
        calls.push({ slow: group === slowKeys, ok: value === key, ms: Date.now() - start })
      }
    }
    stalled.pause()
    const load = Array.from({ length: CALLERS }, (_, n) => caller(n, n % 2 ? slowKeys : healthyKeys))
    await sleep(STALL_MS)
    stalled.resume()
    running = false
    await Promise.all(load)

    const healthy = calls.filter((c) => !c.slow)
    const slow = calls.filter((c) => c.slow)
    const summary = {
      healthy: { calls: healthy.length, failed: healthy.filter((c) => !c.ok).length },
      slow: { calls: slow.length, failed: slow.filter((c) => !c.ok).length },
      slowestMs: Math.max(...calls.map((c) => c.ms)),
    }
    console.log(`one slow master: ${JSON.stringify(summary)}`)
    // The stall really happened, and was answered with fallbacks within the deadline.
    expect(summary.slow.failed).toBeGreaterThan(0)
    expect(summary.slowestMs).toBeLessThanOrEqual(DEADLINE_MS + MARGIN_MS)
    // Healthy masters: every call succeeded (a call batched in one tick with a stalled key
    // waits for that key's share, at most the deadline, until the stalled master's circuit
    // opens), and once that circuit opened they went at full speed.
    expect(summary.healthy.failed).toBe(0)
    expect(summary.healthy.calls).toBeGreaterThan(100)
    expect(logs.errors.join('\n')).not.toMatch(/ERR_INTERNAL/)
    // The stalled master's own circuit opened, named in the log; no other circuit did.
    const opened = logs.warnings.filter((line) => /circuit open/.test(line))
    expect(opened.length).toBeGreaterThan(0)
    for (const line of opened) expect(line).toContain(`(master 127.0.0.1:${stalled.port})`)

    // After the stall (and one cool-down), every key answers again.
    await sleep(COOLDOWN_MS)
    let values = []
    for (const until = Date.now() + 5000; Date.now() < until; await sleep(100)) {
      values = await Promise.all(keys.map((k) => mod.cache.get(k)))
      if (values.every((v, i) => v === keys[i])) break
    }
    expect(values).toEqual(keys)
    expect(unhandled).toEqual([])
    await Promise.all(keys.map((k) => mod.cache.del(k)))
  }, 60000)
})
