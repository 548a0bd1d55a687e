#!/usr/bin/env node
'use strict'

// Our multi-slot MGET on a Redis Cluster (one MGET per slot, each master's share one pipelined
// request) against redis-rs's own multi-slot routing, on a private 3-master cluster started
// here: runs crates/core/examples/cluster_mget.rs, which prints the table.
//
//   node bench/cluster-mget-routing.js

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const { startCluster } = require('../__test__/backends/cluster/cluster')

async function main() {
  const cluster = await startCluster({ masters: 3, replicas: 0 })
  try {
    const run = spawnSync(
      'cargo',
      ['run', '--quiet', '--release', '-p', 'digis-redis-core', '--example', 'cluster_mget', '--', cluster.urls.join(',')],
      { cwd: path.resolve(__dirname, '..'), stdio: 'inherit' },
    )
    if (run.status !== 0) throw new Error(`cluster_mget exited with ${run.status}`)
  } finally {
    await cluster.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
