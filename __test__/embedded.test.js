'use strict'

// What only the embedded store has: its load-time warning, memory reclamation, its limits.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { selectBackend } = require('../lib/environment')
const { runNode, ROOT } = require('./helpers')

const embedded = selectBackend().kind === 'embedded'
const describeEmbedded = embedded ? describe : describe.skip

describe('loading without a server', () => {
  test('warns exactly once that data is local to this process', async () => {
    const { stderr } = await runNode(`require(${JSON.stringify(ROOT)}); require(${JSON.stringify(ROOT)})`)
    const warnings = stderr.split('\n').filter((line) => line.includes('[digis-redis]'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/embedded in-process store/)
    expect(warnings[0]).toMatch(/this process only/)
  })

  test('loads .env from the working directory without overriding variables already set', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-dotenv-'))
    try {
      fs.writeFileSync(path.join(dir, '.env'), 'DIGIS_FROM_DOTENV=loaded\nDIGIS_ALREADY_SET=from-dotenv\n')
      const { stdout } = await runNode(
        `require(${JSON.stringify(ROOT)}); console.log(process.env.DIGIS_FROM_DOTENV + ' ' + process.env.DIGIS_ALREADY_SET)`,
        { cwd: dir, env: { DIGIS_ALREADY_SET: 'from-env' } },
      )
      expect(stdout.trim()).toBe('loaded from-env')
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('a process using the module exits by itself (no open handles)', async () => {
    const { code, stdout, ms } = await runNode(
      `const r = require(${JSON.stringify(ROOT)}); r.cache.set('k', {a: 1}, 60).then(() => r.cache.get('k')).then((v) => console.log(JSON.stringify(v)))`,
    )
    expect(code).toBe(0)
    expect(stdout.trim()).toBe('{"a":1}')
    expect(ms).toBeLessThan(5000)
  })
})

describeEmbedded('embedded store', () => {
  const mod = require('..')
  const { cache, redis, streams } = mod
  const { captureLogs, sleep } = require('./helpers')

  test('expired entries are reclaimed by the periodic sweep, without being read', async () => {
    const before = await redis.dbsize()
    await Promise.all(Array.from({ length: 500 }, (_, i) => redis.set(`sweep:${i}`, i, { px: 100 })))
    expect(await redis.dbsize()).toBe(before + 500)
    await sleep(600)
    expect(await redis.dbsize()).toBe(before)
  })

  test('a command it does not implement answers a clear error naming it', async () => {
    const err = await redis.eval('return 1', [], []).catch((e) => e)
    expect(err.code).toBe('ERR_UNSUPPORTED')
    expect(err.message).toMatch(/'EVAL'/i)
    expect(err.message).toMatch(/REDIS_URL/)
  })

  test('getAllActive falls back to [] when the index is unusable', async () => {
    await streams.setActive('s1', { id: 's1' })
    await redis.del('stream:index:active')
    await redis.set('stream:index:active', 'not a set')
    const logs = captureLogs(mod)
    try {
      await expect(streams.getAllActive()).resolves.toEqual([])
      expect(logs.errors).toHaveLength(1)
      expect(logs.errors[0]).toMatch(/streams.getAllActive failed \(ERR_COMMAND\): WRONGTYPE/)
    } finally {
      logs.restore()
      await redis.del('stream:index:active')
    }
  })

  test('each process has its own data', async () => {
    await cache.set('shared?', 'only here')
    const { stdout } = await runNode(`require(${JSON.stringify(ROOT)}).cache.get('shared?').then((v) => console.log(JSON.stringify(v)))`)
    expect(stdout.trim()).toBe('null')
  })
})
