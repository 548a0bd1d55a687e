'use strict'

const mod = require('../..')
const { cache, redis, TTL, DigisRedisError } = mod
const { selectBackend } = require('../../lib/environment')
const { uniquePrefix, captureLogs, sleep, storedText, runNode, ROOT, backendEnv } = require('../helpers')

const P = uniquePrefix('wrap')
const server = selectBackend().kind !== 'embedded'
let n = 0
const key = (name) => `${P}:${name}:${n++}`

/** A loader that counts its calls and answers `value` after `ms`. */
function counted(value, ms = 0) {
  const loader = async () => {
    loader.calls++
    if (ms) await sleep(ms)
    return typeof value === 'function' ? value(loader.calls) : value
  }
  loader.calls = 0
  return loader
}

let logs
beforeEach(() => {
  logs = captureLogs(mod)
})
afterEach(() => logs.restore())
afterAll(async () => {
  await cache.delPattern(`${P}*`)
  await cache.delPattern(`{${P}*`)
})

describe('cache.wrap', () => {
  test('a miss calls the loader once and stores what cache.set stores; a hit does not call it', async () => {
    const k = key('basic')
    const value = { id: 7, name: 'Ada', tags: ['x'] }
    const loader = counted(value)
    await expect(cache.wrap(k, loader)).resolves.toEqual(value)
    await expect(cache.wrap(k, loader)).resolves.toEqual(value)
    expect(loader.calls).toBe(1)
    // Same bytes and TTL as cache.set, so plain readers see it.
    const twin = key('twin')
    await cache.set(twin, value)
    expect(await storedText(redis, k)).toBe(await storedText(redis, twin))
    await expect(cache.get(k)).resolves.toEqual(value)
    const ttl = await redis.ttl(k)
    expect(ttl).toBeGreaterThan(TTL.MEDIUM - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.MEDIUM)
    // No companion keys are left behind without a stale window.
    expect(await redis.exists(`{${k}}:fresh`, `{${k}}:loading`)).toBe(0)
  })

  test('names with braces are stored, their companions in their slot (a cluster refused them before)', async () => {
    // A hash tag kept ({…}:profile), and a lone `}` that would cut a {name} tag short.
    for (const k of [`{${P}:user:42}:profile`, `${P}:a}b`]) {
      for (const staleTtl of [0, 60]) {
        const loader = counted({ name: 'Ada' })
        await expect(cache.wrap(k, loader, 60, { staleTtl })).resolves.toEqual({ name: 'Ada' })
        await expect(cache.get(k)).resolves.toEqual({ name: 'Ada' })
        await expect(cache.wrap(k, loader, 60, { staleTtl })).resolves.toEqual({ name: 'Ada' })
        expect(loader.calls).toBe(1)
        await cache.del(k)
      }
    }
    expect(logs.errors).toEqual([])
    await cache.delPattern(`*${P}:a}b:fresh`)
  })

  test('a value written by cache.set is a hit', async () => {
    const k = key('preset')
    await cache.set(k, 'hello', 60)
    const loader = counted('other')
    await expect(cache.wrap(k, loader, 60)).resolves.toBe('hello')
    expect(loader.calls).toBe(0)
  })

  test('100 concurrent calls on a cold key call the loader once', async () => {
    const k = key('flight')
    const loader = counted({ n: 1 }, 50)
    const results = await Promise.all(Array.from({ length: 100 }, () => cache.wrap(k, loader, 60)))
    expect(loader.calls).toBe(1)
    for (const r of results) expect(r).toEqual({ n: 1 })
    // Without the distributed lock's help (it expires at once and nobody waits for it), the
    // in-process sharing alone still makes it one call.
    const bare = key('flight-bare')
    const again = counted('x', 50)
    await Promise.all(Array.from({ length: 100 }, () => cache.wrap(bare, again, 60, { lockTtl: 1 })))
    expect(again.calls).toBe(1)
  })

  test('null and undefined are not cached unless cacheNull is set', async () => {
    for (const nothing of [null, undefined]) {
      const k = key('null')
      const loader = counted(nothing)
      await expect(cache.wrap(k, loader, 60)).resolves.toBe(nothing)
      await expect(cache.wrap(k, loader, 60)).resolves.toBe(nothing)
      expect(loader.calls).toBe(2)
      expect(await redis.exists(k, `{${k}}:loading`)).toBe(0)
    }
    const k = key('cachenull')
    const loader = counted(null)
    await expect(cache.wrap(k, loader, 60, { cacheNull: true })).resolves.toBeNull()
    await expect(cache.wrap(k, loader, 60, { cacheNull: true })).resolves.toBeNull()
    expect(loader.calls).toBe(1)
    expect(await storedText(redis, k)).toBe('null')
  })

  test("the loader's error rejects every waiting caller, caches nothing and frees the key", async () => {
    const k = key('error')
    const failing = async () => {
      await sleep(20)
      throw new Error('db down')
    }
    const results = await Promise.allSettled([cache.wrap(k, failing, 60), cache.wrap(k, failing, 60)])
    for (const r of results) expect(r.reason && r.reason.message).toBe('db down')
    expect(await redis.exists(k, `{${k}}:loading`)).toBe(0)
    // The next call loads at once instead of waiting for a lock.
    const started = Date.now()
    await expect(cache.wrap(k, counted('ok'), 60)).resolves.toBe('ok')
    expect(Date.now() - started).toBeLessThan(1000)
    expect(logs.errors).toEqual([])
  })

  test('another instance loading: waits for its value instead of calling the loader', async () => {
    const k = key('peer')
    await redis.set(`{${k}}:loading`, 'another-instance', { px: 5000 })
    setTimeout(() => cache.set(k, { from: 'peer' }, 60), 200)
    const loader = counted('mine')
    const started = Date.now()
    await expect(cache.wrap(k, loader, 60)).resolves.toEqual({ from: 'peer' })
    expect(loader.calls).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    // Its lock is not ours to release.
    expect(await redis.get(`{${k}}:loading`)).toBe('another-instance')
  })

  test('the wait is bounded by lockTtl: a stuck peer does not block the caller for long', async () => {
    const k = key('stuck')
    await redis.set(`{${k}}:loading`, 'crashed-instance', { px: 30000 })
    const loader = counted('mine')
    const started = Date.now()
    await expect(cache.wrap(k, loader, 60, { lockTtl: 300 })).resolves.toBe('mine')
    const waited = Date.now() - started
    expect(waited).toBeGreaterThanOrEqual(250)
    expect(waited).toBeLessThan(2000)
    expect(loader.calls).toBe(1)
    await expect(cache.get(k)).resolves.toBe('mine')
  })

  test('a peer that gives up (lock released, no value) hands the load over at once', async () => {
    const k = key('handover')
    await redis.set(`{${k}}:loading`, 'peer', { px: 30000 })
    setTimeout(() => redis.del(`{${k}}:loading`), 150)
    const loader = counted('mine')
    const started = Date.now()
    await expect(cache.wrap(k, loader, 60)).resolves.toBe('mine')
    expect(Date.now() - started).toBeLessThan(2000)
    expect(loader.calls).toBe(1)
  })

  describe('stale-while-revalidate', () => {
    test('an expired value is served at once while one caller refreshes it', async () => {
      const k = key('swr')
      const loader = counted((call) => ({ version: call }), 300)
      const options = { staleTtl: 60 }
      await expect(cache.wrap(k, loader, 1, options)).resolves.toEqual({ version: 1 })
      // Kept for ttl + staleTtl; fresh for ttl.
      expect(await redis.ttl(k)).toBeGreaterThan(55)
      expect(await redis.exists(`{${k}}:fresh`)).toBe(1)
      await sleep(1100)
      const started = Date.now()
      const stale = await Promise.all(Array.from({ length: 20 }, () => cache.wrap(k, loader, 1, options)))
      expect(Date.now() - started).toBeLessThan(250)
      for (const v of stale) expect(v).toEqual({ version: 1 })
      // One background refresh for all of them.
      for (let i = 0; i < 50 && loader.calls < 2; i++) await sleep(20)
      await sleep(500)
      expect(loader.calls).toBe(2)
      await expect(cache.get(k)).resolves.toEqual({ version: 2 })
      await expect(cache.wrap(k, loader, 1, options)).resolves.toEqual({ version: 2 })
      expect(loader.calls).toBe(2)
      expect(logs.errors).toEqual([])
    })

    test('a failing refresh keeps the stale value and is logged', async () => {
      const k = key('swr-error')
      let fail = false
      const loader = async () => {
        if (fail) throw new Error('upstream 503')
        return 'v1'
      }
      await cache.wrap(k, loader, 1, { staleTtl: 60 })
      await sleep(1100)
      fail = true
      await expect(cache.wrap(k, loader, 1, { staleTtl: 60 })).resolves.toBe('v1')
      for (let i = 0; i < 50 && logs.errors.length === 0; i++) await sleep(20)
      expect(logs.errors).toHaveLength(1)
      expect(logs.errors[0]).toMatch(/cache\.wrap background refresh failed.*upstream 503/)
      await expect(cache.get(k)).resolves.toBe('v1')
      expect(await redis.exists(`{${k}}:loading`)).toBe(0)
    })
  })

  describe('fallbacks', () => {
    test('a backend failure answers the loader, uncached, and logs once', async () => {
      const k = key('wrongtype')
      await redis.hset(k, { field: 'x' })
      logs.clear()
      await expect(cache.wrap(k, counted('fallback'), 60)).resolves.toBe('fallback')
      expect(logs.errors).toHaveLength(1)
      expect(logs.errors[0]).toMatch(/cache\.wrap failed \(ERR_COMMAND\)/)
      mod.configure({ strict: true })
      const err = await cache.wrap(k, counted('x'), 60).catch((e) => e)
      expect(err).toBeInstanceOf(DigisRedisError)
      expect(err.code).toBe('ERR_COMMAND')
    })

    test('bad input is logged; the loader still answers; strict mode throws TypeError', async () => {
      const k = key('bad')
      await expect(cache.wrap(k, counted('v'), -1)).resolves.toBe('v')
      await expect(cache.wrap('', counted('v'))).resolves.toBe('v')
      await expect(cache.wrap(k, 'not a function')).resolves.toBeUndefined()
      await expect(cache.wrap(k, counted('v'), 60, { staleTtl: 1.5 })).resolves.toBe('v')
      expect(logs.errors).toHaveLength(4)
      for (const line of logs.errors) expect(line).toMatch(/cache\.wrap failed \(ERR_INVALID_ARGUMENT\)/)
      expect(await redis.exists(k)).toBe(0)
      mod.configure({ strict: true })
      await expect(cache.wrap(k, null)).rejects.toThrow(TypeError)
    })
  })
})

