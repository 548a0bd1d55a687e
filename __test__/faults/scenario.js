'use strict'

// Child-process scenarios behind a fault proxy. The child starts the proxy itself (so mode
// switches fall exactly between its calls), points the backend's environment at it, requires
// the package, runs `body`, closes the proxy and prints `{ out, doneAt }`; it never calls
// process.exit, so it must end by itself.
//
// In `body`: `r` (the package), `proxy`, `out` (reported object), `sleep(ms)`,
// `timed(call)` → `{ ms, lagMs, value }`, `P` (a unique key prefix).

const path = require('node:path')
const { runNode, ROOT } = require('../helpers')

const PROXY_MODULE = JSON.stringify(path.join(__dirname, 'fault-proxy.js'))

/** kind: 'redis' (REDIS_URL at the proxy) or 'rest' (UPSTASH_* at the proxy, `token`). */
function proxiedScript({ kind, targetPort, token = '', prefix = 'fault', body }) {
  if (kind !== 'redis' && kind !== 'rest') throw new TypeError(`kind must be redis or rest, got ${kind}`)
  return `
    const { startFaultProxy } = require(${PROXY_MODULE})
    const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
    // A call's time, and how late this process's timers ran meanwhile (lagMs: the longest
    // overshoot of a 10 ms timer): on a loaded machine an answer that is on time by the
    // deadline's clock still reaches JavaScript that much later.
    const timed = async (call) => {
      const started = performance.now()
      let lagMs = 0
      let last = started
      const probe = setInterval(() => {
        const now = performance.now()
        lagMs = Math.max(lagMs, now - last - 10)
        last = now
      }, 10)
      try {
        const value = await call()
        const ended = performance.now()
        return { ms: ended - started, lagMs: Math.max(lagMs, ended - last - 10), value }
      } finally {
        clearInterval(probe)
      }
    }
    const P = ${JSON.stringify(prefix)}
    ;(async () => {
      const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: ${Number(targetPort)} } })
      if (${JSON.stringify(kind)} === 'rest') {
        process.env.UPSTASH_REDIS_REST_URL = 'http://127.0.0.1:' + proxy.port
        process.env.UPSTASH_REDIS_REST_TOKEN = ${JSON.stringify(token)}
      } else {
        process.env.REDIS_URL = 'redis://127.0.0.1:' + proxy.port
      }
      const r = require(${JSON.stringify(ROOT)})
      const out = {}
      try {
        ${body}
      } finally {
        await proxy.close()
      }
      console.log(JSON.stringify({ out, doneAt: Date.now() }))
    })()
  `
}

/** Runs a scenario script; resolves with the run, its `out` and `exitLagMs` (report → exit). */
async function runScenario(script, { env = {}, timeoutMs = 25000 } = {}) {
  const started = Date.now()
  const run = await runNode(script, { env, timeoutMs })
  let report
  try {
    report = JSON.parse(run.stdout.trim().split('\n').pop())
  } catch {
    throw new Error(`the child printed no report (exit ${run.code}):\n${run.stdout}\n${run.stderr}`)
  }
  return { ...run, out: report.out, exitLagMs: started + run.ms - report.doneAt }
}

/** `[digis-redis] <op> failed (<code>)` lines of `text`, as [op, code] pairs. */
function failureLines(text) {
  return [...text.matchAll(/\[digis-redis\] (\S+) failed \((\w+)\)/g)].map((m) => [m[1], m[2]])
}

/** The states named by `[digis-redis] circuit <state>` lines of `text`, in order. */
function circuitStates(text) {
  return [...text.matchAll(/\[digis-redis\] circuit (half-open|open|closed)\b/g)].map((m) => m[1])
}

module.exports = { proxiedScript, runScenario, failureLines, circuitStates, PROXY_MODULE }
