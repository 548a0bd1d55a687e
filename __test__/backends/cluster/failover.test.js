'use strict'

// One master of a private 3-master cluster (one replica each) is killed under load: calls keep
// answering within the deadline (fallbacks, never a rejection), failures happen only between the
// kill and shortly after the replica's promotion, and afterwards every call succeeds again.
const { describeOnPrivateCluster, usePrivateCluster, failoverUnderLoad } = require('./private-cluster')
const { sleep, uniquePrefix } = require('../../helpers')

const DEADLINE_MS = 500
// Node's own scheduling on a shared machine, on top of the deadline.
const MARGIN_MS = 400
// After the promotion: the background check after a failed call finds the new master.
const RECOVERY_MS = 3000
const CALLERS = 24

describeOnPrivateCluster('failover of one master under load', () => {
  const run = usePrivateCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 }, { timeoutMs: DEADLINE_MS, breakerThreshold: 1000 })

  test('fallbacks within the deadline, failures only in the failover window, then steady state', async () => {
    const { cluster, mod, logs, unhandled } = run
    const prefix = uniquePrefix('failover')
    const keys = Array.from({ length: 60 }, (_, i) => `${prefix}:${i}`)
    expect((await mod.health()).backend).toBe('redis-cluster')
    expect(await Promise.all(keys.map((k) => mod.cache.set(k, 0, 600)))).toEqual(keys.map(() => true))

    const calls = []
    const reads = []
    const caller = async (n, running) => {
      for (let i = 0; running(); i++) {
        const key = keys[(n * 7 + i) % keys.length]
        let start = Date.now()
        // set answers false and incr null only when the call failed (their contract fallbacks).
        const ok = i % 2 === 0 ? (await mod.cache.set(key, i, 600)) === true : (await mod.cache.incr(key)) !== null
        calls.push({ start, end: Date.now(), ok })
        // Reads across every master never reject either, whatever they answer.
        start = Date.now()
        await mod.cache.mget(keys.slice(0, 10))
        reads.push(Date.now() - start)
        await sleep(5)
      }
    }
    const victim = cluster.masterOf(keys[0])
    const { downAt: killedAt, promotedAt } = await failoverUnderLoad({
      cluster,
      victim,
      key: keys[0],
      how: 'kill',
      callers: CALLERS,
      caller,
      warmMs: 1000,
      afterMs: RECOVERY_MS + 2000,
    })

    expect(unhandled).toEqual([])
    const slowest = Math.max(...calls.map((c) => c.end - c.start), ...reads)
    expect(slowest).toBeLessThanOrEqual(DEADLINE_MS + MARGIN_MS)
    const failures = calls.filter((c) => !c.ok)
    // Failed calls outside the window, as times from the kill and the promotion (the message
    // then says how far out they were).
    const outside = failures
      .filter((f) => f.end < killedAt || f.start > promotedAt + RECOVERY_MS)
      .map((f) => `started ${f.start - promotedAt} ms after the promotion (${promotedAt - killedAt} ms after the kill), took ${f.end - f.start} ms`)
    if (outside.length > 0) {
      // The failures' messages, to tell a timeout from a refused connection.
      const late = logs.errors.map((message, i) => [logs.errorsAt[i], message]).filter(([at]) => at > promotedAt + RECOVERY_MS).map(([at, message]) => `${at - promotedAt} ms: ${message}`)
      console.log(`failures after the window, as logged:\n${[...new Set(late)].slice(0, 20).join('\n')}`)
    }
    expect(outside).toEqual([])
    const steady = calls.filter((c) => c.start > promotedAt + RECOVERY_MS)
    expect(steady.length).toBeGreaterThan(CALLERS)
    expect(steady.every((c) => c.ok)).toBe(true)
    // Every key answers again, including those the dead master served.
    expect(await Promise.all(keys.map((k) => mod.cache.set(k, 'after', 60)))).toEqual(keys.map(() => true))
    expect(await mod.cache.mget(keys)).toEqual(keys.map(() => 'after'))
    console.log(
      `failover: ${calls.length} writes (${failures.length} failed) and ${reads.length} reads, slowest ${slowest} ms, ` +
        `promotion after ${promotedAt - killedAt} ms`,
    )
    await mod.cache.delPattern(`${prefix}:*`)
  }, 60000)
})
