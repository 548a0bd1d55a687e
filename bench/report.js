'use strict'

// Medians per cell, ours/theirs tables per backend pair, the issue's targets, and the
// "Throughput and latency" section of BENCHMARKS.md.
const fs = require('node:fs')
const { CONTENDERS } = require('./contenders')

const SECTION = 'Throughput and latency'

const PAIRS = [
  { ours: 'ours-redis', theirs: 'ioredis-auto', title: 'Redis protocol: digis-redis vs ioredis with enableAutoPipelining' },
  { ours: 'ours-redis', theirs: 'ioredis', title: 'Redis protocol: digis-redis vs ioredis (default, no auto-pipelining)' },
  { ours: 'ours-rest', theirs: 'upstash', title: 'Upstash REST (digis-redis rest-server in front of the same Redis): digis-redis vs @upstash/redis (defaults: auto-pipelining on)' },
  { ours: 'ours-embedded', theirs: 'lru-cache', title: 'Embedded: digis-redis embedded store vs lru-cache + JSON' },
  { ours: 'ours-redis-near', theirs: 'ioredis-auto', title: 'Near cache: digis-redis with configure({ nearCache: true }) vs ioredis with enableAutoPipelining' },
  { ours: 'ours-redis-near', theirs: 'ours-redis', title: 'Near cache on vs off: digis-redis on Redis with and without configure({ nearCache: true })' },
]

