'use strict'

// `npm run bench:instructions`: user-space instructions per store call (express-session's
// `get` and `touch`, express-rate-limit's `increment`, 50 in flight) for each contender, counted
// by valgrind (callgrind). Unlike CPU time on a shared 2-core machine, the count barely moves
// from run to run, so a change of a few percent shows. Each figure is the difference between a
// child making N2 calls and one making N1, divided by N2 - N1 (setup and exit cancel out); the
// server (Redis) is not counted. Needs valgrind (`apt-get install valgrind`). bench/README.md.
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { DEFAULT_REDIS_URL, uniquePrefix, childEnv } = require('../common')
const { OPS } = require('./stores')

const STORES = path.join(__dirname, 'stores.js')

/** Instructions callgrind counted for one child making `count` calls of `op`. */
function instructions(contender, op, count, env) {
  const run = spawnSync(
    'valgrind',
    ['--tool=callgrind', '--callgrind-out-file=/dev/null', process.execPath, STORES, contender],
    { env: { ...env, BENCH_STORE_OP: op, BENCH_STORE_COUNT: String(count) }, encoding: 'utf8', timeout: 600_000 },
  )
  const refs = /I\s+refs:\s+([\d,]+)/.exec(run.stderr)
  if (run.status !== 0 || !refs) throw new Error(`${contender} ${op}: ${run.error ? run.error.message : run.stderr.slice(-2000)}`)
  return Number(refs[1].replaceAll(',', ''))
}

async function main() {
  const contenders = (process.env.BENCH_STORE_CONTENDERS || 'ours-redis,node-redis').split(',')
  const ops = (process.env.BENCH_STORE_OPS || OPS.join(',')).split(',')
  const rounds = Number(process.env.BENCH_ROUNDS || 3)
  const [n1, n2] = [Number(process.env.BENCH_CALLS_FROM || 5000), Number(process.env.BENCH_CALLS_TO || 25000)]
  const redisUrl = process.env.BENCH_REDIS_URL || DEFAULT_REDIS_URL
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)')
  const prefix = uniquePrefix()
  const perCall = {}
  for (let round = 0; round < rounds; round++) {
    for (const c of round % 2 ? [...contenders].reverse() : contenders) {
      const env = childEnv(c === 'before-redis' ? 'ours-redis' : c, { redisUrl, prefix: `${prefix}:${c}` })
      for (const op of ops) {
        const figure = (instructions(c, op, n2, env) - instructions(c, op, n1, env)) / (n2 - n1)
        ;((perCall[c] ||= {})[op] ||= []).push(figure)
        console.error(`round ${round + 1} ${c} ${op}: ${Math.round(figure)} instructions per call`)
      }
    }
  }
  const { RespClient, unlinkMatching } = require('../resp')
  const resp = await RespClient.connect(redisUrl)
  await unlinkMatching(resp, `*${prefix}*`)
  resp.close()
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
  const base = contenders[1]
  const lines = [
    `| store operation | ${contenders.join(' | ')} |${base ? ` ${contenders[0]} / ${base} |` : ''}`,
    `|---${'|---'.repeat(contenders.length)}|${base ? '---|' : ''}`,
  ]
  for (const op of ops) {
    const cells = contenders.map((c) => median(perCall[c][op]))
    const ratio = base ? ` ${(cells[0] / cells[1]).toFixed(2)}× |` : ''
    lines.push(`| ${op} | ${cells.map((x, i) => `${Math.round(x)} (${perCall[contenders[i]][op].map(Math.round).join(', ')})`).join(' | ')} |${ratio}`)
  }
  console.log(`\n#### Instructions per store call (callgrind, user space, ${rounds} rounds, medians (runs), 50 in flight, calls ${n1} → ${n2})\n`)
  console.log(lines.join('\n'))
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
