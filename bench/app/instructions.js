'use strict'

// `npm run bench:instructions`: user-space instructions per store call (express-session's
// `get` and `touch`, express-rate-limit's `increment`, 50 in flight) for each contender, counted
// by valgrind (callgrind). On a shared 2-core machine CPU time moves by tens of percent from run
// to run; the count moves by up to about 15% (JIT and GC timing). Each figure is the difference
// between a child making N2 calls and one making N1, divided by N2 - N1 (setup and exit cancel
// out); the server (Redis) is not counted. Needs valgrind (`apt-get install valgrind`). bench/README.md.
//
// BENCH_INSTRUCTIONS_OF=app counts the whole Express app instead (server.js under callgrind,
// Express and HTTP included): instructions per request of each route (BENCH_APP_ROUTES), the
// difference between a server answering BENCH_REQUESTS_FROM and one answering BENCH_REQUESTS_TO
// requests, BENCH_APP_CONNECTIONS (1) at a time: the regime of bench:app's fixed-rate CPU figure,
// where requests seldom overlap.
const http = require('node:http')
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { OPS, runOptions, roundOf, cleanUp, median } = require('./stores')
const { startServer, sessionCookie } = require('./index')

const STORES = path.join(__dirname, 'stores.js')
const CALLGRIND = ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null']

/** The total callgrind printed in `stderr`. */
function refsOf(stderr, what) {
  const refs = /I\s+refs:\s+([\d,]+)/.exec(stderr)
  if (!refs) throw new Error(`${what}: no instruction count: ${stderr.slice(-2000)}`)
  return Number(refs[1].replaceAll(',', ''))
}

/** Instructions callgrind counted for one child making `count` calls of `op`. */
function instructions(contender, op, count, env) {
  const [command, ...args] = [...CALLGRIND, process.execPath, STORES, contender]
  const run = spawnSync(command, args, { env: { ...env, BENCH_STORE_OP: op, BENCH_STORE_COUNT: String(count) }, encoding: 'utf8', timeout: 600_000 })
  if (run.status !== 0) throw new Error(`${contender} ${op}: ${run.error ? run.error.message : run.stderr.slice(-2000)}`)
  return refsOf(run.stderr, `${contender} ${op}`)
}

/** `count` GETs of `route`, `connections` at a time, each answered 200. */
async function requests(server, route, count, connections) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
  const cookie = sessionCookie(route, server)
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: server.port, path: `/${route}`, agent, headers: cookie ? { cookie } : {} }, (res) => {
        res.resume()
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`/${route} answered ${res.statusCode}`))))
      })
      req.on('error', reject)
    })
  let sent = 0
  const loop = async () => {
    while (sent < count) {
      sent++
      await one()
    }
  }
  await Promise.all(Array.from({ length: connections }, loop))
  agent.destroy()
}

/** Instructions callgrind counted for one app server answering `count` requests of `route`. */
async function appInstructions(contender, route, count, env, connections) {
  const server = await startServer(contender, env, [], CALLGRIND)
  try {
    await requests(server, route, count, connections)
  } finally {
    await server.stop()
  }
  return refsOf(server.stderr(), `${contender} /${route}`)
}

async function main() {
  const run = runOptions()
  const { contenders, rounds } = run
  const app = process.env.BENCH_INSTRUCTIONS_OF === 'app'
  const env = process.env
  const ops = app ? (env.BENCH_APP_ROUTES || 'three,express').split(',') : (env.BENCH_STORE_OPS || OPS.join(',')).split(',')
  const [n1, n2] = app ? [Number(env.BENCH_REQUESTS_FROM || 500), Number(env.BENCH_REQUESTS_TO || 2500)] : [Number(env.BENCH_CALLS_FROM || 5000), Number(env.BENCH_CALLS_TO || 25000)]
  const connections = Number(env.BENCH_APP_CONNECTIONS || 1)
  const count = app ? (c, op, n, cEnv) => appInstructions(c, op, n, cEnv, connections) : async (c, op, n, cEnv) => instructions(c, op, n, cEnv)
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)')
  const perCall = {}
  for (let round = 0; round < rounds; round++) {
    for (const [c, cEnv] of roundOf(run, round)) {
      for (const op of ops) {
        // express-session's and express-rate-limit's stores: not every contender has them.
        if (app && op === 'express' && c === 'ioredis') continue
        const figure = ((await count(c, op, n2, cEnv)) - (await count(c, op, n1, cEnv))) / (n2 - n1)
        ;((perCall[c] ||= {})[op] ||= []).push(figure)
        console.error(`round ${round + 1} ${c} ${op}: ${Math.round(figure)} instructions per ${app ? 'request' : 'call'}`)
      }
    }
  }
  await cleanUp(run)
  // Each contender against the first, so a run with `none` also shows the floor.
  const [first, ...others] = contenders
  const cell = (c, op) => (perCall[c]?.[op] ? median(perCall[c][op]) : NaN)
  const lines = [
    `| ${app ? 'route' : 'store operation'} | ${contenders.join(' | ')} | ${others.map((c) => `${first} / ${c}`).join(' | ')} |`,
    `|---${'|---'.repeat(contenders.length + others.length)}|`,
  ]
  for (const op of ops) {
    const cells = contenders.map((c) => (perCall[c]?.[op] ? `${Math.round(cell(c, op))} (${perCall[c][op].map(Math.round).join(', ')})` : '—'))
    const ratios = others.map((c) => (Number.isFinite(cell(c, op) / cell(first, op)) ? `${(cell(first, op) / cell(c, op)).toFixed(2)}×` : '—'))
    lines.push(`| ${op} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`)
  }
  const inFlight = app ? `${connections} connection(s)` : `${Number(env.BENCH_STORE_IN_FLIGHT || 50)} in flight`
  console.log(`\n#### Instructions per ${app ? 'request' : 'store call'} (callgrind, user space, ${rounds} rounds, medians (runs), ${inFlight}, ${app ? 'requests' : 'calls'} ${n1} → ${n2})\n`)
  console.log(lines.join('\n'))
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
