'use strict'

// `npm run bench:app`: an Express app per contender, each in its own process, loaded by
// autocannon in another process. Per contender and route: the maximum req/s with p50/p99 at
// -c 50, then the server process's CPU (utime+stime of all its threads, /proc/<pid>/stat) per
// request at a fixed offered rate. Contenders alternate order round by round; medians reported.
// See bench/README.md ("npm run bench:app") for the options.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawn, execFileSync } = require('node:child_process')
const signature = require('cookie-signature')
const { DEFAULT_REDIS_URL, uniquePrefix, startRestServer, childEnv } = require('../common')
const { RespClient, unlinkMatching, waitIdle } = require('../resp')
const { CONTENDERS, SERVER_CONTENDERS, REST_CONTENDERS, SESSION_SECRET } = require('./modules')

const AUTOCANNON = require.resolve('autocannon/autocannon.js')
const CLK_TCK = 100

function options() {
  const arg = (name) => {
    const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
    return hit ? hit.slice(name.length + 3) : undefined
  }
  const get = (name, env, fallback) => arg(name) ?? process.env[env] ?? fallback
  return {
    contenders: get('contenders', 'BENCH_APP_CONTENDERS', CONTENDERS.join(',')).split(','),
    routes: get('routes', 'BENCH_APP_ROUTES', 'three,express').split(','),
    rounds: Number(get('rounds', 'BENCH_ROUNDS', 3)),
    ms: Number(get('ms', 'BENCH_APP_MS', 5000)),
    rateMs: Number(get('rate-ms', 'BENCH_APP_RATE_MS', 6000)),
    rate: Number(get('rate', 'BENCH_APP_RATE', 1500)),
    restRate: Number(get('rest-rate', 'BENCH_APP_REST_RATE', 300)),
    connections: Number(get('connections', 'BENCH_APP_CONNECTIONS', 50)),
    redisUrl: get('redis', 'BENCH_REDIS_URL', DEFAULT_REDIS_URL),
    json: get('json', 'BENCH_APP_JSON', path.join(__dirname, 'last-run.json')),
    nodeArgs: (get('node-args', 'BENCH_APP_NODE_ARGS', '') || '').split(' ').filter(Boolean),
  }
}

const log = (...a) => console.error(`[${new Date().toISOString().slice(11, 19)}]`, ...a)
const load1 = () => os.loadavg()[0]

/** utime+stime (seconds) of the whole process, and context switches summed over its threads. */
function processCost(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const cpu = (Number(fields[11]) + Number(fields[12])) / CLK_TCK
  let voluntary = 0
  let involuntary = 0
  let threads = 0
  for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = fs.readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8')
      voluntary += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)[1])
      involuntary += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)[1])
      threads++
    } catch {}
  }
  return { cpu, voluntary, involuntary, threads }
}

/**
 * Starts `contender`'s app (server.js) and resolves once it listens: { child, port, sessionId,
 * stop, stderr }. `launcher` runs node under another program (instructions.js: valgrind), which
 * is slow to start and to exit.
 */
function startServer(contender, env, nodeArgs, launcher = []) {
  const [command, ...args] = [...launcher, process.execPath, ...nodeArgs, path.join(__dirname, 'server.js'), contender]
  const child = spawn(command, args, { cwd: __dirname, env, stdio: ['ignore', 'pipe', 'pipe'] })
  const patience = launcher.length ? 10 : 1
  let out = ''
  let err = ''
  child.stderr.on('data', (d) => (err = (err + d).slice(-4000)))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${contender} server did not start: ${err}`)), 60000 * patience)
    child.stdout.on('data', (d) => {
      out += d
      const m = /ready (\d+) (\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({
          child,
          port: Number(m[1]),
          sessionId: m[2],
          stderr: () => err,
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null || child.signalCode !== null) return done()
              const kill = setTimeout(() => child.kill('SIGKILL'), 5000 * patience)
              child.once('exit', () => (clearTimeout(kill), done()))
              child.kill('SIGTERM')
            }),
        })
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${contender} server exited with ${code}: ${err}`))
    })
  })
}

/** One autocannon run in its own process; resolves with its JSON result. */
function autocannon(url, { connections, ms, rate, cookie }) {
  const args = [AUTOCANNON, '-j', '-c', String(connections), '-d', String(ms / 1000)]
  if (rate) args.push('-R', String(rate))
  if (cookie) args.push('-H', `Cookie=${cookie}`)
  args.push(url)
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    child.once('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`autocannon exited with ${code}`)
        resolve(JSON.parse(out))
      } catch (e) {
        reject(e)
      }
    })
  })
}

