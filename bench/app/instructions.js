'use strict'

// `npm run bench:instructions`: user-space instructions per store call (express-session's
// `get` and `touch`, express-rate-limit's `increment`, 50 in flight) for each contender, counted
// by valgrind (callgrind). On a shared 2-core machine CPU time moves by tens of percent from run
// to run; the count moves by up to about 15% (JIT and GC timing). Each figure is the difference
// between a child making N2 calls and one making N1, divided by N2 - N1 (setup and exit cancel
// out); the server (Redis) is not counted. Needs valgrind (`apt-get install valgrind`). bench/README.md.
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { OPS, runOptions, roundOf, cleanUp, median } = require('./stores')

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
  const run = runOptions()
  const { contenders, rounds } = run
  const ops = (process.env.BENCH_STORE_OPS || OPS.join(',')).split(',')
  const [n1, n2] = [Number(process.env.BENCH_CALLS_FROM || 5000), Number(process.env.BENCH_CALLS_TO || 25000)]
  if (spawnSync('valgrind', ['--version']).status !== 0) throw new Error('valgrind is not installed (apt-get install valgrind)')
  const perCall = {}
  for (let round = 0; round < rounds; round++) {
    for (const [c, env] of roundOf(run, round)) {
      for (const op of ops) {
        const figure = (instructions(c, op, n2, env) - instructions(c, op, n1, env)) / (n2 - n1)
        ;((perCall[c] ||= {})[op] ||= []).push(figure)
        console.error(`round ${round + 1} ${c} ${op}: ${Math.round(figure)} instructions per call`)
      }
    }
  }
  await cleanUp(run)
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
