'use strict'

// A user-supplied logger that throws must change nothing but the lost line: failed calls still
// answer their fallbacks, and background work never becomes an unhandled rejection.

const mod = require('../..')
const { cache, users, redis } = mod
const { uniquePrefix, runNode, ROOT } = require('../helpers')

const P = uniquePrefix('logger')
afterEach(() => mod.configure({ logger: console, strict: false }))
afterAll(() => cache.delPattern(`${P}*`))

/** A key holding a hash: string commands on it fail on every backend. */
const wrongType = async (key) => {
  await redis.hset(key, { field: 'x' })
  return key
}

const throwingLoggers = {
  'error() throws': { error: () => { throw new Error('logger down') } },
  'warn() and error() throw': { error: () => { throw new Error('logger down') }, warn: () => { throw new Error('warn down') } },
  'warn is a throwing getter': {
    error: () => { throw new Error('logger down') },
    get warn() { throw new Error('getter down') },
  },
}

describe.each(Object.entries(throwingLoggers))('a logger whose %s', (_, logger) => {
  test('fallbacks still answer', async () => {
    mod.configure({ logger })
    await wrongType(`user:${P}:1`)
    await expect(users.get(`${P}:1`)).resolves.toBeNull()
    await expect(cache.get(`user:${P}:1`)).resolves.toBeNull()
    await expect(cache.incr(`user:${P}:1`)).resolves.toBeNull()
    await expect(cache.set(`${P}:circular`, (() => { const o = {}; o.o = o; return o })())).resolves.toBe(false)
    await expect(cache.mget('not an array')).resolves.toEqual([])
  })
})

test('strict mode still rejects with the typed error, not the logger\'s', async () => {
  mod.configure({ logger: throwingLoggers['error() throws'], strict: true })
  await expect(cache.mget('not an array')).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
})

test('a warming loader that throws something unreadable is logged, not rethrown', async () => {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  const lines = []
  mod.configure({ logger: { error: (line) => lines.push(line) } })
  await mod.creators.get(`${P}:popular`)
  const outcome = await mod.creators.warm(() => {
    throw proxy
  })
  expect(outcome).toEqual({ popular: 0, missing: 0, warmed: 0 })
  expect(lines.join('\n')).toMatch(/creators\.warm failed \(ERR_INTERNAL\): a value that cannot be read was thrown/)
})

test('background work with a throwing logger never ends the process', async () => {
  const script = `
    process.on('unhandledRejection', (err) => { console.log('UNHANDLED ' + err.message); process.exit(3) })
    const r = require(${JSON.stringify(ROOT)})
    r.configure({ strict: true, timeoutMs: 200, connectTimeoutMs: 100, logger: { error() { throw new Error('logger down') } } })
    r.analytics.startFlushing({ every: 100 })
    r.creators.startWarming(async () => { throw new Error('loader down') }, { every: 50 })
    r.creators.get('c-1').catch(() => {})
    setTimeout(() => { console.log('ALIVE'); process.exit(0) }, 1500)
  `
  const run = await runNode(script, { env: { REDIS_URL: 'redis://127.0.0.1:1' }, timeoutMs: 20000 })
  expect(run.stdout).not.toMatch(/UNHANDLED/)
  expect(run.stdout).toMatch(/ALIVE/)
  expect(run.stderr).toMatch(/the configured logger threw/)
}, 30000)
