'use strict'

// Rate limits hold across server instances: 4 Node processes × 200 concurrent checks against a
// limit of 100 on one server admit exactly 100.
const { selectBackend } = require('../../../lib/environment')
const { runNode, uniquePrefix, ROOT } = require('../../helpers')

const selection = selectBackend()
const describeServer = selection.kind === 'embedded' ? describe.skip : describe
const BACKEND_ENV = ['REDIS_URL', 'REDIS_CLUSTER_URLS', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN']

describeServer('rate limits across processes', () => {
  test.each(['token-bucket', 'sliding-window', 'fixed-window'])('%s: exactly 100 of 800 allowed', async (algorithm) => {
    const identifier = `${uniquePrefix('procs')}-${algorithm}`
    const startAt = Date.now() + 1500
    const env = Object.fromEntries(BACKEND_ENV.filter((n) => process.env[n]).map((n) => [n, process.env[n]]))
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      setTimeout(async () => {
        const results = await Promise.all(Array.from({ length: 200 }, () =>
          r.rateLimiter.check(${JSON.stringify(identifier)}, 100, 86400, { algorithm: ${JSON.stringify(algorithm)} })))
        console.log(results.filter((x) => x.allowed).length)
      }, ${startAt} - Date.now())
    `
    const runs = await Promise.all(Array.from({ length: 4 }, () => runNode(script, { env, timeoutMs: 30000 })))
    for (const run of runs) expect(run.stderr).not.toMatch(/failed/)
    const allowed = runs.map((run) => Number(run.stdout.trim()))
    expect(allowed.reduce((a, b) => a + b, 0)).toBe(100)
    const mod = require('../../..')
    await mod.rateLimiter.reset(identifier)
  }, 40000)
})
