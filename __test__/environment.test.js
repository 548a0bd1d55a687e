'use strict'

// Backend selection from the environment, as the original module reads it.
const { selectBackend, backendOptionsFromEnv } = require('../lib/environment')
const { runNode, ROOT } = require('./helpers')

describe('selectBackend', () => {
  test('Upstash needs both URL and token, and wins over REDIS_URL', () => {
    expect(selectBackend({ UPSTASH_REDIS_REST_URL: 'https://u', UPSTASH_REDIS_REST_TOKEN: 't', REDIS_URL: 'redis://r' })).toEqual({
      kind: 'upstash',
      url: 'https://u',
      token: 't',
    })
    expect(selectBackend({ UPSTASH_REDIS_REST_URL: 'https://u', REDIS_URL: 'redis://r' })).toEqual({ kind: 'redis', url: 'redis://r' })
    expect(selectBackend({ UPSTASH_REDIS_REST_URL: 'https://u' })).toEqual({ kind: 'embedded' })
  })

  test('KV_REST_API_URL / KV_REST_API_TOKEN are fallbacks for the Upstash variables', () => {
    expect(selectBackend({ KV_REST_API_URL: 'https://kv', KV_REST_API_TOKEN: 'kt' })).toEqual({ kind: 'upstash', url: 'https://kv', token: 'kt' })
    expect(selectBackend({ UPSTASH_REDIS_REST_URL: 'https://u', KV_REST_API_TOKEN: 'kt' })).toEqual({ kind: 'upstash', url: 'https://u', token: 'kt' })
  })

  test('REDIS_CLUSTER_URLS comes after Upstash and before REDIS_URL', () => {
    const cluster = ' redis://a:7000, rediss://u:p@b:7001 ,'
    expect(selectBackend({ REDIS_CLUSTER_URLS: cluster, REDIS_URL: 'redis://r' })).toEqual({
      kind: 'cluster',
      urls: ['redis://a:7000', 'rediss://u:p@b:7001'],
    })
    expect(selectBackend({ UPSTASH_REDIS_REST_URL: 'https://u', UPSTASH_REDIS_REST_TOKEN: 't', REDIS_CLUSTER_URLS: cluster }).kind).toBe('upstash')
    expect(selectBackend({ REDIS_CLUSTER_URLS: ' ', REDIS_URL: 'redis://r' })).toEqual({ kind: 'redis', url: 'redis://r' })
  })

  test('nothing set selects the embedded store', () => {
    expect(selectBackend({})).toEqual({ kind: 'embedded' })
    expect(selectBackend({ NODE_ENV: 'development' })).toEqual({ kind: 'embedded' })
  })

  test('in production, nothing set selects no backend unless DIGIS_REDIS_EMBEDDED=1 opts in', () => {
    expect(selectBackend({ NODE_ENV: 'production' })).toEqual({ kind: 'unconfigured' })
    expect(selectBackend({ NODE_ENV: 'production', DIGIS_REDIS_EMBEDDED: '1' })).toEqual({ kind: 'embedded' })
    expect(selectBackend({ NODE_ENV: 'production', DIGIS_REDIS_EMBEDDED: 'true' })).toEqual({ kind: 'unconfigured' })
    expect(selectBackend({ NODE_ENV: 'production', REDIS_URL: 'redis://r' })).toEqual({ kind: 'redis', url: 'redis://r' })
  })
})

describe('production guard: NODE_ENV=production without a backend variable', () => {
  const script = `
    const r = require(${JSON.stringify(ROOT)})
    ;(async () => {
      const results = {
        testConnection: await r.testConnection(),
        set: await r.cache.set('k', { a: 1 }),
        get: await r.cache.get('k'),
        session: await r.sessions.get('s'),
        check: await r.rateLimiter.check('ip', 5, 60),
        otp: await r.otp.verify('a@b.c', '123456'),
        mget: await r.cache.mget(['a', 'b']),
        backend: (await r.health()).backend,
      }
      console.log(JSON.stringify(results))
    })()
  `
  const LOUD = /NODE_ENV=production and no backend is configured: .*Set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, REDIS_CLUSTER_URLS or REDIS_URL; or set DIGIS_REDIS_EMBEDDED=1/

  test("answers the contract's fallbacks, testConnection() is false, and one loud error says what to set", async () => {
    const { stdout, stderr, code } = await runNode(script, { env: { NODE_ENV: 'production' } })
    expect(code).toBe(0)
    expect(JSON.parse(stdout)).toEqual({
      testConnection: false,
      set: false,
      get: null,
      session: null,
      check: expect.objectContaining({ allowed: true, remaining: 5, reset: 60 }),
      otp: false,
      mget: [null, null],
      backend: 'unconfigured',
    })
    expect(stderr.split('\n').filter((line) => LOUD.test(line))).toHaveLength(1)
    // Each failed call names the reason too (the contract logs every fallback).
    expect(stderr).toMatch(/cache\.set failed \(ERR_INVALID_ARGUMENT\): no backend configured \(NODE_ENV=production\)/)
    expect(stderr).not.toMatch(/embedded in-process store/)
  })

  test('DIGIS_REDIS_EMBEDDED=1 opts in to the embedded store on purpose', async () => {
    const { stdout, stderr } = await runNode(script, { env: { NODE_ENV: 'production', DIGIS_REDIS_EMBEDDED: '1' } })
    expect(JSON.parse(stdout)).toMatchObject({ testConnection: true, set: true, get: { a: 1 }, backend: 'embedded' })
    expect(stderr).not.toMatch(LOUD)
    expect(stderr).toMatch(/embedded in-process store/)
  })
})