/** The session cookie /express needs (signed as server.js's express-session checks it). */
function sessionCookie(route, server) {
  return route === 'express' ? `connect.sid=${encodeURIComponent(`s:${signature.sign(server.sessionId, SESSION_SECRET)}`)}` : undefined
}

async function measureRoute(server, route, contender, o) {
  const url = `http://127.0.0.1:${server.port}/${route}`
  const cookie = sessionCookie(route, server)
  await autocannon(url, { connections: o.connections, ms: 1000, cookie }) // warm-up (JIT, connections)
  const loadBefore = load1()
  const max = await autocannon(url, { connections: o.connections, ms: o.ms, cookie })
  const rate = REST_CONTENDERS.has(contender) ? o.restRate : o.rate
  const before = processCost(server.child.pid)
  const fixed = await autocannon(url, { connections: o.connections, ms: o.rateMs, rate, cookie })
  const after = processCost(server.child.pid)
  const served = fixed['2xx'] + fixed.non2xx
  const bad = max.non2xx + max.errors + max.timeouts + fixed.non2xx + fixed.errors + fixed.timeouts
  return {
    contender,
    route,
    rps: max.requests.average,
    p50: max.latency.p50,
    p99: max.latency.p99,
    bad,
    rate,
    servedRps: served / (o.rateMs / 1000),
    fixedP50: fixed.latency.p50,
    cpuUsPerReq: ((after.cpu - before.cpu) * 1e6) / served,
    csPerReq: (after.voluntary + after.involuntary - before.voluntary - before.involuntary) / served,
    threads: after.threads,
    load: [loadBefore, load1()].map((x) => x.toFixed(2)).join('→'),
  }
}

/** The near cache's state after a route's runs (counters since the app started). */
function nearNote(near) {
  if (!near.active) return `near cache NOT on (${near.note})`
  const k = near.counters
  return `near cache hits ${k.hits}, misses ${k.misses} (${((100 * k.hits) / Math.max(1, k.hits + k.misses)).toFixed(1)}% hits), invalidations ${k.invalidations}${k.announced === undefined ? '' : `, ${k.announced} changes announced`}, ${k.entries} entries`
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
const fmtK = (x) => (Number.isFinite(x) ? (x >= 1000 ? `${(x / 1000).toFixed(2)}k` : x.toFixed(0)) : '—')
const fmtX = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : '—')

function report(results, o) {
  const lines = []
  const ratioPairs = [
    ['ours-redis', 'ioredis'],
    ['ours-redis-near', 'ioredis'],
    ['ours-redis-near', 'ours-redis'],
    ['ours-redis-near', 'node-redis'],
    ['ours-redis-near-scoped', 'ioredis'],
    ['ours-redis-near-scoped', 'ours-redis-near'],
    ['ours-redis', 'node-redis'],
    ['ours-redis', 'before-redis'],
    ['ours-redis', 'ours-redis-thread'],
    ['ours-redis-thread', 'ioredis'],
    ['before-redis', 'ioredis'],
    ['ours-embedded', 'map'],
    ['ours-embedded', 'before-embedded'],
    ['before-embedded', 'map'],
    ['ours-embedded', 'ioredis'],
    ['ours-rest', 'upstash'],
  ]
  for (const route of o.routes) {
    const rows = {}
    for (const c of o.contenders) {
      const rs = results.filter((r) => r.route === route && r.contender === c && !r.error)
      if (rs.length === 0) continue
      rows[c] = {
        rps: median(rs.map((r) => r.rps)),
        p50: median(rs.map((r) => r.p50)),
        p99: median(rs.map((r) => r.p99)),
        cpu: median(rs.map((r) => r.cpuUsPerReq)),
        cpuAll: rs.map((r) => r.cpuUsPerReq.toFixed(0)).join(', '),
        cs: median(rs.map((r) => r.csPerReq)),
        threads: rs[0].threads,
        rate: rs[0].rate,
        served: median(rs.map((r) => r.servedRps)),
        bad: rs.reduce((n, r) => n + r.bad, 0),
        load: rs.map((r) => r.load).join(', '),
        near: rs[rs.length - 1].near,
      }
    }
    if (Object.keys(rows).length === 0) continue
    lines.push(`\n#### /${route}\n`)
    lines.push('| contender | req/s (max) | p50 ms | p99 ms | CPU µs/req at fixed rate (runs) | offered → served req/s | ctx switches/req | threads | load1 before→after |')
    lines.push('|---|---|---|---|---|---|---|---|---|')
    for (const [c, r] of Object.entries(rows)) {
      lines.push(`| ${c} | ${fmtK(r.rps)} | ${r.p50} | ${r.p99} | **${r.cpu.toFixed(0)}** (${r.cpuAll}) | ${r.rate} → ${r.served.toFixed(0)} | ${r.cs.toFixed(2)} | ${r.threads} | ${r.load} |${r.bad ? ` ${r.bad} non-2xx/errors` : ''}`)
    }
    for (const [c, r] of Object.entries(rows)) if (r.near) lines.push(`\n${c}, last run: ${nearNote(r.near)}`)
    const ratios = ratioPairs.filter(([a, b]) => rows[a] && rows[b])
    if (ratios.length) {
      lines.push('\n| ratio | req/s | CPU per request |')
      lines.push('|---|---|---|')
      for (const [a, b] of ratios) lines.push(`| ${a} / ${b} | ${fmtX(rows[a].rps, rows[b].rps)} | ${fmtX(rows[a].cpu, rows[b].cpu)} |`)
    }
  }
  return lines.join('\n')
}

