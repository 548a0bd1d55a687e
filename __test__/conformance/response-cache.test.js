'use strict'

// cacheResponse in a real Express app over real HTTP, and cache.invalidateTag.
const http = require('node:http')
const express = require('express')
const mod = require('../..')
const { cacheResponse, cache, redis, analytics } = mod
const { uniquePrefix, captureLogs, sleep, runNode, freePort, ROOT } = require('../helpers')

// Colons would be route parameters in Express paths.
const P = uniquePrefix('resp').replace(/:/g, '-')
let server
let base
/** Route executions per path: a hit must not run the route. */
const runs = new Map()
const ran = (req) => runs.set(req.path, (runs.get(req.path) ?? 0) + 1)

beforeAll(async () => {
  const app = express()
  const tagged = cacheResponse({ ttl: 60, tags: [`${P}-all`] })
  app.get(`/${P}/json`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.status(203).json({ n: runs.get(req.path), q: req.query.q ?? null, text: 'héllo ✓' })
  })
  app.get(`/${P}/binary`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.type('application/octet-stream').send(Buffer.from([0, 255, 128, 10, 13, 0xc3]))
  })
  app.get(`/${P}/streamed`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.setHeader('Content-Type', 'text/plain; charset=utf-8')
    res.setHeader('X-Route-Only', 'not replayed')
    res.write('part one, ')
    res.end('part two')
  })
  app.get(`/${P}/cookie`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.cookie('sid', 'abc').json({ n: runs.get(req.path) })
  })
  for (const directive of ['private', 'no-store', 'no-cache']) {
    app.get(`/${P}/${directive}`, cacheResponse({ ttl: 60 }), (req, res) => {
      ran(req)
      res.set('Cache-Control', `max-age=60, ${directive}`).json({ n: runs.get(req.path) })
    })
  }
  app.get(`/${P}/public`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.set('Cache-Control', 'public, max-age=60').json({ n: runs.get(req.path) })
  })
  app.get(`/${P}/missing`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.status(404).json({ n: runs.get(req.path) })
  })
  app.post(`/${P}/post`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.json({ n: runs.get(req.path) })
  })
  app.get(`/${P}/tagged/:id`, tagged, (req, res) => {
    ran(req)
    res.json({ id: req.params.id, n: runs.get(req.path) })
  })
  app.get(
    `/${P}/user`,
    cacheResponse({ ttl: 60, key: (req) => (req.get('x-user') ? `${P}:user:${req.get('x-user')}` : null), tags: (req) => [`${P}-user-${req.get('x-user')}`] }),
    (req, res) => {
      ran(req)
      res.json({ user: req.get('x-user') ?? null, n: runs.get(req.path) })
    },
  )
  app.get(`/${P}/auth`, cacheResponse({ ttl: 60 }), (req, res) => {
    ran(req)
    res.json({ n: runs.get(req.path) })
  })
  app.get(`/${P}/ttl`, cacheResponse({ ttl: 2 }), (req, res) => {
    ran(req)
    res.json({ n: runs.get(req.path) })
  })
  await new Promise((resolve) => {
    server = app.listen(0, '127.0.0.1', resolve)
  })
  base = `http://127.0.0.1:${server.address().port}`
})

afterAll(async () => {
  await cache.delPattern(`response:*${P}*`)
  await cache.delPattern(`response-tag:${P}*`)
  await new Promise((resolve) => server.close(resolve))
})

const get = (path, headers = {}) => fetch(`${base}/${P}/${path}`, { headers })
const recordKey = (path) => `response:GET:/${P}/${path}`

/** The record is written after the answer went out: wait for it before asking again. */
async function stored(key) {
  for (let i = 0; i < 100; i++) {
    if (await cache.exists(key)) return
    await sleep(10)
  }
  throw new Error(`${key} was never stored`)
}

async function answer(res) {
  return { status: res.status, type: res.headers.get('content-type'), xCache: res.headers.get('x-cache'), body: Buffer.from(await res.arrayBuffer()) }
}

