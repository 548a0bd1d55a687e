'use strict'

// Issue 18, item 4, on a private Redis Cluster (3 masters, one replica each): FLUSHALL on every
// master, or on one, drops A's entries for the keys that master held; a failover (the master
// killed, its replica promoted; or a manual CLUSTER FAILOVER, the old master still up) leaves no
// stale read after the promotion, and invalidation works on the new master. The cross-process
// test runs on the runner's cluster in cross-process.test.js.
const IORedis = require('ioredis')
const { selectBackend } = require('../../../lib/environment')
const { startCluster, clusterToolsAvailable } = require('../cluster/cluster')
const { uniquePrefix, sleep } = require('../../helpers')
const { VISIBLE_MS, loadModule, near, waitLive, twentyKeys, expectSeen, readAll, pollUntilSeen, turnOff, warmFrom } = require('./near')

const onCluster = selectBackend().kind === 'cluster' && clusterToolsAvailable()
const describeCluster = onCluster ? describe : describe.skip


describeCluster('near cache on a cluster: flushes and failovers', () => {
  let cluster
  let A
  let io

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, replicas: 1, nodeTimeoutMs: 1000 })
    io = new IORedis.Cluster(cluster.urls.map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) })), {
      clusterRetryStrategy: () => 100,
    })
    A = loadModule({ REDIS_CLUSTER_URLS: cluster.urls.join(',') })
    // The failovers fail calls on purpose; their log lines are noise.
    A.configure({ nearCache: true, timeoutMs: 500, breakerThreshold: 1000, logger: null })
    await waitLive(A)
  }, 90000)

  afterAll(async () => {
    turnOff(A)
    io?.disconnect()
    await cluster?.stop()
  })

  /** Writes version `n` with ioredis, retrying while the cluster changes hands (failover). */
  async function ioWrite(entries, n, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs
    for (const e of entries) {
      for (;;) {
        try {
          await io.set(e.key, e.text(n))
          break
        } catch (err) {
          if (Date.now() > deadline) throw err
          await sleep(100)
        }
      }
    }
  }

  const warm = (entries, n) => warmFrom(A, ioWrite, entries, n)

  /** A new write must reach A within VISIBLE_MS: tracking works on whichever master holds each key. */
  async function expectTracking(entries, n) {
    const writtenAt = Date.now()
    await ioWrite(entries, n)
    const { seenAt } = await pollUntilSeen(A, entries, (e) => e.value(n), { timeoutMs: 5000 })
    const late = entries.map((e, k) => ({ key: e.key, delayMs: seenAt[k] === undefined ? Infinity : seenAt[k] - writtenAt })).filter((d) => !(d.delayMs < VISIBLE_MS))
    expect(late).toEqual([])
  }

  const portOf = (key) => cluster.masterOf(key).port

  /**
   * Resolves once A's tracking is live on exactly `masters`. Live alone is not enough after a
   * failover: A may still be live on the old masters (the old one, now a replica, relays the
   * changes it replicates) until its next check of the masters re-tracks, flushing its entries.
   */
  async function trackingOn(masters, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs
    while (!(near(A).tracking === 'live' && JSON.stringify(near(A).trackedServers) === JSON.stringify(masters))) {
      if (Date.now() > deadline) throw new Error(`tracking not live on ${masters} after ${timeoutMs} ms: ${JSON.stringify(near(A))}`)
      await sleep(20)
    }
  }

  test('FLUSHALL on every master, then on one master: the flushed keys read null within 100 ms', async () => {
    const entries = twentyKeys(uniquePrefix('near-cflush'))
    await warm(entries, 1)
    const masters = [...new Set(entries.map((e) => portOf(e.key)))]
    expect(masters.length).toBeGreaterThan(1) // the keys span masters

    let flushedAt = Date.now()
    await Promise.all(io.nodes('master').map((node) => node.flushall()))
    const nulls = await pollUntilSeen(A, entries, () => null, { timeoutMs: 5000 })
    expect(Math.max(...nulls.seenAt.map((t) => (t === undefined ? Infinity : t - flushedAt)))).toBeLessThan(VISIBLE_MS)

    await warm(entries, 2)
    const victim = masters[0]
    // Which keys the flushed master holds, asked before the clock starts (redis-cli is slow).
    const onVictim = new Set(entries.filter((e) => portOf(e.key) === victim))
    expect(onVictim.size).toBeGreaterThan(0)
    const node = io.nodes('master').find((n) => n.options.port === victim)
    flushedAt = Date.now()
    await node.flushall()
    const { seenAt } = await pollUntilSeen(A, entries, (e) => (onVictim.has(e) ? null : e.value(2)), { timeoutMs: 5000 })
    expect(Math.max(...seenAt.map((t) => (t === undefined ? Infinity : t - flushedAt)))).toBeLessThan(VISIBLE_MS)
    await expectTracking(entries, 3)
  }, 60000)

  /**
   * A reads all the time from before `failover()` until it answers every key with version 2
   * (written once the new master serves); no read started after that write returns version 1.
   */
  async function noStaleAcross(label, failover) {
    const entries = twentyKeys(uniquePrefix(label))
    await warm(entries, 1)
    let newDataAt = Infinity
    let reading = true
    const judged = []
    const reader = (async () => {
      while (reading) {
        // performance.now(), not Date.now(): a read issued in the same millisecond as, but
        // before, the write's acknowledgement must not count as started after it.
        const startedAt = performance.now()
        const values = await readAll(A, entries)
        if (startedAt >= newDataAt) judged.push({ startedAt, values })
        await sleep(2)
      }
    })()
    try {
      await failover(entries)
      await ioWrite(entries, 2)
      newDataAt = performance.now()
      let settled = false
      for (const until = Date.now() + 20000; Date.now() < until && !settled; await sleep(20)) {
        const last = judged.at(-1)
        settled = last !== undefined && JSON.stringify(last.values) === JSON.stringify(entries.map((e) => e.value(2)))
      }
      await sleep(300)
      expect(settled).toBe(true)
    } finally {
      reading = false
      await reader
    }
    const stale = []
    for (const { startedAt, values } of judged) {
      values.forEach((v, k) => {
        if (JSON.stringify(v) === JSON.stringify(entries[k].value(1))) stale.push({ key: entries[k].key, msAfterNewData: startedAt - newDataAt })
      })
    }
    expect(stale).toEqual([])
    await trackingOn(await cluster.agreedMasters())
    await warm(entries, 3)
    await expectTracking(entries, 4)
  }

  test('a master killed and its replica promoted: no stale read after the promotion, tracking on the new master', async () => {
    await noStaleAcross('near-kill', async (entries) => {
      const victim = cluster.masterOf(entries[0].key)
      victim.kill()
      await cluster.waitForNewMaster(entries[0].key, victim.port)
    })
  }, 90000)

  test('a manual CLUSTER FAILOVER (the old master stays up as a replica): no stale read, tracking on the new master', async () => {
    await noStaleAcross('near-manual', async (entries) => {
      // A master that still has a replica in sync (the kill above left one without).
      const pairs = cluster.ports.map((port) => [port, cluster.info(port, 'info', 'replication')])
      const [replica, repl] = pairs.find(([, r]) => r && r.role === 'slave' && r.master_link_status === 'up') ?? []
      expect(replica).toBeDefined()
      const old = Number(repl.master_port)
      const key = entries.find((e) => portOf(e.key) === old)?.key
      expect(key).toBeDefined()
      expect(cluster.cli(replica, 'cluster', 'failover')).toBe('OK')
      await cluster.waitForNewMaster(key, old)
    })
  }, 90000)
})
