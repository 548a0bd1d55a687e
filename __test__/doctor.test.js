'use strict'

// `digis-redis doctor` as a user runs it: the CLI in a child process whose backend comes only from
// the environment given, against the embedded store, a private redis-server and a rest-server in
// front of it; and against a wrong token and a dead port, where it must fail (exit code 1) with
// an explanation and without ever printing the secret.
const os = require('node:os')
const path = require('node:path')
const { freePort, runNodeArgs, ROOT } = require('./helpers')
const { usePrivateServers, describeWithRedisServer, rawCommands } = require('./faults/redis-server')

const BIN = path.join(ROOT, 'bin', 'digis-redis.js')
const FEATURE_CHECKS = [
  'connection',
  'latency',
  'cache',
  'JSON values',
  'sessions',
  'users and token balances',
  'creators',
  'streams',
  'rate limiting',
  'one-time codes',
  'cache-aside, locks and idempotency',
  'express adapters',
  'raw client and expiry',
  'near cache',
]

/** Runs the CLI in a directory without a .env: `{ code, stdout, stderr }`. */
function doctor(env, args = []) {
  return runNodeArgs([BIN, 'doctor', ...args], { env, cwd: os.tmpdir(), timeoutMs: 20000 })
}

/** The JSON report of a passing run, with every check present and passed. */
function expectAllPassed(run, kind) {
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  const report = JSON.parse(run.stdout)
  expect(report.ok).toBe(true)
  expect(report.backend.kind).toBe(kind)
  expect(report.checks.map((c) => c.name)).toEqual(FEATURE_CHECKS)
  for (const check of report.checks) expect(check).toMatchObject({ ok: true, detail: expect.any(String) })
  expect(report.latency).toEqual({ samples: 50, p50Ms: expect.any(Number), p99Ms: expect.any(Number) })
  expect(report.latency.p99Ms).toBeGreaterThanOrEqual(report.latency.p50Ms)
  return report
}

test('embedded store: every check passes, and the text report says which backend and why', async () => {
  const run = await doctor({})
  expect(run.code).toBe(0)
  expect(run.stdout).toMatch(/^Backend {3}embedded \(none set\)$/m)
  expect(run.stdout).toMatch(/Note {6}No UPSTASH_REDIS_REST_URL/)
  for (const name of FEATURE_CHECKS) expect(run.stdout).toMatch(new RegExp(`^ok {4}${name} `, 'm'))
  expect(run.stdout).toMatch(/All 14 checks passed\.\n$/)
  expectAllPassed(await doctor({}, ['--json']), 'embedded')
})

test('--help explains the command; an unknown flag is a usage error', async () => {
  const help = await doctor({}, ['--help'])
  expect(help.code).toBe(0)
  expect(help.stdout).toMatch(/Usage: digis-redis doctor \[--json\]/)
  const bad = await doctor({}, ['--jsn'])
  expect(bad.code).toBe(2)
})

test('a dead port fails with "nothing listens", exit code 1, and never shows the password', async () => {
  const port = await freePort()
  const password = 'hunter2-secret-password'
  const run = await doctor({ REDIS_URL: `redis://:${password}@127.0.0.1:${port}` })
  expect(run.code).toBe(1)
  expect(run.stdout).toMatch(/^FAIL {2}connection .*ERR_CONNECTION/m)
  expect(run.stdout).toMatch(/Nothing listens at that host and port/)
  expect(run.stdout).toMatch(/^skip {2}cache /m)
  expect(run.stdout).toMatch(/1 of 14 checks failed, 13 skipped/)
  expect(run.stdout).toContain(`redis://:***@127.0.0.1:${port}`)
  expect(run.stdout + run.stderr).not.toContain(password)

  const rest = await doctor({ UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${port}`, UPSTASH_REDIS_REST_TOKEN: password }, ['--json'])
  expect(rest.code).toBe(1)
  const report = JSON.parse(rest.stdout)
  expect(report.ok).toBe(false)
  expect(report.checks[0]).toMatchObject({ name: 'connection', ok: false, hint: expect.stringMatching(/Nothing listens/) })
  expect(report.checks.slice(1).every((c) => c.skipped)).toBe(true)
  expect(rest.stdout + rest.stderr).not.toContain(password)
})

describeWithRedisServer('doctor against servers', () => {
  const servers = usePrivateServers()

  test('Redis server: every check passes and nothing is left behind', async () => {
    const url = `redis://127.0.0.1:${servers.targets.redis}`
    const report = expectAllPassed(await doctor({ REDIS_URL: url }, ['--json']), 'redis')
    expect(report.backend.url).toBe(url)
    // The server announces key changes: the near cache can serve on it.
    expect(report.checks.find((c) => c.name === 'near cache').detail).toMatch(/^tracking live in [\d.]+ ms; a change was announced in [\d.]+ ms$/)
    const [keys] = await rawCommands(servers.targets.redis, [['KEYS', '*doctor-*']])
    expect(keys).toEqual([])
  })

  test('rest-server: every check passes; the token is described, never shown', async () => {
    const url = `http://127.0.0.1:${servers.targets.rest}`
    const run = await doctor({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: servers.token }, ['--json'])
    const report = expectAllPassed(run, 'upstash')
    expect(report.backend).toMatchObject({ url, token: `set, ${servers.token.length} characters (hidden)` })
    expect(run.stdout).not.toContain(servers.token)
  })

  test('a wrong token fails with 401 explained, exit code 1, and neither token shown', async () => {
    const wrong = `${servers.token.slice(0, 8)}-wrong-token`
    const run = await doctor({ UPSTASH_REDIS_REST_URL: `http://127.0.0.1:${servers.targets.rest}`, UPSTASH_REDIS_REST_TOKEN: wrong })
    expect(run.code).toBe(1)
    expect(run.stdout).toMatch(/^FAIL {2}connection .*WRONGPASS/m)
    expect(run.stdout).toMatch(/401 Unauthorized: UPSTASH_REDIS_REST_TOKEN is not the token of this database/)
    expect(run.stdout + run.stderr).not.toContain(wrong)
    expect(run.stdout + run.stderr).not.toContain(servers.token)
  })
})