async function main() {
  const o = options()
  const prefix = uniquePrefix()
  const needsRedis = o.contenders.some((c) => SERVER_CONTENDERS.has(c) || REST_CONTENDERS.has(c))
  const git = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8' }).trim()
  log(`bench:app ${o.contenders.join(',')} routes ${o.routes.join(',')} rounds ${o.rounds}, ${o.ms} ms max + ${o.rateMs} ms at ${o.rate} (REST ${o.restRate}) req/s, -c ${o.connections}; prefix ${prefix}; git ${git}; nproc ${os.cpus().length}`)
  let resp = null
  let rest = null
  if (needsRedis) resp = await RespClient.connect(o.redisUrl)
  if (o.contenders.some((c) => REST_CONTENDERS.has(c))) rest = await startRestServer(o.redisUrl)
  const results = []
  try {
    for (let round = 0; round < o.rounds; round++) {
      const order = round % 2 ? [...o.contenders].reverse() : o.contenders
      for (const contender of order) {
        if (resp) await waitIdle(resp)
        const env = childEnv(contender === 'before-redis' ? 'ours-redis' : contender, { redisUrl: o.redisUrl, restUrl: rest?.url, restToken: rest?.token, prefix: `${prefix}:${contender}` })
        if (contender.startsWith('before-') && !env.BENCH_APP_BEFORE_DIR) throw new Error(`${contender} needs BENCH_APP_BEFORE_DIR`)
        let server
        try {
          server = await startServer(contender, env, o.nodeArgs)
          for (const route of o.routes) {
            if (route === 'express' && server.sessionId === '-') continue
            const r = await measureRoute(server, route, contender, o)
            if (contender.startsWith('ours-redis-near')) r.near = await (await fetch(`http://127.0.0.1:${server.port}/near-stats`)).json()
            results.push({ round, ...r })
            log(`round ${round + 1} ${contender} /${route}: ${fmtK(r.rps)} req/s p50 ${r.p50} p99 ${r.p99}; ${r.cpuUsPerReq.toFixed(0)} µs CPU/req at ${r.rate} (served ${r.servedRps.toFixed(0)}), ${r.csPerReq.toFixed(2)} cs/req, ${r.threads} threads, load ${r.load}${r.bad ? `, ${r.bad} bad` : ''}${r.near ? `; ${nearNote(r.near)}` : ''}`)
          }
        } catch (e) {
          results.push({ round, contender, error: e.message })
          log(`round ${round + 1} ${contender}: ${e.message}`)
        } finally {
          if (server) await server.stop()
        }
      }
    }
  } finally {
    if (rest) await rest.stop()
    if (resp) {
      const deleted = await unlinkMatching(resp, `*${prefix}*`)
      log(`cleanup: unlinked ${deleted} keys matching *${prefix}*`)
      resp.close?.()
    }
  }
  fs.writeFileSync(o.json, JSON.stringify({ git, options: o, results }, null, 1))
  console.log(`bench:app, git ${git}, ${new Date().toISOString()}, nproc ${os.cpus().length}, ${o.rounds} rounds, -c ${o.connections}, fixed rate ${o.rate} req/s (REST ${o.restRate})`)
  console.log(report(results, o))
  process.exit(0)
}

module.exports = { startServer, sessionCookie }

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