const describeServer = server ? describe : describe.skip

describeServer('cache.wrap across processes', () => {
  test('4 processes on a cold key: the loader runs once in all of them', async () => {
    const k = key('procs')
    const counter = `${k}:loads`
    const startAt = Date.now() + 1500
    const env = backendEnv()
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      setTimeout(async () => {
        const loader = async () => {
          await r.redis.incr(${JSON.stringify(counter)})
          await new Promise((done) => setTimeout(done, 300))
          return { loadedBy: process.pid }
        }
        const values = await Promise.all(Array.from({ length: 25 }, () => r.cache.wrap(${JSON.stringify(k)}, loader, 60)))
        console.log(JSON.stringify(values.map((v) => v.loadedBy)))
      }, ${startAt} - Date.now())
    `
    const runs = await Promise.all(Array.from({ length: 4 }, () => runNode(script, { env, timeoutMs: 30000 })))
    for (const run of runs) expect(run.stderr).not.toMatch(/failed/)
    const loadedBy = new Set(runs.flatMap((run) => JSON.parse(run.stdout.trim())))
    expect(loadedBy.size).toBe(1)
    expect(await redis.get(counter)).toBe(1)
    await redis.del(counter)
  }, 40000)

  test('3 processes, 20 ms between each miss and its claim: every cold key is loaded once', async () => {
    // A peer that stored the value and released its lock between this process's miss and its
    // claim: the claim must find that value (one atomic step), not a free lock to load under.
    const keys = Array.from({ length: 20 }, () => key('procs-latency'))
    const startAt = Date.now() + 1500
    const env = backendEnv()
    const script = (offsetMs) => `
      const { NativeClient } = require(${JSON.stringify(`${ROOT}/binding.js`)})
      const claim = NativeClient.prototype.cacheWrapClaim
      NativeClient.prototype.cacheWrapClaim = function (...args) {
        return new Promise((done) => setTimeout(done, 20)).then(() => claim.apply(this, args))
      }
      const r = require(${JSON.stringify(ROOT)})
      const keys = ${JSON.stringify(keys)}
      setTimeout(async () => {
        const values = await Promise.all(keys.map((k) => r.cache.wrap(k, async () => {
          await r.redis.incr(k + ':loads')
          return { k, loadedBy: process.pid }
        }, 60)))
        console.log(JSON.stringify(values))
      }, ${startAt} + ${offsetMs} - Date.now())
    `
    const runs = await Promise.all([0, 10, 20].map((offset) => runNode(script(offset), { env, timeoutMs: 30000 })))
    for (const run of runs) expect(run.stderr).not.toMatch(/failed/)
    const answers = runs.map((run) => JSON.parse(run.stdout.trim()))
    const loads = await Promise.all(keys.map((k) => redis.get(`${k}:loads`)))
    expect(loads).toEqual(keys.map(() => 1))
    // Every process answered the one loaded value of each key.
    for (const answer of answers) expect(answer).toEqual(answers[0])
    await redis.del(...keys.map((k) => `${k}:loads`))
  }, 40000)

  test('4 processes on a stale key: all answer at once, one background reload in all of them', async () => {
    const k = key('procs-stale')
    const counter = `${k}:loads`
    await cache.wrap(k, async () => 'v1', 1, { staleTtl: 60 })
    await sleep(1100)
    const startAt = Date.now() + 1500
    const env = backendEnv()
    const script = `
      const r = require(${JSON.stringify(ROOT)})
      setTimeout(async () => {
        const loader = async () => {
          await r.redis.incr(${JSON.stringify(counter)})
          await new Promise((done) => setTimeout(done, 300))
          return 'v2'
        }
        const started = Date.now()
        const values = await Promise.all(Array.from({ length: 10 }, () => r.cache.wrap(${JSON.stringify(k)}, loader, 1, { staleTtl: 60 })))
        console.log(JSON.stringify({ values, ms: Date.now() - started }))
      }, ${startAt} - Date.now())
    `
    const runs = await Promise.all(Array.from({ length: 4 }, () => runNode(script, { env, timeoutMs: 30000 })))
    for (const run of runs) expect(run.stderr).not.toMatch(/failed/)
    const reports = runs.map((run) => JSON.parse(run.stdout.trim()))
    const values = reports.flatMap((report) => report.values)
    // Served without waiting for the 300 ms reload (a process starting late may see its result).
    for (const report of reports) expect(report.ms).toBeLessThan(300)
    expect(values).toContain('v1')
    for (const value of values) expect(['v1', 'v2']).toContain(value)
    // The reload ran once, and its value replaced the stale one.
    expect(await redis.get(counter)).toBe(1)
    await expect(cache.get(k)).resolves.toBe('v2')
    await redis.del(counter)
  }, 40000)
})
