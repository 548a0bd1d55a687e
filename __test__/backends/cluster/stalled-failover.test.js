'use strict'

// One master of a private 3-master cluster (one replica each) stalls (SIGSTOP) for good under
// load: its connections stay open and nothing answers, so no call ever sees an error from it,
// only timeouts. Its replica takes over; calls on its slots must follow the new master shortly
// after the promotion (a stalled seed once held every new cluster connection, so they kept
// failing for as long as it stayed stopped). Calls on the other masters may fail too in the
// window: once the cluster marks the master failed it answers CLUSTERDOWN for every slot
// until the promotion.
const { describeOnPrivateCluster, usePrivateCluster, failoverUnderLoad } = require('./private-cluster')
const { sleep, uniquePrefix } = require('../../helpers')

const DEADLINE_MS = 500
// After the promotion: the background check (after a failed call) finds the new master, and
// the next call connects again, past the stopped seed.
const RECOVERY_MS = 3000
const CALLERS = 12

describeOnPrivateCluster('a master stalled for good, under load', () => {
  const run = usePrivateCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 }, { timeoutMs: DEADLINE_MS })

  test('calls on its slots follow the promoted replica shortly after the promotion', async () => {
    const { cluster, mod, unhandled } = run
    const prefix = uniquePrefix('stalled-failover')
    const keys = Array.from({ length: 30 }, (_, i) => `${prefix}:${i}`)
    expect(await Promise.all(keys.map((k) => mod.cache.set(k, 0, 600)))).toEqual(keys.map(() => true))
    const victim = cluster.masterOf(keys[0])
    const onVictim = new Set(keys.filter((k) => cluster.masterOf(k).port === victim.port))
    expect(onVictim.size).toBeGreaterThan(0)
    expect(onVictim.size).toBeLessThan(keys.length)

    const calls = []
    const caller = async (n, running) => {
      for (let i = 0; running(); i++) {
        const key = keys[(n * 7 + i) % keys.length]
        const start = Date.now()
        const ok = (await mod.cache.set(key, i, 600)) === true
        calls.push({ key, start, end: Date.now(), ok })
        await sleep(10)
      }
    }
    const { downAt: pausedAt, promotedAt } = await failoverUnderLoad({
      cluster,
      victim,
      key: keys[0],
      how: 'pause',
      callers: CALLERS,
      caller,
      warmMs: 500,
      afterMs: RECOVERY_MS + 2000,
    })

    expect(unhandled).toEqual([])
    const failures = calls.filter((c) => !c.ok)
    const late = failures
      .filter((f) => f.start > promotedAt + RECOVERY_MS)
      .map((f) => `${onVictim.has(f.key) ? 'its' : 'another master\'s'} key, started ${f.start - promotedAt} ms after the promotion (${promotedAt - pausedAt} ms after the stop)`)
    expect(late).toEqual([])
    const steady = calls.filter((c) => c.start > promotedAt + RECOVERY_MS)
    expect(steady.filter((c) => onVictim.has(c.key)).length).toBeGreaterThan(CALLERS)
    expect(steady.every((c) => c.ok)).toBe(true)
    expect(await Promise.all(keys.map((k) => mod.cache.set(k, 'after', 60)))).toEqual(keys.map(() => true))
    expect(await mod.cache.mget(keys)).toEqual(keys.map(() => 'after'))
    console.log(
      `stalled failover: ${calls.length} writes (${failures.length} failed), promotion after ${promotedAt - pausedAt} ms, ` +
        `last failure ${Math.max(...failures.map((f) => f.end)) - promotedAt} ms after it`,
    )
    await mod.cache.delPattern(`${prefix}:*`)
  }, 60000)
})
