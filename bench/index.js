#!/usr/bin/env node
'use strict'

// npm run bench [-- --write] — this package against the JS way of doing the same thing, per
// backend, each cell in its own process (the backend is chosen at require time), contenders
// alternated and every cell repeated; medians and ours/theirs ratios as markdown tables.
//
// Options (environment variable, or --name=value on the command line):
//   BENCH_BACKENDS     embedded,redis,rest            which backend pairs to run
//   BENCH_WORKLOADS    the seven of the issue         e.g. cache.get,otp.verify; also
//                                                     rateLimiter.fixed (ours fixed-window)
//   BENCH_CONCURRENCY  1,64,256
//   BENCH_CONTENDERS   all of the selected backends   e.g. ours-redis,ioredis-auto; opt-in
//                      (except ours-redis-near)       ones run only when named here
//   BENCH_ROUNDS       3                              repetitions of every cell
//   BENCH_MS           2000                           measured window per run
//   BENCH_WARMUP_MS    max(200, BENCH_MS / 4)         warm-up before the window
//   BENCH_FILLER       1000000                        unrelated keys for streams.getAllActive
//   BENCH_MAX_WAIT_MS  10000                          give up on a cell with no completion
//                                                     this long after the warm-up (KEYS
//                                                     queues); later rounds then skip it
//   BENCH_REDIS_URL    redis://127.0.0.1:6379/9
//   BENCH_TITLE        Throughput and latency         the report's heading (and the section
//                                                     --write replaces)
// Flags: --write (replace the "Throughput and latency" section of BENCHMARKS.md),
//        --build (npm run build first), --json=<file> (raw results; default bench/last-run.json)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const { spawn, spawnSync, execFileSync } = require('node:child_process')
const { CONTENDERS } = require('./contenders')
const { WORKLOADS, EXTRA_WORKLOADS } = require('./workloads')
const { RespClient, pipelined, unlinkMatching, waitIdle } = require('./resp')
const { ROOT, BENCH_DIR, DEFAULT_REDIS_URL, uniquePrefix, startRestServer, childEnv } = require('./common')
const { buildReport, writeSection, SECTION } = require('./report')

const GROUPS = {
  embedded: ['ours-embedded', 'lru-cache'],
  redis: ['ours-redis', 'ours-redis-near', 'ioredis', 'ioredis-auto'],
  rest: ['ours-rest', 'upstash'],
}

function options() {
  const flags = {}
  for (const arg of process.argv.slice(2)) {
    const m = /^--([\w-]+)(?:=(.*))?$/.exec(arg)
    if (!m) throw new Error(`unknown argument '${arg}'`)
    flags[m[1]] = m[2] ?? true
  }
  const pick = (name, fallback) => flags[name.toLowerCase().replace(/^bench_/, '').replace(/_/g, '-')] ?? process.env[name] ?? fallback
  const list = (value) => String(value).split(',').map((s) => s.trim()).filter(Boolean)
  const ms = Number(pick('BENCH_MS', 2000))
  const o = {
    backends: list(pick('BENCH_BACKENDS', 'embedded,redis,rest')),
    workloads: list(pick('BENCH_WORKLOADS', WORKLOADS.join(','))),
    concurrency: list(pick('BENCH_CONCURRENCY', '1,64,256')).map(Number),
    contenders: pick('BENCH_CONTENDERS', null),
    rounds: Number(pick('BENCH_ROUNDS', 3)),
    ms,
    warmupMs: Number(pick('BENCH_WARMUP_MS', Math.max(200, Math.round(ms / 4)))),
    filler: Number(pick('BENCH_FILLER', 1000000)),
    maxWaitMs: Number(pick('BENCH_MAX_WAIT_MS', 10000)),
    redisUrl: pick('BENCH_REDIS_URL', DEFAULT_REDIS_URL),
    title: pick('BENCH_TITLE', SECTION),
    write: Boolean(flags.write),
    build: Boolean(flags.build),
    json: typeof flags.json === 'string' ? flags.json : path.join(BENCH_DIR, 'last-run.json'),
  }
  for (const b of o.backends) if (!GROUPS[b]) throw new Error(`unknown backend '${b}' (embedded, redis, rest)`)
  const known = [...WORKLOADS, ...EXTRA_WORKLOADS]
  for (const w of o.workloads) if (!known.includes(w)) throw new Error(`unknown workload '${w}' (${known.join(', ')})`)
  if (o.contenders) {
    o.contenders = list(o.contenders)
    for (const c of o.contenders) if (!CONTENDERS[c]) throw new Error(`unknown contender '${c}'`)
  }
  if (!(o.rounds >= 1) || !(o.ms >= 50) || o.concurrency.some((c) => !(c >= 1))) throw new Error('bad rounds, ms or concurrency')
  return o
}