test('NODE_ENV=production without a backend: exit 1, the note says what to set, no stray output', async () => {
  const run = await doctor({ NODE_ENV: 'production' })
  expect(run.code).toBe(1)
  expect(run.stderr).toBe('')
  expect(run.stdout).toMatch(/^Backend {3}unconfigured \(none set, NODE_ENV=production\)$/m)
  expect(run.stdout).toMatch(/^Note {6}NODE_ENV=production and no backend is configured: .*DIGIS_REDIS_EMBEDDED=1/m)
  expect(run.stdout).toMatch(/^FAIL {2}connection .*no backend configured/m)
  const optedIn = await doctor({ NODE_ENV: 'production', DIGIS_REDIS_EMBEDDED: '1' })
  expect(optedIn.code).toBe(0)
  expect(optedIn.stdout).toMatch(/^Backend {3}embedded \(none set, DIGIS_REDIS_EMBEDDED=1\)$/m)
})

test('an Upstash URL carrying ?_token= is shown masked and the token appears nowhere', async () => {
  const queryToken = 'QueryTok3n-secret-value'
  const url = `http://127.0.0.1:1/?_token=${queryToken}`
  for (const args of [[], ['--json']]) {
    const run = await doctor({ UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: 'other-header-token' }, args)
    expect(run.code).toBe(1)
    expect(run.stdout).toContain('http://127.0.0.1:1/?_token=***')
    expect(run.stdout + run.stderr).not.toContain(queryToken)
    expect(run.stdout + run.stderr).not.toContain('other-header-token')
  }
})

describe('doctor: the cluster selection', () => {
  const { describeEnvironment, redact } = require('../lib/doctor')
  const env = { REDIS_CLUSTER_URLS: 'rediss://:s3cret-one@10.0.0.1:6380, redis://ops:s3cret-two@10.0.0.2:6379', REDIS_URL: 'redis://127.0.0.1:6379' }

  test('names REDIS_CLUSTER_URLS, masks every seed password and notes what it ignores', () => {
    const { backend, notes } = describeEnvironment(env)
    expect(backend).toMatchObject({ kind: 'cluster', variables: 'REDIS_CLUSTER_URLS', secure: true })
    expect(backend.url).toBe('rediss://:***@10.0.0.1:6380, redis://ops:***@10.0.0.2:6379')
    expect(notes).toContain('REDIS_URL is also set and ignored: REDIS_CLUSTER_URLS wins over it.')
    expect(notes.join(' ')).toMatch(/redis:\/\/ to a remote host/)
  })

  test('no output line can carry a seed password', () => {
    expect(redact('auth failed for s3cret-one and s3cret-two', env)).toBe('auth failed for *** and ***')
    // The core's rule, through the binding: a password in the user position, a socket's ?pass=.
    expect(redact('no auth for pw-in-user or sockpass9', { REDIS_CLUSTER_URLS: 'redis://pw-in-user@h:1,unix:///s?pass=sockpass9' })).toBe(
      'no auth for *** or ***',
    )
  })
})
