'use strict'

// `digis-redis doctor` on the cluster backend: it names REDIS_CLUSTER_URLS, masks passwords and
// passes every feature check against the cluster the runner started.
const os = require('node:os')
const path = require('node:path')
const { runNodeArgs, backendEnv, ROOT } = require('../../helpers')

test('doctor --json passes every check on the cluster and reports it as the cluster backend', async () => {
  const run = await runNodeArgs([path.join(ROOT, 'bin', 'digis-redis.js'), 'doctor', '--json'], {
    cwd: os.tmpdir(),
    env: { ...backendEnv(), REDIS_URL: 'redis://127.0.0.1:1/ignored' },
    timeoutMs: 30000,
  })
  expect(run.stderr).toBe('')
  const report = JSON.parse(run.stdout)
  expect(report.backend).toMatchObject({ kind: 'cluster', variables: 'REDIS_CLUSTER_URLS', secure: false })
  expect(report.backend.url.split(', ')).toEqual(process.env.REDIS_CLUSTER_URLS.split(','))
  expect(report.notes).toContain('REDIS_URL is also set and ignored: REDIS_CLUSTER_URLS wins over it.')
  expect(report.checks.filter((check) => !check.ok)).toEqual([])
  expect(report.ok).toBe(true)
  expect(run.code).toBe(0)
}, 40000)
