'use strict'

// The calls of `/three` without HTTP, one at a time, for an in-process contender of
// bench/app/modules.js (ours-embedded or map):
// CPU per iteration in a tight loop, or with the CPU caches disturbed before each iteration (a
// sweep over a typed array, as an HTTP request's work would leave them; the sweep's own cost is
// measured alone and subtracted). Shows how much of a contender's cost in the app is cold-cache
// cost, which a tight loop hides.
//
//   node bench/app/calls.js <ours-embedded|map> [--sweep-mib=0] [--only=rate|session|cache]
//
// Prints one line: the median of 5 runs of 5,000 iterations, and each run.
const { build, threeIds, seedThree } = require('./modules')

const RUNS = 5
const ITERATIONS = 5000
const KEYS = 1000

function option(name, fallback) {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`))
  return hit ? hit.slice(name.length + 3) : fallback
}

async function main() {
  const contender = process.argv[2]
  if (!['ours-embedded', 'map'].includes(contender)) throw new Error('usage: node bench/app/calls.js <ours-embedded|map> [--sweep-mib=N] [--only=rate|session|cache]')
  const sweepMib = Number(option('sweep-mib', 0))
  const only = option('only', null)
  const prefix = `bench:calls:${process.pid}`
  const m = await build(contender, process.env)
  const ids = threeIds(prefix, KEYS)
  await seedThree(m.three, ids)
  const calls = {
    rate: (id) => m.three.rateCheck(id.rate),
    session: (id) => m.three.sessionGet(id.session),
    cache: (id) => m.three.cacheGet(id.cache),
  }
  const chosen = only ? [calls[only]] : Object.values(calls)
  const lines = new Float64Array((sweepMib * 1024 * 1024) / 8)
  // One write per 64-byte line: every line is brought into the caches and dirtied.
  const sweep = () => {
    for (let j = 0; j < lines.length; j += 8) lines[j]++
  }
  const run = async (withCalls) => {
    const started = process.cpuUsage()
    for (let i = 0; i < ITERATIONS; i++) {
      sweep()
      if (withCalls) for (const call of chosen) await call(ids[i % KEYS])
    }
    const used = process.cpuUsage(started)
    return (used.user + used.system) / ITERATIONS
  }
  await run(true) // warm-up (JIT)
  const perIteration = []
  for (let r = 0; r < RUNS; r++) {
    const sweepAlone = sweepMib > 0 ? await run(false) : 0
    perIteration.push((await run(true)) - sweepAlone)
  }
  const sorted = [...perIteration].sort((a, b) => a - b)
  const what = only ? `${only} call` : 'three calls'
  console.log(`${contender} ${what}, sweep ${sweepMib} MiB: ${sorted[RUNS >> 1].toFixed(2)} µs CPU per iteration (runs ${perIteration.map((x) => x.toFixed(1)).join(', ')})`)
  process.exit(0)
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