function median(values) {
  const v = values.filter((x) => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

/** (contender, workload, concurrency) → medians over the rounds. */
function aggregate(results) {
  const cells = new Map()
  for (const r of results) {
    const key = `${r.contender}|${r.workload}|${r.concurrency}`
    if (!cells.has(key)) cells.set(key, { runs: [], errors: [] })
    const cell = cells.get(key)
    if (r.error) cell.errors.push(r.error)
    else cell.runs.push(r)
  }
  const out = new Map()
  for (const [key, { runs, errors }] of cells) {
    out.set(key, {
      rounds: runs.length,
      errors,
      opsPerSec: median(runs.map((r) => r.opsPerSec)),
      p50Ms: median(runs.map((r) => r.p50Ms)),
      p99Ms: median(runs.map((r) => r.p99Ms)),
      cpu: median(runs.map((r) => r.cpuSecPer100k)),
      misses: runs.reduce((n, r) => n + r.misses, 0),
      opErrors: runs.reduce((n, r) => n + (r.errors || 0), 0),
      firstError: runs.map((r) => r.firstError).find(Boolean) || null,
      saturated: runs.some((r) => r.saturated),
      // Every round ended with no completion within this many ms (latency above it).
      // ours-redis-near: whether the near cache was on, and its counters, per run.
      near: runs.map((r) => r.near).filter(Boolean),
      noCompletionWithinMs: runs.length && runs.every((r) => r.noCompletionWithinMs) ? Math.min(...runs.map((r) => r.noCompletionWithinMs)) : null,
    })
  }
  return out
}

const fmtOps = (x) => (x === null ? '—' : x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e4 ? `${(x / 1e3).toFixed(0)}k` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x >= 10 ? x.toFixed(0) : x.toFixed(1))
function fmtMs(x) {
  if (x === null || x === undefined) return '—'
  if (x < 0.1) return `${(x * 1000).toFixed(1)} µs`
  if (x < 1) return `${(x * 1000).toFixed(0)} µs`
  if (x < 100) return `${x.toFixed(2)} ms`
  if (x < 1000) return `${x.toFixed(0)} ms`
  return `${(x / 1000).toFixed(2)} s`
}
const fmtCpu = (x) => (x === null || x === undefined ? '—' : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3))
const ratio = (a, b) => (a === null || b === null || a === undefined || b === undefined || b === 0 ? null : a / b)
const fmtRatio = (x) => (x === null ? '—' : `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`)

function flags(cell) {
  if (!cell) return ''
  let f = ''
  if (cell.saturated) f += '†'
  if (cell.misses || cell.opErrors || cell.errors.length) f += '⚠'
  return f
}

function pairTable(agg, pair, workloads, concurrency) {
  const rows = []
  for (const w of workloads) {
    for (const c of concurrency) {
      const a = agg.get(`${pair.ours}|${w}|${c}`)
      const b = agg.get(`${pair.theirs}|${w}|${c}`)
      if (!a || !b) continue
      const g = (cell, k) => (cell ? cell[k] : null)
      const lat = (cell, k) => (cell && cell.noCompletionWithinMs ? `> ${fmtMs(cell.noCompletionWithinMs)}` : fmtMs(g(cell, k)))
      let opsRatio = fmtRatio(ratio(g(a, 'opsPerSec'), g(b, 'opsPerSec')))
      let p50Ratio = fmtRatio(ratio(g(a, 'p50Ms'), g(b, 'p50Ms')))
      if (b && b.noCompletionWithinMs && a && a.opsPerSec) {
        opsRatio = '∞'
        p50Ratio = `< ${fmtRatio(ratio(a.p50Ms, b.noCompletionWithinMs))}`
      }
      rows.push(
        `| ${w} | ${c} | ${fmtOps(g(a, 'opsPerSec'))}${flags(a)} | ${fmtOps(g(b, 'opsPerSec'))}${flags(b)} | **${opsRatio}** | ` +
          `${lat(a, 'p50Ms')} | ${lat(b, 'p50Ms')} | ${p50Ratio} | ` +
          `${lat(a, 'p99Ms')} | ${lat(b, 'p99Ms')} | ` +
          `${fmtCpu(g(a, 'cpu'))} | ${fmtCpu(g(b, 'cpu'))} | ${fmtRatio(ratio(g(a, 'cpu'), g(b, 'cpu')))} |`,
      )
    }
  }
  if (rows.length === 0) return null
  return [
    `### ${pair.title}`,
    '',
    '| workload | c | ops/s ours | ops/s theirs | ops ours/theirs | p50 ours | p50 theirs | p50 ours/theirs | p99 ours | p99 theirs | CPU s/100k ours | CPU s/100k theirs | CPU ours/theirs |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...rows,
  ].join('\n')
}

/** The issue's targets, checked against this run's medians. */
function targets(agg, concurrency) {
  const get = (c, w, n) => agg.get(`${c}|${w}|${n}`)
  const lines = []
  const check = (label, value, ok, detail) => {
    if (value === null || value === undefined) return
    lines.push(`| ${label} | ${detail} | ${ok ? 'met' : '**not met**'} |`)
  }
  for (const c of [64, 256]) {
    const a = get('ours-redis', 'cache.get', c)
    const b = get('ioredis-auto', 'cache.get', c)
    if (a && b) {
      const r = ratio(a.opsPerSec, b.opsPerSec)
      check(`Redis: cache.get ops/s ≥ 2× ioredis auto-pipelining, c=${c}`, r, r >= 2, `${fmtOps(a.opsPerSec)} vs ${fmtOps(b.opsPerSec)} = ${fmtRatio(r)}`)
    }
  }
  for (const theirs of ['ioredis', 'ioredis-auto']) {
    const a = get('ours-redis', 'cache.get', 1)
    const b = get(theirs, 'cache.get', 1)
    if (a && b) {
      const r = ratio(a.p50Ms, b.p50Ms)
      check(`Redis: cache.get p50 at c=1 ≤ 1.1× ${CONTENDERS[theirs].label}`, r, r <= 1.1, `${fmtMs(a.p50Ms)} vs ${fmtMs(b.p50Ms)} = ${fmtRatio(r)}`)
    }
  }
  {
    const a = get('ours-rest', 'cache.get', 64)
    const b = get('upstash', 'cache.get', 64)
    if (a && b) {
      const r = ratio(a.opsPerSec, b.opsPerSec)
      check('REST: cache.get ops/s ≥ 3× @upstash/redis, c=64', r, r >= 3, `${fmtOps(a.opsPerSec)} vs ${fmtOps(b.opsPerSec)} = ${fmtRatio(r)}`)
    }
    const a1 = get('ours-rest', 'cache.get', 1)
    const b1 = get('upstash', 'cache.get', 1)
    if (a1 && b1) {
      const r = ratio(a1.p50Ms, b1.p50Ms)
      check('REST: cache.get p50 at c=1 ≤ 0.7× @upstash/redis', r, r <= 0.7, `${fmtMs(a1.p50Ms)} vs ${fmtMs(b1.p50Ms)} = ${fmtRatio(r)}`)
    }
  }
  for (const c of [64, 256]) {
    const a = get('ours-redis-near', 'cache.get.hot', c)
    const b = get('ioredis-auto', 'cache.get.hot', c)
    if (a && b) {
      const r = ratio(a.opsPerSec, b.opsPerSec)
      check(`Redis, near cache on: hot-key cache.get ops/s ≥ 3× ioredis auto-pipelining, c=${c}`, r, r >= 3, `${fmtOps(a.opsPerSec)} vs ${fmtOps(b.opsPerSec)} = ${fmtRatio(r)}`)
    }
  }
  {
    const a = get('ours-embedded', 'cache.get', 64)
    if (a) check('Embedded: ≥ 1M cache.get/s at c=64', a.opsPerSec, a.opsPerSec >= 1e6, `${fmtOps(a.opsPerSec)} ops/s`)
  }
  // CPU per 100k ops below every JS contender, cell by cell.
  for (const pair of PAIRS) {
    let total = 0
    const worse = []
    for (const [key, a] of agg) {
      const [contender, w, c] = key.split('|')
      if (contender !== pair.ours) continue
      const b = agg.get(`${pair.theirs}|${w}|${c}`)
      if (!b || a.cpu === null || b.cpu === null) continue
      total++
      if (!(a.cpu < b.cpu)) worse.push(`${w} c=${c} (${fmtCpu(a.cpu)} vs ${fmtCpu(b.cpu)})`)
    }
    if (total) {
      check(
        `${CONTENDERS[pair.ours].label}: CPU s/100k ops below ${CONTENDERS[pair.theirs].label}`,
        total,
        worse.length === 0,
        worse.length ? `higher in ${worse.length} of ${total} cells: ${worse.slice(0, 8).join('; ')}${worse.length > 8 ? '; …' : ''}` : `lower in all ${total} cells`,
      )
    }
  }
  if (lines.length === 0) return null
  return ['### Targets (from the issue), this run', '', '| target | this run | |', '|---|---|---|', ...lines].join('\n')
}

/** Per ours-redis-near cell: was the near cache on, and how many calls did it serve. */
function nearNotes(agg) {
  const notes = []
  for (const [key, cell] of agg) {
    if (!key.startsWith('ours-redis-near|') || cell.near.length === 0) continue
    const [, w, c] = key.split('|')
    const off = cell.near.filter((n) => !n.active)
    if (off.length) {
      notes.push(`- ⚠ ours-redis-near ${w} c=${c}: the near cache was not on in ${off.length} of ${cell.near.length} runs (${off[0].note}); these figures are ours without it.`)
      continue
    }
    const rates = cell.near.map((n) => n.counters).filter(Boolean).map((k) => (k.hits + k.misses ? k.hits / (k.hits + k.misses) : 0))
    const inv = cell.near.map((n) => n.counters?.invalidations ?? 0)
    notes.push(`- ours-redis-near ${w} c=${c}: near-cache hit ratio per run (warm-up included) ${rates.map((x) => `${(x * 100).toFixed(2)}%`).join(', ')}; invalidations ${inv.join(', ')}.`)
  }
  return notes.length ? ['Near cache in these runs:', '', ...notes] : []
}

function buildReport(results, meta) {
  const agg = aggregate(results)
  const { machine: m, options: o } = meta
  const workloads = o.workloads
  const concurrency = o.concurrency
  const errors = results.filter((r) => r.error)
  const parts = [
    `## ${meta.title || SECTION}`,
    '',
    `Command: \`${meta.command}\` — run ${meta.date.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}, ${Math.floor(meta.totalSec / 60)} min ${meta.totalSec % 60} s in total.`,
    '',
    `Machine: ${m.nproc} × ${m.cpu} (\`nproc\` ${m.nproc}), ${m.memGiB} GiB, Node.js ${m.node}${meta.redisVersion ? `, Redis ${meta.redisVersion} on 127.0.0.1 (database 9)` : ''}; ` +
      `load average at start ${m.loadavg}${meta.load && meta.load.mean ? `, 1-min load during the run mean ${meta.load.mean} / max ${meta.load.max}` : ''} (the machine is shared: other work may run alongside). ` +
      `Addon: release build, sha256 ${meta.addon.sha}…${m.git ? `, source ${m.git}` : ''}.`,
    '',
    `Method: every cell (contender × workload × concurrency c) runs in its own Node process (the backend is chosen at require time): ` +
      `c concurrent async loops, ${o.warmupMs} ms warm-up, then ${o.ms} ms measured; ${o.rounds} round${o.rounds === 1 ? "" : "s"} with the contenders' order alternated; ` +
      `the tables show medians. Ratios are ours / theirs: above 1 is better for ours in ops/s, below 1 is better for ours in latency and CPU. ` +
      `CPU is \`process.cpuUsage()\` (user + system, all threads) of the client process over the window, per 100k completed operations; ` +
      `the Redis server and the rest-server are not counted. ` +
      `streams.getAllActive runs with 100 live streams among ${o.filler.toLocaleString('en-US')} unrelated keys on the server backends (only the streams on the embedded one).`,
    '',
    'The JS contenders do what the original module does: GET + JSON.parse (@upstash/redis: its automatic deserialization); ' +
      'SETEX + JSON.stringify; rate limit = INCR, then EXPIRE on the first hit (fixed window; ours: its default token bucket, one Lua script); ' +
      'OTP verify = GET, compare as strings, DEL on a match (ours: one atomic script that also counts wrong guesses); ' +
      'getAllActive = KEYS `stream:active:*` + MGET (ours: its index set, SMEMBERS + one pipeline). ' +
      'Every call is checked: a miss or fallback is flagged ⚠. † = fewer completions in the window than concurrent callers (server-bound, few samples); ' +
      `"> ${fmtMs(o.maxWaitMs)}" = no call completed within ${fmtMs(o.maxWaitMs)} after the warm-up (a queue of KEYS calls), shown as 0 ops/s; a server-bound († or "> …") cell is run in one round only.`,
  ]
  const t = targets(agg, concurrency)
  if (t) parts.push('', t)
  for (const pair of PAIRS) {
    const table = pairTable(agg, pair, workloads, concurrency)
    if (table) parts.push('', table)
  }
  const near = nearNotes(agg)
  if (near.length) parts.push('', ...near)
  const flagged = [...agg].filter(([, cell]) => cell.misses || cell.opErrors)
  if (flagged.length) {
    parts.push(
      '',
      '⚠ Misses and errors (counted over all rounds; a rejected call counts as a miss):',
      '',
      ...flagged.map(([key, cell]) => {
        const [contender, w, c] = key.split('|')
        return `- ${contender} ${w} c=${c}: ${cell.misses} misses in the windows, ${cell.opErrors} rejections${cell.firstError ? ` (first: ${cell.firstError.slice(0, 160)})` : ''}`
      }),
    )
  }
  if (errors.length) {
    parts.push('', `Failed runs (${errors.length}):`, '', ...errors.slice(0, 20).map((e) => `- ${e.contender} ${e.workload} c=${e.concurrency}: ${String(e.error).slice(0, 300)}`))
  }
  return parts.join('\n')
}

/** Replaces (or appends) only the "## <title>" section of `file` (default "Throughput and latency"). */
function writeSection(file, section, title = SECTION) {
  const body = section.trimEnd() + '\n'
  let text = ''
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    text = '# Benchmarks\n'
  }
  const lines = text.split('\n')
  const start = lines.findIndex((l) => l.trim() === `## ${title}`)
  let next
  if (start < 0) {
    next = text.trimEnd() + '\n\n' + body
  } else {
    let end = lines.length
    for (let i = start + 1; i < lines.length; i++) {
      if (/^##\s/.test(lines[i]) || /^#\s/.test(lines[i])) {
        end = i
        break
      }
    }
    const before = lines.slice(0, start).join('\n')
    const after = lines.slice(end).join('\n')
    next = `${before}${before ? '\n' : ''}${body}${after ? `\n${after}` : ''}`
    if (!next.endsWith('\n')) next += '\n'
  }
  fs.writeFileSync(file, next)
}

module.exports = { buildReport, writeSection, aggregate, median, SECTION }