const log = (msg) => process.stderr.write(`${msg}\n`)

/** ELF section names of the addon: a debug build carries .debug_info, the release one is stripped. */
function elfSections(file) {
  const fd = fs.openSync(file, 'r')
  try {
    const header = Buffer.alloc(64)
    fs.readSync(fd, header, 0, 64, 0)
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2) return null
    const shoff = Number(header.readBigUInt64LE(0x28))
    const shentsize = header.readUInt16LE(0x3a)
    const shnum = header.readUInt16LE(0x3c)
    const shstrndx = header.readUInt16LE(0x3e)
    const table = Buffer.alloc(shentsize * shnum)
    fs.readSync(fd, table, 0, table.length, shoff)
    const strOff = Number(table.readBigUInt64LE(shstrndx * shentsize + 0x18))
    const strSize = Number(table.readBigUInt64LE(shstrndx * shentsize + 0x20))
    const names = Buffer.alloc(strSize)
    fs.readSync(fd, names, 0, strSize, strOff)
    const out = []
    for (let i = 0; i < shnum; i++) {
      const at = table.readUInt32LE(i * shentsize)
      out.push(names.toString('latin1', at, names.indexOf(0, at)))
    }
    return out
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Copies the package under test (JS layer + addon) into bench/.run-<pid>/ so every child of
 * this run loads the same version, whatever teammates rebuild or edit meanwhile.
 */
function snapshotPackage() {
  const file = fs.readdirSync(ROOT).find((f) => /^digis-redis\..*\.node$/.test(f))
  if (!file) throw new Error('no digis-redis.*.node: run `npm run build` first')
  const source = path.join(ROOT, file)
  const sections = elfSections(source)
  const debug = sections ? sections.includes('.debug_info') : false
  if (debug && !process.env.BENCH_ALLOW_DEBUG) {
    throw new Error(`${file} is a debug build (it has .debug_info): run \`npm run build\` (release) first, or pass --build`)
  }
  const dir = path.join(BENCH_DIR, `.run-${process.pid}`)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir)
  for (const name of ['package.json', 'index.js', 'binding.js', file]) fs.copyFileSync(path.join(ROOT, name), path.join(dir, name))
  for (const name of ['lib', 'bin']) fs.cpSync(path.join(ROOT, name), path.join(dir, name), { recursive: true })
  const bytes = fs.readFileSync(source)
  const sha = crypto.createHash('sha256').update(bytes).digest('hex').slice(0, 12)
  const mtime = fs.statSync(source).mtime.toISOString()
  return { file, dir, sha, mtime, size: bytes.length, debug }
}

function machine() {
  let cpu = 'unknown'
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))
    if (m) cpu = m[1].trim()
  } catch {}
  let nproc = os.availableParallelism ? os.availableParallelism() : os.cpus().length
  try {
    nproc = Number(execFileSync('nproc', { encoding: 'utf8' }).trim()) || nproc
  } catch {}
  let git = null
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' }).trim()
    git = `${head}${dirty ? ' + uncommitted changes' : ''}`
  } catch {}
  return { nproc, cpu, node: process.version, memGiB: Math.round(os.totalmem() / 2 ** 30), loadavg: os.loadavg().map((x) => x.toFixed(2)).join(' '), git }
}

