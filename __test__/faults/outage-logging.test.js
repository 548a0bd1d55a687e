'use strict'

// Through an outage every call fails the same way: each operation's outage failure is logged
// once per interval, and one line then counts the failures not logged, so the log stays
// readable and every failure is still accounted for.

const { runNode, freePort, ROOT } = require('../helpers')

const INTERVAL_MS = 400
const LOAD_MS = 1300

/** Hammers two operations on a refused port for LOAD_MS, then waits for the last summaries. */
const script = (interval) => `
  let lines = 0
  const byKind = {}
  let calls = 0
  console.error = (line) => {
    lines++
    const full = /^\\[digis-redis\\] (\\S+) failed \\((\\w+)\\): /.exec(line)
    const summary = /^\\[digis-redis\\] (\\S+) failed \\((\\w+)\\) (\\d+) more times? in the last /.exec(line)
    const m = full || summary
    if (!m) return
    const kind = (byKind[m[1] + ' ' + m[2]] ??= { full: 0, counted: 0 })
    if (full) kind.full++
    else kind.counted += Number(summary[3])
  }
  const r = require(${JSON.stringify(ROOT)})
  r.configure({ logIntervalMs: ${interval} })
  const until = Date.now() + ${LOAD_MS}
  const caller = async (i) => {
    while (Date.now() < until) {
      await (i % 2 ? r.cache.get('k') : r.users.get(1))
      calls++
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  Promise.all(Array.from({ length: 50 }, (_, i) => caller(i))).then(() =>
    setTimeout(() => { process.stdout.write(JSON.stringify({ lines, byKind, calls })); process.exit(0) }, ${interval} + 300),
  )
`

async function outage(interval) {
  const port = await freePort()
  const run = await runNode(script(interval), {
    env: { REDIS_URL: `redis://127.0.0.1:${port}`, DIGIS_REDIS_TIMEOUT_MS: '200', DIGIS_REDIS_BREAKER_COOLDOWN_MS: '100' },
    timeoutMs: 20000,
  })
  expect(run.code).toBe(0)
  return JSON.parse(run.stdout)
}

test('each operation and code is logged once per interval, the rest counted; every failure accounted for', async () => {
  const { lines, byKind, calls } = await outage(INTERVAL_MS)
  const kinds = Object.keys(byKind)
  expect(kinds.length).toBeGreaterThan(0)
  for (const kind of kinds) expect(kind).toMatch(/^(cache\.get|users\.get) ERR_(CONNECTION|TIMEOUT|CIRCUIT_OPEN|PROTOCOL)$/)
  // At most one full line per kind and interval begun during the load (generous for a slow machine).
  const intervals = Math.ceil(LOAD_MS / INTERVAL_MS) + 1
  for (const kind of kinds) expect(byKind[kind].full).toBeLessThanOrEqual(intervals)
  expect(lines).toBeLessThanOrEqual(kinds.length * intervals * 2)
  // Every failed call is one logged line or counted in a summary.
  const accounted = kinds.reduce((sum, kind) => sum + byKind[kind].full + byKind[kind].counted, 0)
  expect(accounted).toBe(calls)
  expect(calls).toBeGreaterThan(lines * 10)
}, 30000)

test('logIntervalMs 0 logs every failed call', async () => {
  const { lines, calls } = await outage(0)
  expect(lines).toBe(calls)
}, 30000)

test('the interval is 10 s unless DIGIS_REDIS_LOG_INTERVAL_MS says otherwise', async () => {
  const read = (value) =>
    runNode(`process.stdout.write(String(require(${JSON.stringify(ROOT)}).configure({}).logIntervalMs))`, {
      env: { DIGIS_REDIS_LOG_INTERVAL_MS: value },
    })
  expect((await read('')).stdout).toBe('10000')
  expect((await read('2500')).stdout).toBe('2500')
  const bad = await read('soon')
  expect(bad.stdout).toBe('10000')
  expect(bad.stderr).toMatch(/ignoring DIGIS_REDIS_LOG_INTERVAL_MS/)
})
