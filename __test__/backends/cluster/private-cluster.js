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

module.exports = { describeOnPrivateCluster, usePrivateCluster }