/** Runs one cell in a child process; resolves with its JSON line or { error }. */
function runChild(contender, workload, concurrency, o, env) {
  const args = [path.join(BENCH_DIR, 'run-one.js'), contender, workload, String(concurrency), String(o.ms)]
  const timeoutMs = o.warmupMs + o.ms + 240000
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: BENCH_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err = (err + d).slice(-8000)))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.trim().split('\n').pop()
      try {
        if (code !== 0) throw new Error(`exit ${code ?? signal}`)
        resolve(JSON.parse(line))
      } catch (e) {
        resolve({ contender, workload, concurrency, error: `${e.message}: ${err.trim().split('\n').slice(-6).join(' | ')}` })
      }
    })
  })
}

async function loadFiller(resp, P, count) {
  const cmds = []
  for (let s = 0; s < count; s += 1000) {
    const args = ['MSET']
    for (let i = s; i < Math.min(count, s + 1000); i++) args.push(`${P}:fill:${i}`, 'x')
    cmds.push(args)
  }
  await pipelined(resp, cmds, { batch: 20, inFlight: 4 })
}

function runStreamsCommand(flag, env) {
  const r = spawnSync(process.execPath, [path.join(BENCH_DIR, 'run-one.js'), flag], { cwd: BENCH_DIR, env, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${flag} failed: ${r.stderr}`)
}

const fmtOps = (x) => (x >= 1e6 ? `${(x / 1e6).toFixed(2)}M` : x >= 1e3 ? `${(x / 1e3).toFixed(1)}k` : x.toFixed(1))
const fmtMs = (x) => (x === null || x === undefined ? '—' : x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`)

async function main() {
  const o = options()
  const startedAt = new Date()
  const t0 = Date.now()
  if (o.build) {
    log('npm run build (release) …')
    const r = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' })
    if (r.status !== 0) throw new Error('npm run build failed')
  }
  const addon = snapshotPackage()
  const info = machine()
  log(`addon ${addon.file} sha256:${addon.sha} (${(addon.size / 1e6).toFixed(1)} MB${addon.debug ? ', DEBUG BUILD' : ''}); package snapshot in ${addon.dir}`)

  const P = uniquePrefix()
  const needServer = o.backends.some((b) => b !== 'embedded')
  let resp = null
  let rest = null
  let redisVersion = null
  let streamsSeeded = false
  const results = []
  const loadSamples = []
  const cleanup = async () => {
    if (!resp) return
    try {
      if (streamsSeeded) runStreamsCommand('--unseed-streams', childEnv('ours-redis', { redisUrl: o.redisUrl, prefix: P, extra: { BENCH_PACKAGE_DIR: addon.dir } }))
      await waitIdle(resp, { thresholdMs: 5, timeoutMs: 300000 })
      const deleted = await unlinkMatching(resp, `*${P}*`)
      log(`cleanup: unlinked ${deleted} keys matching *${P}*`)
    } catch (e) {
      log(`cleanup failed (keys under *${P}* may remain): ${e.message}`)
    }
  }
  let interrupted = false
  const onSignal = () => {
    if (interrupted) process.exit(130)
    interrupted = true
    log('interrupted: finishing the current run, then cleaning up (Ctrl-C again to abort)')
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    if (needServer) {
      try {
        resp = await RespClient.connect(o.redisUrl)
        const server = await resp.command(['INFO', 'server'])
        redisVersion = /redis_version:(\S+)/.exec(server)?.[1] ?? null
      } catch (e) {
        throw new Error(`Redis at ${o.redisUrl} is not reachable (${e.message}); run with BENCH_BACKENDS=embedded or start Redis`)
      }
      if (o.backends.includes('rest')) {
        rest = await startRestServer(o.redisUrl, { BENCH_PACKAGE_DIR: addon.dir })
        log(`rest-server at ${rest.url}`)
      }
    }
    const groups = o.backends
      .map((b) => [b, GROUPS[b].filter((c) => (o.contenders ? o.contenders.includes(c) : !CONTENDERS[c].optIn))])
      .filter(([, cs]) => cs.length)
    const perRound = o.workloads.length * o.concurrency.length * groups.reduce((n, [, cs]) => n + cs.length, 0)
    const total = perRound * o.rounds
    log(`${total} runs: ${o.rounds} rounds × ${o.workloads.join(', ')} × c=${o.concurrency.join(',')} × ${groups.map(([, cs]) => cs.join('/')).join(', ')}; ${o.ms} ms each after ${o.warmupMs} ms warm-up`)
    let done = 0
    const gaveUp = new Set()
    const baseEnv = (contender, extra = {}) =>
      childEnv(contender, {
        redisUrl: o.redisUrl,
        restUrl: rest?.url,
        restToken: rest?.token,
        prefix: P,
        extra: { BENCH_PACKAGE_DIR: addon.dir, BENCH_WARMUP_MS: String(o.warmupMs), BENCH_MAX_WAIT_MS: String(o.maxWaitMs), ...extra },
      })

    // Preflight: the snapshot's JS layer and addon must work together on every backend.
    for (const [, contenders] of groups) {
      for (const contender of contenders.filter((c) => CONTENDERS[c].ours)) {
        const r = await runChild(contender, 'cache.get', 1, { ...o, ms: 100 }, baseEnv(contender))
        if (r.error) throw new Error(`preflight ${contender} cache.get failed (is the addon built from the current source? \`npm run build\`): ${r.error}`)
      }
    }

    for (const workload of o.workloads) {
      if (interrupted) break
      const streams = workload === 'streams.getAllActive'
      if (streams && resp) {
        const t = Date.now()
        await loadFiller(resp, P, o.filler)
        runStreamsCommand('--seed-streams', baseEnv('ours-redis'))
        streamsSeeded = true
        log(`loaded ${o.filler} unrelated keys and 100 live streams in ${Date.now() - t} ms`)
      }
      for (let round = 0; round < o.rounds && !interrupted; round++) {
        for (const [ci, concurrency] of o.concurrency.entries()) {
          for (const [, contenders] of groups) {
            // Alternate who goes first, round by round.
            const shift = (round + ci) % contenders.length
            const order = [...contenders.slice(shift), ...contenders.slice(0, shift)]
            for (const contender of order) {
              if (interrupted) break
              if (gaveUp.has(`${contender}|${workload}|${concurrency}`)) {
                done++
                continue
              }
              loadSamples.push(os.loadavg()[0])
              const server = CONTENDERS[contender].group !== 'embedded'
              if (server) await waitIdle(resp, { thresholdMs: 5 })
              const r = await runChild(contender, workload, concurrency, o, baseEnv(contender, streams ? { BENCH_STREAMS_SEEDED: '1' } : {}))
              r.round = round
              results.push(r)
              // A server-bound cell (a queue of KEYS calls) says the same every round and
              // costs tens of seconds of server time: it runs once.
              if (r.noCompletionWithinMs || r.saturated) gaveUp.add(`${contender}|${workload}|${concurrency}`)
              done++
              const elapsed = ((Date.now() - t0) / 1000).toFixed(0)
              if (r.error) log(`[${done}/${total} ${elapsed}s] ${workload} c=${concurrency} ${contender}: ERROR ${r.error}`)
              else
                log(
                  `[${done}/${total} ${elapsed}s] ${workload} c=${concurrency} ${contender}: ${fmtOps(r.opsPerSec)} ops/s p50 ${fmtMs(r.p50Ms)} p99 ${fmtMs(r.p99Ms)} cpu ${r.cpuSecPer100k} s/100k${r.near ? ` near ${r.near.active ? `hits ${r.near.counters?.hits} misses ${r.near.counters?.misses}` : 'OFF'}` : ''}${r.misses ? ` MISSES ${r.misses}` : ''}${r.errors ? ` ERRORS ${r.errors} (${r.firstError})` : ''}${r.noCompletionWithinMs ? ` (nothing completed within ${r.noCompletionWithinMs} ms; later rounds skip this cell)` : r.saturated ? ' (server-bound; later rounds skip this cell)' : ''}`,
                )
            }
          }
        }
      }
      if (streams && resp) {
        await waitIdle(resp, { thresholdMs: 5, timeoutMs: 300000 })
        runStreamsCommand('--unseed-streams', baseEnv('ours-redis'))
        streamsSeeded = false
        const deleted = await unlinkMatching(resp, `${P}:fill:*`)
        log(`removed ${deleted} unrelated keys`)
      }
    }
  } finally {
    await cleanup()
    if (rest) await rest.stop()
    if (resp) resp.close()
    fs.rmSync(addon.dir, { recursive: true, force: true })
  }

  const totalSec = Math.round((Date.now() - t0) / 1000)
  const meta = {
    command: commandLine(o),
    date: startedAt.toISOString(),
    totalSec,
    machine: info,
    redisVersion,
    load: {
      mean: loadSamples.length ? (loadSamples.reduce((a, b) => a + b, 0) / loadSamples.length).toFixed(2) : null,
      max: loadSamples.length ? Math.max(...loadSamples).toFixed(2) : null,
      end: os.loadavg()[0].toFixed(2),
    },
    addon: { sha: addon.sha, mtime: addon.mtime, file: addon.file },
    title: o.title,
    options: { rounds: o.rounds, ms: o.ms, warmupMs: o.warmupMs, filler: o.filler, maxWaitMs: o.maxWaitMs, concurrency: o.concurrency, backends: o.backends, workloads: o.workloads },
  }
  fs.writeFileSync(o.json, `${JSON.stringify({ meta, results }, null, 1)}\n`)
  const report = buildReport(results, meta)
  process.stdout.write(`${report}\n`)
  log(`raw results: ${o.json}; total ${totalSec} s`)
  if (o.write) {
    const file = path.join(ROOT, 'BENCHMARKS.md')
    writeSection(file, report, o.title)
    log(`wrote the "${o.title}" section of ${file}`)
  }
  if (interrupted) process.exitCode = 130
}

/** The command that reproduces this run, with the options that differ from the defaults. */
function commandLine(o) {
  const env = []
  if (o.backends.join(',') !== 'embedded,redis,rest') env.push(`BENCH_BACKENDS=${o.backends.join(',')}`)
  if (o.workloads.join(',') !== WORKLOADS.join(',')) env.push(`BENCH_WORKLOADS=${o.workloads.join(',')}`)
  if (o.concurrency.join(',') !== '1,64,256') env.push(`BENCH_CONCURRENCY=${o.concurrency.join(',')}`)
  if (o.contenders) env.push(`BENCH_CONTENDERS=${o.contenders.join(',')}`)
  if (o.rounds !== 3) env.push(`BENCH_ROUNDS=${o.rounds}`)
  if (o.ms !== 2000) env.push(`BENCH_MS=${o.ms}`)
  if (o.warmupMs !== Math.max(200, Math.round(o.ms / 4))) env.push(`BENCH_WARMUP_MS=${o.warmupMs}`)
  if (o.filler !== 1000000) env.push(`BENCH_FILLER=${o.filler}`)
  if (o.maxWaitMs !== 10000) env.push(`BENCH_MAX_WAIT_MS=${o.maxWaitMs}`)
  if (o.redisUrl !== DEFAULT_REDIS_URL) env.push(`BENCH_REDIS_URL=${o.redisUrl}`)
  if (o.title !== SECTION) env.push(`BENCH_TITLE='${o.title}'`)
  return `npm run build && ${[...env, 'npm run bench'].join(' ')}${o.write ? ' -- --write' : ''}`
}

main().catch((err) => {
  log(`bench failed: ${err && err.stack ? err.stack : err}`)
  process.exit(1)
})