describe('timeouts from the environment', () => {
  test('whole numbers are taken, anything else is reported and ignored', () => {
    const reports = []
    const options = backendOptionsFromEnv(
      {
        DIGIS_REDIS_TIMEOUT_MS: '250',
        DIGIS_REDIS_CONNECT_TIMEOUT_MS: '-1',
        DIGIS_REDIS_RETRIES: '0',
        DIGIS_REDIS_BREAKER_THRESHOLD: '3',
        DIGIS_REDIS_BREAKER_COOLDOWN_MS: '0',
      },
      (message) => reports.push(message),
    )
    expect(options).toEqual({ callTimeoutMs: 250, retries: 0, breakerThreshold: 3, breakerCooldownMs: 0 })
    expect(reports).toHaveLength(1)
    expect(reports[0]).toMatch(/DIGIS_REDIS_CONNECT_TIMEOUT_MS/)
  })
})

describe('the raw client names its backend without secrets', () => {
  test.each([
    ['redis', { REDIS_URL: 'redis://app:hunter2-secret@127.0.0.1:6399/4' }, /redis redis:\/\/app:\*\*\*@127\.0\.0\.1:6399\/4/],
    [
      'redis-cluster',
      { REDIS_CLUSTER_URLS: 'redis://app:hunter2-secret@127.0.0.1:7399,redis://app:hunter2-secret@127.0.0.1:7400' },
      /redis-cluster redis:\/\/app:\*\*\*@127\.0\.0\.1:7399,redis:\/\/app:\*\*\*@127\.0\.0\.1:7400/,
    ],
    ['upstash', { UPSTASH_REDIS_REST_URL: 'http://127.0.0.1:8099', UPSTASH_REDIS_REST_TOKEN: 'hunter2-secret' }, /upstash http:\/\/127\.0\.0\.1:8099\/? \(token \*\*\*\)/],
  ])('%s', async (_, env, expected) => {
    const { stdout } = await runNode(`console.log(String(require(${JSON.stringify(ROOT)}).redis))`, { env })
    expect(stdout).toMatch(expected)
    expect(stdout).not.toContain('hunter2-secret')
  })
})

describe('a cluster that cannot be used never throws', () => {
  test('bad seed URLs: every call answers its fallback with the reason, secrets masked', async () => {
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      const logged = []
      r.configure({ logger: { error: (m) => logged.push(m) } })
      ;(async () => {
        console.log(JSON.stringify([await r.cache.get('k'), await r.testConnection(), (await r.health()).backend]))
        try { r.configure({ cluster: [] }) } catch (err) { console.log(err.name) }
        console.log(logged.join('\\n'))
      })()
    `
    const { stdout, code } = await runNode(script, { env: { REDIS_CLUSTER_URLS: 'http://app:hunter2-secret@127.0.0.1:1' } })
    expect(code).toBe(0)
    const [first, second, ...logs] = stdout.trim().split('\n')
    expect(JSON.parse(first)).toEqual([null, false, 'redis-cluster'])
    expect(second).toBe('TypeError')
    expect(logs.join('\n')).toMatch(/REDIS_CLUSTER_URLS must start with redis:\/\/ or rediss:\/\//)
    expect(stdout).not.toContain('hunter2-secret')
  })
})

describe('DIGIS_REDIS_IO_THREADS: the threads doing network I/O', () => {
  // A backend with no server (production without a backend variable) still runs its calls on
  // the I/O runtime, so the threads can be counted without Redis.
  const script = `
    const fs = require('node:fs')
    const { cache } = require(${JSON.stringify(ROOT)})
    cache.get('io-threads').then((value) => {
      const names = fs.readdirSync('/proc/self/task').map((t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim())
      console.log(JSON.stringify({ value, io: names.filter((n) => n === 'digis-redis-io').length }))
    })
  `
  const run = (value) => runNode(script, { env: { NODE_ENV: 'production', ...(value === undefined ? {} : { DIGIS_REDIS_IO_THREADS: value }) } })
  const linux = process.platform === 'linux' ? test : test.skip

  linux('one I/O thread by default, the number asked for otherwise', async () => {
    expect(JSON.parse((await run(undefined)).stdout)).toEqual({ value: null, io: 1 })
    expect(JSON.parse((await run('3')).stdout)).toEqual({ value: null, io: 3 })
  })

  linux('anything but a whole number from 1 to 256 is reported once and ignored', async () => {
    for (const bad of ['0', '257', 'two', '-1', '1.5']) {
      const { stdout, stderr } = await run(bad)
      expect(JSON.parse(stdout)).toEqual({ value: null, io: 1 })
      expect(stderr.match(/ignoring DIGIS_REDIS_IO_THREADS must be a whole number from 1 to 256/g)).toHaveLength(1)
      expect(stderr).toContain(JSON.stringify(bad))
    }
  })
})
