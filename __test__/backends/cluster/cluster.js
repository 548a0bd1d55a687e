'use strict'

// A private Redis Cluster for the tests and the benchmark: `masters` redis-server processes in
// cluster mode on free ports (plus `replicas` per master), joined with `redis-cli --cluster
// create`, in a temporary directory. Children of the calling process; always call stop().
//
//   const cluster = await startCluster({ masters: 3, replicas: 1 })
//   cluster.urls            // seed URLs of the masters, for REDIS_CLUSTER_URLS
//   cluster.masterOf(key)   // the node serving `key` now: { port, kill(), pause(), resume() }
//   await cluster.agreedMasters()  // ['127.0.0.1:7001', …] once every node names the same
//   await cluster.stop()

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const { freePort } = require('../../helpers')

const REDIS_SERVER = process.env.REDIS_SERVER_BIN || 'redis-server'
const REDIS_CLI = process.env.REDIS_CLI_BIN || 'redis-cli'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

function clusterToolsAvailable() {
  const ok = (bin) => spawnSync(bin, ['--version'], { encoding: 'utf8' }).status === 0
  return ok(REDIS_SERVER) && ok(REDIS_CLI)
}

function cli(port, ...args) {
  const out = spawnSync(REDIS_CLI, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 10000 })
  return out.status === 0 ? out.stdout.trim() : null
}

/** `field:value` lines of CLUSTER INFO / INFO as an object; null when the node does not answer. */
function info(port, ...command) {
  const text = cli(port, ...command)
  if (text === null) return null
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':'))
      .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1)]),
  )
}

async function waitFor(what, check, timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (check()) return
    await sleep(100)
  }
  throw new Error(`cluster: timed out waiting for ${what}`)
}

async function startCluster({ masters = 3, replicas = 1, nodeTimeoutMs = 2000 } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-cluster-'))
  const nodes = new Map()
  const stop = async () => {
    const exits = [...nodes.values()].map(
      (child) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', resolve))),
    )
    for (const child of nodes.values()) child.kill('SIGKILL')
    await Promise.all(exits)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    const count = masters * (1 + replicas)
    const ports = []
    while (ports.length < count) {
      const port = await freePort()
      // The cluster bus listens on port + 10000: keep both free and distinct.
      if (port < 55000 && !ports.includes(port)) ports.push(port)
    }
    for (const port of ports) {
      const child = spawn(
        REDIS_SERVER,
        [
          '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
          '--cluster-config-file', path.join(dir, `nodes-${port}.conf`), '--cluster-node-timeout', String(nodeTimeoutMs),
          '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, `${port}.log`),
        ],
        { stdio: 'ignore' },
      )
      nodes.set(port, child)
    }
    await waitFor('the nodes to start', () => ports.every((port) => cli(port, 'ping') === 'PONG'), 10000)
    const created = spawnSync(
      REDIS_CLI,
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', String(replicas), '--cluster-yes'],
      { encoding: 'utf8', timeout: 30000 },
    )
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
    await waitFor('cluster_state:ok on every node', () => ports.every((port) => info(port, 'cluster', 'info')?.cluster_state === 'ok'), 20000)
    // Replicas in sync, so a failover has a replica to promote.
    await waitFor(
      'the replicas to sync',
      () =>
        ports.every((port) => {
          const repl = info(port, 'info', 'replication')
          return repl && (repl.role === 'master' || repl.master_link_status === 'up')
        }),
      20000,
    )
  } catch (err) {
    await stop()
    throw err
  }

  const ports = [...nodes.keys()]
  // Stopped with pause(): asking them would hang each question for redis-cli's timeout.
  const paused = new Set()
  const answers = (port) => nodes.get(port).exitCode === null && nodes.get(port).signalCode === null && !paused.has(port)
  const isMaster = (port) => info(port, 'info', 'replication')?.role === 'master'
  const node = (port) => ({
    port,
    kill: () => nodes.get(port).kill('SIGKILL'),
    /** Stalls the node (SIGSTOP): connections stay open, nothing answers until resume(). */
    pause: () => {
      paused.add(port)
      nodes.get(port).kill('SIGSTOP')
    },
    resume: () => {
      paused.delete(port)
      nodes.get(port).kill('SIGCONT')
    },
  })
  return {
    dir,
    ports,
    urls: ports.filter(isMaster).map((port) => `redis://127.0.0.1:${port}`),
    cli,
    info,
    /** The live master serving `key`, by asking every node (after a failover too). */
    masterOf(key) {
      const live = ports.filter(answers)
      const slot = Number(cli(live[0], 'cluster', 'keyslot', key) ?? cli(live.at(-1), 'cluster', 'keyslot', key))
      for (const port of live) {
        const line = (cli(port, 'cluster', 'nodes') || '').split('\n').find((l) => l.includes('myself'))
        if (!line || !line.includes('master')) continue
        const ranges = line.split(' ').slice(8)
        const serves = ranges.some((range) => {
          const [from, to = from] = range.split('-').map(Number)
          return slot >= from && slot <= to
        })
        if (serves) return node(port)
      }
      return null
    },
    /** Resolves when a master other than `oldPort` serves `key` and the cluster is ok again. */
    async waitForNewMaster(key, oldPort, timeoutMs = 20000) {
      await waitFor('a replica to take over', () => {
        const master = this.masterOf(key)
        return master !== null && master.port !== oldPort
      }, timeoutMs)
      await this.waitHealthy(timeoutMs)
    },
    /**
     * Resolves with the masters that serve slots (`host:port`, sorted) once every live node
     * names the same ones: after a failover the nodes learn of it at different moments.
     */
    agreedMasters: (timeoutMs = 20000) => {
      const mastersSeenBy = (port) => {
        const text = cli(port, 'cluster', 'nodes')
        if (text === null) return null
        const masters = text
          .split('\n')
          .map((line) => line.trim().split(' '))
          .filter((fields) => fields.length > 8 && fields[2].split(',').includes('master') && !fields[2].includes('fail'))
          .map((fields) => fields[1].split('@')[0])
        return JSON.stringify(masters.sort())
      }
      let agreed
      return waitFor(
        'every node to name the same masters',
        () => {
          const views = new Set(ports.filter(answers).map(mastersSeenBy))
          if (views.size !== 1 || views.has(null)) return false
          agreed = JSON.parse([...views][0])
          return true
        },
        timeoutMs,
      ).then(() => agreed)
    },
    /** Resolves when every live node reports cluster_state:ok. */
    waitHealthy: (timeoutMs = 20000) =>
      waitFor(
        'cluster_state:ok',
        () =>
          ports
            .filter(answers)
            .every((port) => info(port, 'cluster', 'info')?.cluster_state === 'ok'),
        timeoutMs,
      ),
    stop,
  }
}

module.exports = { startCluster, clusterToolsAvailable, cli }
