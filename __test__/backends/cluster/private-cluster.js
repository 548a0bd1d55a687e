'use strict'

// For a test file that needs a cluster of its own (to kill or stop one of its nodes): starts it
// before the tests, loads the package afresh on it with `settings`, captures its log and the
// process's unhandled rejections; stops it all afterwards (a stopped node too: SIGKILL ends it).
//
//   describeOnPrivateCluster('…', () => {
//     const run = usePrivateCluster({ masters: 3, replicas: 1 }, { timeoutMs: 500 })
//     test('…', async () => { const { cluster, mod, logs, unhandled } = run; … })
//   })
//
// Run only in the cluster phase (REDIS_CLUSTER_URLS set) and where redis-server and redis-cli
// are installed.
const { selectBackend } = require('../../../lib/environment')
const { startCluster, clusterToolsAvailable } = require('./cluster')
const { captureLogs } = require('../../helpers')

const describeOnPrivateCluster = selectBackend().kind === 'cluster' && clusterToolsAvailable() ? describe : describe.skip

function usePrivateCluster(clusterOptions, settings) {
  const run = { cluster: null, mod: null, logs: null, unhandled: [] }
  const onUnhandled = (reason) => run.unhandled.push(reason)

  beforeAll(async () => {
    process.on('unhandledRejection', onUnhandled)
    run.cluster = await startCluster(clusterOptions)
    jest.isolateModules(() => {
      run.mod = require('../../..')
    })
    run.logs = captureLogs(run.mod)
    run.mod.configure({ cluster: run.cluster.urls, ...settings })
  }, 60000)

  afterAll(async () => {
    process.off('unhandledRejection', onUnhandled)
    run.logs?.restore()
    await run.cluster?.stop()
  })

  return run
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * While `caller(n)` runs in `callers` loops (each until `running()` turns false), takes
 * `victim` down with `how` ('kill' or 'pause') after `warmMs`, waits for a replica to take over
 * `key` and `afterMs` more, then ends the loops: `{ downAt, promotedAt }`.
 */
async function failoverUnderLoad({ cluster, victim, key, how, callers, caller, warmMs, afterMs }) {
  const state = { running: true }
  const load = Array.from({ length: callers }, (_, n) => caller(n, () => state.running))
  try {
    await sleep(warmMs)
    const downAt = Date.now()
    victim[how]()
    await cluster.waitForNewMaster(key, victim.port)
    const promotedAt = Date.now()
    await sleep(afterMs)
    return { downAt, promotedAt }
  } finally {
    state.running = false
    await Promise.all(load)
  }
}

module.exports = { describeOnPrivateCluster, usePrivateCluster, failoverUnderLoad }