describe('cacheResponse', () => {
  test('MISS, then HIT with the same status, content type and body, without running the route', async () => {
    const miss = await answer(await get('json?q=1'))
    expect(miss.xCache).toBe('MISS')
    expect(miss.status).toBe(203)
    await stored(recordKey('json?q=1'))
    const hitRes = await get('json?q=1')
    const hit = await answer(hitRes)
    expect(hit).toEqual({ ...miss, xCache: 'HIT' })
    expect(JSON.parse(hit.body)).toEqual({ n: 1, q: '1', text: 'héllo ✓' })
    expect(Number(hitRes.headers.get('age'))).toBeGreaterThanOrEqual(0)
    expect(runs.get(`/${P}/json`)).toBe(1)
    // Another query string is another resource.
    expect((await answer(await get('json?q=2'))).xCache).toBe('MISS')
    expect(runs.get(`/${P}/json`)).toBe(2)
  })

  test('binary bodies and streamed (write + end) bodies replay byte for byte; only allow-listed headers', async () => {
    const miss = await answer(await get('binary'))
    await stored(recordKey('binary'))
    const hit = await answer(await get('binary'))
    expect(hit).toEqual({ ...miss, xCache: 'HIT' })
    expect([...hit.body]).toEqual([0, 255, 128, 10, 13, 0xc3])

    const first = await get('streamed')
    expect(first.headers.get('x-route-only')).toBe('not replayed')
    expect(await first.text()).toBe('part one, part two')
    await stored(recordKey('streamed'))
    const again = await get('streamed')
    expect(again.headers.get('x-cache')).toBe('HIT')
    expect(again.headers.get('content-type')).toBe('text/plain; charset=utf-8')
    expect(again.headers.get('x-route-only')).toBeNull()
    expect(await again.text()).toBe('part one, part two')
  })

  test('the record is one JSON value under response:<method>:<url> with the TTL', async () => {
    await get('public')
    await stored(recordKey('public'))
    const record = await redis.get(recordKey('public'))
    expect(record).toMatchObject({ v: 1, status: 200, encoding: 'utf8', body: '{"n":1}' })
    expect(record.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=60' })
    expect(record.headers).not.toHaveProperty('x-cache')
    const ttl = await redis.ttl(recordKey('public'))
    expect(ttl).toBeGreaterThan(55)
    expect(ttl).toBeLessThanOrEqual(60)
    const hit = await get('public')
    expect(hit.headers.get('x-cache')).toBe('HIT')
    // A conditional request is answered 304 on a hit, as the route itself (res.send) would.
    const etag = hit.headers.get('etag')
    expect(etag).toBe(record.headers.etag)
    // (node:http, because fetch adds `Cache-Control: no-cache` to conditional requests.)
    const conditional = await new Promise((resolve, reject) =>
      http.get(`${base}/${P}/public`, { headers: { 'if-none-match': etag } }, (res) => resolve(res.resume())).on('error', reject),
    )
    expect(conditional.statusCode).toBe(304)
    expect(conditional.headers['x-cache']).toBe('HIT')
    expect(runs.get(`/${P}/public`)).toBe(1)
  })

  test.each(['cookie', 'private', 'no-store', 'no-cache', 'missing'])('%s answers are never cached', async (path) => {
    for (let i = 1; i <= 3; i++) {
      const res = await get(path)
      expect(res.headers.get('x-cache')).toBe('MISS')
      expect((await res.json()).n).toBe(i)
      await sleep(20)
    }
    expect(await cache.exists(recordKey(path))).toBe(false)
  })

  test('non-GET requests pass through untouched', async () => {
    for (let i = 1; i <= 2; i++) {
      const res = await fetch(`${base}/${P}/post`, { method: 'POST' })
      expect(res.headers.get('x-cache')).toBeNull()
      expect((await res.json()).n).toBe(i)
    }
    expect(await cache.exists(`response:POST:/${P}/post`)).toBe(false)
  })

  test('requests with credentials pass through unless a key function decides', async () => {
    for (let i = 1; i <= 2; i++) {
      const res = await get('auth', { authorization: 'Bearer t' })
      expect(res.headers.get('x-cache')).toBeNull()
      expect((await res.json()).n).toBe(i)
    }
  })

  test('a key function keys per caller; null opts a request out', async () => {
    const ada = await get('user', { 'x-user': 'ada' })
    expect(ada.headers.get('x-cache')).toBe('MISS')
    await stored(`response:${P}:user:ada`)
    const bob = await get('user', { 'x-user': 'bob' })
    expect(bob.headers.get('x-cache')).toBe('MISS')
    expect((await bob.json()).user).toBe('bob')
    const adaAgain = await get('user', { 'x-user': 'ada' })
    expect(adaAgain.headers.get('x-cache')).toBe('HIT')
    expect((await adaAgain.json()).user).toBe('ada')
    const anonymous = await get('user')
    expect(anonymous.headers.get('x-cache')).toBeNull()
  })

  test('entries expire with their TTL', async () => {
    await get('ttl')
    await stored(recordKey('ttl'))
    expect((await get('ttl')).headers.get('x-cache')).toBe('HIT')
    await sleep(2100)
    const after = await get('ttl')
    expect(after.headers.get('x-cache')).toBe('MISS')
    expect((await after.json()).n).toBe(2)
  })

  test('bad options throw at setup', () => {
    expect(() => cacheResponse({ ttl: 0 })).toThrow(TypeError)
    expect(() => cacheResponse({ ttl: 'soon' })).toThrow(TypeError)
    expect(() => cacheResponse({ key: 'fixed' })).toThrow(TypeError)
    expect(() => cacheResponse({ tags: 'one' })).toThrow(TypeError)
    expect(() => cacheResponse({ tags: [''] })).toThrow(TypeError)
    expect(() => cacheResponse({ headers: 'content-type' })).toThrow(TypeError)
  })
})

describe('cache.invalidateTag', () => {
  test('removes every response cached under the tag, and only those', async () => {
    for (const id of ['a', 'b', 'c']) {
      await get(`tagged/${id}`)
      await stored(recordKey(`tagged/${id}`))
    }
    await get('user', { 'x-user': 'cy' })
    await stored(`response:${P}:user:cy`)
    expect((await get('tagged/a')).headers.get('x-cache')).toBe('HIT')

    await expect(cache.invalidateTag(`${P}-all`)).resolves.toBe(3)
    for (const id of ['a', 'b', 'c']) expect(await cache.exists(recordKey(`tagged/${id}`))).toBe(false)
    expect(await cache.exists(`response-tag:${P}-all`)).toBe(false)
    expect(await cache.exists(`response:${P}:user:cy`)).toBe(true)
    const fresh = await get('tagged/a')
    expect(fresh.headers.get('x-cache')).toBe('MISS')
    expect((await fresh.json()).n).toBe(2)
    // Idempotent: nothing left to remove.
    await stored(recordKey('tagged/a'))
    await expect(cache.invalidateTag(`${P}-all`)).resolves.toBe(1)
    await expect(cache.invalidateTag(`${P}-all`)).resolves.toBe(0)
    await expect(cache.invalidateTag(`${P}-user-cy`)).resolves.toBe(1)
  })

  test('a tag set lives as long as its longest-lived response and drops expired members', async () => {
    const app = express()
    app.get('/:ttl/:id', (req, res, next) => cacheResponse({ ttl: Number(req.params.ttl), tags: [`${P}-ttl`] })(req, res, next), (req, res) => res.json({}))
    const local = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    try {
      const url = (path) => `http://127.0.0.1:${local.address().port}${path}`
      await fetch(url(`/1/${P}-short`))
      await stored(`response:GET:/1/${P}-short`)
      await fetch(url(`/30/${P}-long`))
      await stored(`response:GET:/30/${P}-long`)
      await fetch(url(`/2/${P}-shorter`))
      await stored(`response:GET:/2/${P}-shorter`)
      // GT: the 2 s write did not cut the set's expiry below the 30 s member's.
      expect(await redis.ttl(`response-tag:${P}-ttl`)).toBeGreaterThan(25)
      await sleep(1100)
      await fetch(url(`/3/${P}-later`))
      await stored(`response:GET:/3/${P}-later`)
      // The expired 1 s member was pruned by that write.
      expect(await redis.zrange(`response-tag:${P}-ttl`, 0, -1)).toEqual([`response:GET:/2/${P}-shorter`, `response:GET:/3/${P}-later`, `response:GET:/30/${P}-long`])
      await expect(cache.invalidateTag(`${P}-ttl`)).resolves.toBe(3)
    } finally {
      await new Promise((resolve) => local.close(resolve))
    }
  })

  test('bad tags answer 0 and log', async () => {
    const logs = captureLogs(mod)
    try {
      await expect(cache.invalidateTag('')).resolves.toBe(0)
      await expect(cache.invalidateTag({})).resolves.toBe(0)
      expect(logs.errors).toHaveLength(2)
      expect(logs.errors[0]).toContain('cache.invalidateTag failed (ERR_INVALID_ARGUMENT)')
    } finally {
      logs.restore()
    }
  })
})

describe('failures', () => {
  test('a failing lookup is a MISS: the route answers, one reason is logged', async () => {
    // A hash where the record should be: GET fails with WRONGTYPE on every backend.
    await redis.hset(recordKey('json?q=broken'), { field: 'x' })
    const logs = captureLogs(mod)
    try {
      const res = await get('json?q=broken')
      expect(res.status).toBe(203)
      expect(res.headers.get('x-cache')).toBe('MISS')
      expect((await res.json()).q).toBe('broken')
      expect(logs.errors.some((line) => line.includes('responses.get failed (ERR_COMMAND)'))).toBe(true)
    } finally {
      logs.restore()
    }
  })

  test('with the backend down, routes still answer (MISS) and nothing rejects', async () => {
    const port = await freePort()
    const script = `
      const express = require('express')
      const { cacheResponse, cache, configure, analytics } = require(${JSON.stringify(ROOT)})
      configure({ logger: null, timeoutMs: 200 })
      const app = express()
      app.get('/x', cacheResponse({ ttl: 60, tags: ['t'] }), (req, res) => res.json({ ok: true }))
      const server = app.listen(0, '127.0.0.1', async () => {
        const url = 'http://127.0.0.1:' + server.address().port + '/x'
        const answers = []
        for (let i = 0; i < 2; i++) {
          const res = await fetch(url)
          answers.push([res.status, res.headers.get('x-cache'), await res.json()])
        }
        const removed = await cache.invalidateTag('t')
        console.log(JSON.stringify({ answers, removed, errors: analytics.stats().namespaces.responses.errors }))
        server.close()
      })`
    const { code, stdout } = await runNode(script, { env: { REDIS_URL: `redis://127.0.0.1:${port}` } })
    expect(code).toBe(0)
    const { answers, removed, errors } = JSON.parse(stdout)
    expect(answers).toEqual([
      [200, 'MISS', { ok: true }],
      [200, 'MISS', { ok: true }],
    ])
    expect(removed).toBe(0)
    // Two lookups and one invalidation at least (stores run after the answers went out).
    expect(errors).toBeGreaterThanOrEqual(3)
  })

  test('lookups and stores are counted under the responses namespace', async () => {
    analytics.reset()
    await get('json?q=counted')
    await stored(recordKey('json?q=counted'))
    await get('json?q=counted')
    await get('json?q=counted')
    expect(analytics.stats().namespaces.responses).toEqual({ hits: 2, misses: 1, hitRatio: 2 / 3, sets: 1, deletes: 0, errors: 0 })
  })
})
