'use strict'

// SessionStore under real express-session in a real Express app over real HTTP, on every backend.
const express = require('express')
const session = require('express-session')
const { SessionStore, sessions, redis, configure } = require('../..')
const { uniquePrefix, captureLogs } = require('../helpers')

const P = uniquePrefix('sess')
const SECRET = 'conformance secret'
const servers = []
const madeIds = new Set()

/** An app with its own store; resolves with `{ base, store }`. */
async function startApp(storeOptions = {}, sessionOptions = {}) {
  const store = new SessionStore(storeOptions)
  const app = express()
  app.use(session({ store, secret: SECRET, resave: false, saveUninitialized: false, ...sessionOptions }))
  app.post('/login/:user', (req, res) => {
    req.session.user = req.params.user
    madeIds.add(req.sessionID)
    res.json({ sid: req.sessionID })
  })
  app.get('/me', (req, res) => res.json({ user: req.session ? (req.session.user ?? null) : 'no session', sid: req.sessionID ?? null }))
  app.post('/logout', (req, res, next) => req.session.destroy((err) => (err ? next(err) : res.json({ ok: true }))))
  app.use((err, req, res, next) => res.status(500).json({ error: err.message }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  servers.push(server)
  return { base: `http://127.0.0.1:${server.address().port}`, store }
}

/** A minimal cookie jar for one client. */
function client(base) {
  let cookie = null
  return async (method, path) => {
    const res = await fetch(`${base}${path}`, { method, headers: cookie ? { cookie } : {} })
    const set = res.headers.get('set-cookie')
    if (set) cookie = set.split(';')[0]
    return { status: res.status, body: await res.json() }
  }
}

const ttlOf = (key) => redis.ttl(key)

afterAll(async () => {
  for (const sid of madeIds) await sessions.destroy(sid)
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
})

describe('SessionStore with express-session', () => {
  test('is an express-session Store, and an EventEmitter', () => {
    const store = new SessionStore()
    expect(store).toBeInstanceOf(session.Store)
    expect(store).toBeInstanceOf(require('node:events').EventEmitter)
    expect(store.prefix).toBe('session:')
  })

  test('a login survives across requests, and the record is the one sessions.get reads', async () => {
    const { base } = await startApp({}, { cookie: { maxAge: 120_000 } })
    const as = client(base)
    const { body } = await as('POST', '/login/ada')
    expect((await as('GET', '/me')).body).toEqual({ user: 'ada', sid: body.sid })
    const record = await sessions.get(body.sid)
    expect(record).toMatchObject({ user: 'ada', cookie: { httpOnly: true, path: '/' } })
    // express-session computes it as expires - Date.now() (cookie.js): a millisecond may tick.
    expect(record.cookie.originalMaxAge).toBeGreaterThanOrEqual(119_990)
    expect(record.cookie.originalMaxAge).toBeLessThanOrEqual(120_000)
    // The cookie's remaining life is the key's TTL.
    const ttl = await ttlOf(`session:${body.sid}`)
    expect(ttl).toBeGreaterThan(110)
    expect(ttl).toBeLessThanOrEqual(120)
    // Another client is not logged in.
    expect((await client(base)('GET', '/me')).body.user).toBeNull()
  })

  test('a session written by sessions.store is read by the store, and destroy removes it', async () => {
    const { base, store } = await startApp()
    const sid = `${P}-shared`
    madeIds.add(sid)
    const data = { cookie: { originalMaxAge: null, expires: null, httpOnly: true, path: '/' }, user: 'grace' }
    expect(await sessions.store(sid, data)).toBe(true)
    await new Promise((resolve, reject) => store.get(sid, (err, sess) => (err ? reject(err) : resolve(expect(sess).toEqual(data)))))
    const as = client(base)
    await as('POST', '/login/bob')
    expect((await as('POST', '/logout')).body).toEqual({ ok: true })
    expect((await as('GET', '/me')).body.user).toBeNull()
    expect(await new Promise((resolve) => store.destroy(sid, resolve))).toBeNull()
    expect(await sessions.get(sid)).toBeNull()
  })

  test('without cookie expiry the ttl option is the TTL; a function ttl decides per session', async () => {
    const fixed = await startApp({ ttl: 90 })
    const as = client(fixed.base)
    const { body } = await as('POST', '/login/carol')
    const ttl = await ttlOf(`session:${body.sid}`)
    expect(ttl).toBeGreaterThan(80)
    expect(ttl).toBeLessThanOrEqual(90)

    const byUser = new SessionStore({ ttl: (sess) => (sess.user === 'admin' ? 30 : 300) })
    const sid = `${P}-fn`
    madeIds.add(sid)
    await byUser.set(sid, { cookie: {}, user: 'admin' })
    expect(await ttlOf(`session:${sid}`)).toBeLessThanOrEqual(30)
  })

  test('touch resets the expiry of an unmodified session (rolling cookie)', async () => {
    const { base } = await startApp({}, { cookie: { maxAge: 100_000 }, rolling: true })
    const as = client(base)
    const { body } = await as('POST', '/login/dan')
    const key = `session:${body.sid}`
    await redis.expire(key, 5)
    expect(await ttlOf(key)).toBeLessThanOrEqual(5)
    expect((await as('GET', '/me')).body.user).toBe('dan')
    expect(await ttlOf(key)).toBeGreaterThan(90)
  })

  test('a session whose TTL is 0 or less is destroyed by set and by touch', async () => {
    const store = new SessionStore()
    const sid = `${P}-expired`
    madeIds.add(sid)
    await store.set(sid, { cookie: { expires: new Date(Date.now() + 60_000).toISOString() }, n: 1 })
    expect(await sessions.get(sid)).toMatchObject({ n: 1 })
    await store.touch(sid, { cookie: { expires: new Date(Date.now() - 1000).toISOString() } })
    expect(await sessions.get(sid)).toBeNull()
    await store.set(sid, { cookie: {}, n: 2 })
    expect(await sessions.get(sid)).toMatchObject({ n: 2 })
    await store.set(sid, { cookie: { expires: new Date(Date.now() - 1).toISOString() }, n: 3 })
    expect(await sessions.get(sid)).toBeNull()
  })

  test('all, length, ids and clear see exactly the sessions under the prefix (glob characters escaped)', async () => {
    const prefix = `${P}:list*[x]?:`
    const store = new SessionStore({ prefix })
    const neighbour = new SessionStore({ prefix: `${P}:list-other:` })
    await neighbour.set('n1', { cookie: {}, who: 'neighbour' })
    const ids = Array.from({ length: 25 }, (_, i) => `s${i}`)
    await Promise.all(ids.map((id, i) => store.set(id, { cookie: {}, i })))
    const counted = await new Promise((resolve, reject) => store.length((err, n) => (err ? reject(err) : resolve(n))))
    expect(counted).toBe(25)
    expect((await store.ids()).sort()).toEqual([...ids].sort())
    const all = await store.all()
    expect(all).toHaveLength(25)
    expect(all.find((s) => s.id === 's7')).toEqual({ cookie: {}, i: 7, id: 's7' })
    await new Promise((resolve) => store.clear(resolve))
    expect(await store.length()).toBe(0)
    expect(await store.all()).toEqual([])
    expect(await neighbour.ids()).toEqual(['n1'])
    await neighbour.clear()
  })

  test('bad input: the callback gets a TypeError, the promise its fallback, nothing is written', async () => {
    const logs = captureLogs(require('../..'))
    try {
      const store = new SessionStore()
      const err = await new Promise((resolve) => store.get('', (e) => resolve(e)))
      expect(err).toBeInstanceOf(TypeError)
      expect(err.code).toBe('ERR_INVALID_ARGUMENT')
      const circular = { cookie: {} }
      circular.self = circular
      expect(await store.set(`${P}-circular`, circular)).toBeUndefined()
      expect(await sessions.get(`${P}-circular`)).toBeNull()
      expect(logs.errors.some((line) => line.includes('SessionStore.set failed (ERR_INVALID_ARGUMENT)'))).toBe(true)
      configure({ strict: true })
      await expect(store.get(42n)).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' })
    } finally {
      logs.restore()
    }
  })

  test("connect-redis's serializer, sync or async, writes and reads the records", async () => {
    const sync = { stringify: (sess) => `v1|${JSON.stringify(sess)}`, parse: (text) => JSON.parse(text.slice(3)) }
    const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 5))
    const async = { stringify: async (sess) => later(`v2|${JSON.stringify(sess)}`), parse: async (text) => later(JSON.parse(text.slice(3))) }
    for (const [label, serializer] of [['sync', sync], ['async', async]]) {
      const prefix = `${P}:ser-${label}:`
      const store = new SessionStore({ prefix, serializer })
      await store.set('a', { cookie: {}, who: label })
      expect(await redis.get(`${prefix}a`)).toMatch(label === 'sync' ? /^v1\|/ : /^v2\|/)
      expect(await store.get('a')).toEqual({ cookie: {}, who: label })
      expect(await store.all()).toEqual([{ cookie: {}, who: label, id: 'a' }])
      expect(await store.get('missing')).toBeNull()
      await store.clear()
    }
    // The records are the serializer's bytes, with the TTL as usual.
    const store = new SessionStore({ prefix: `${P}:ser-bytes:`, serializer: sync, ttl: 60 })
    await store.set('b', { cookie: {}, n: 1 })
    // Not JSON, so the raw client's automatic deserialization leaves the text as it is.
    expect(await redis.get(`${P}:ser-bytes:b`)).toBe('v1|{"cookie":{},"n":1}')
    expect(await ttlOf(`${P}:ser-bytes:b`)).toBeGreaterThan(50)
    // A serializer that fails or returns no string: the callback gets the error, nothing is written.
    const logs = captureLogs(require('../..'))
    try {
      const broken = new SessionStore({ prefix: `${P}:ser-bad:`, serializer: { stringify: () => 42, parse: JSON.parse } })
      const err = await new Promise((resolve) => broken.set('c', { cookie: {} }, resolve))
      expect(err).toBeInstanceOf(TypeError)
      expect(err.message).toMatch(/serializer.stringify returned/)
      expect(await redis.exists(`${P}:ser-bad:c`)).toBe(0)
    } finally {
      logs.restore()
    }
    await store.clear()
  })

  test('disableTTL stores without expiry and never touches; disableTouch leaves the expiry alone', async () => {
    const prefix = `${P}:nottl:`
    const noTtl = new SessionStore({ prefix, disableTTL: true })
    await noTtl.set('a', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } })
    expect(await ttlOf(`${prefix}a`)).toBe(-1)
    await noTtl.touch('a', { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } })
    expect(await ttlOf(`${prefix}a`)).toBe(-1)
    // A session already expired is still destroyed (connect-redis does the same).
    await noTtl.set('a', { cookie: { expires: new Date(Date.now() - 1000).toISOString() } })
    expect(await redis.exists(`${prefix}a`)).toBe(0)

    const noTouch = new SessionStore({ prefix, disableTouch: true, ttl: 100 })
    await noTouch.set('b', { cookie: {} })
    await redis.expire(`${prefix}b`, 5)
    await noTouch.touch('b', { cookie: {} })
    expect(await ttlOf(`${prefix}b`)).toBeLessThanOrEqual(5)
    // set still applies the TTL.
    await noTouch.set('b', { cookie: {} })
    expect(await ttlOf(`${prefix}b`)).toBeGreaterThan(90)
    await noTouch.clear()
  })

  test('scanCount is the SCAN step of all, length and ids', async () => {
    const prefix = `${P}:scan:`
    const store = new SessionStore({ prefix, scanCount: 3 })
    expect(store.scanCount).toBe(3)
    await Promise.all(Array.from({ length: 10 }, (_, i) => store.set(`s${i}`, { cookie: {}, i })))
    expect(await store.length()).toBe(10)
    expect((await store.all()).map((s) => s.i).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    await store.clear()
    expect(await store.length()).toBe(0)
  })

  test('bad options throw at construction', () => {
    // Unknown options are named; connect-redis's client is explained.
    expect(() => new SessionStore({ prefx: 'sess:', ttll: 5 })).toThrow(/SessionStore does not take the options prefx, ttll; it takes prefix, ttl/)
    expect(() => new SessionStore({ client: {} })).toThrow(/client \(not needed/)
    expect(() => new SessionStore({ serializer: JSON.stringify })).toThrow(TypeError)
    expect(() => new SessionStore({ serializer: { parse: JSON.parse } })).toThrow(TypeError)
    expect(() => new SessionStore({ disableTTL: 'yes' })).toThrow(TypeError)
    expect(() => new SessionStore({ disableTouch: 1 })).toThrow(TypeError)
    expect(() => new SessionStore({ scanCount: 0 })).toThrow(TypeError)
    expect(() => new SessionStore({ prefix: '' })).toThrow(TypeError)
    expect(() => new SessionStore({ ttl: 0 })).toThrow(TypeError)
    expect(() => new SessionStore({ ttl: '1h' })).toThrow(TypeError)
    expect(() => new SessionStore(null)).toThrow(TypeError)
  })
})

describe('SessionStore reads share the per-tick read batch', () => {
  test('many gets in one tick each answer their own session, and keep their place before a destroy', async () => {
    const store = new SessionStore()
    const ids = Array.from({ length: 200 }, (_, i) => `${P}-batch-${i}`)
    ids.forEach((id) => madeIds.add(id))
    await Promise.all(ids.map((id, i) => store.set(id, { n: i, cookie: {} })))
    const reads = ids.map((id) => store.get(id))
    // Issued after the reads, in the same tick: it must not overtake the first one.
    const destroyed = store.destroy(ids[0])
    const values = await Promise.all(reads)
    values.forEach((value, i) => expect(value).toEqual({ n: i, cookie: {} }))
    await destroyed
    await expect(store.get(ids[0])).resolves.toBeNull()
    // With callbacks, as express-session calls it.
    const viaCallback = await new Promise((resolve, reject) => store.get(ids[1], (err, sess) => (err ? reject(err) : resolve(sess))))
    expect(viaCallback).toEqual({ n: 1, cookie: {} })
  })
})

describe('SessionStore calls keep their order and call back once, after returning', () => {
  test('set, then get and touch not awaited: the server sees them in that order', async () => {
    const store = new SessionStore({ prefix: `${P}:order:` })
    const expires = new Date(Date.now() + 60_000).toISOString()
    const sess = (n) => ({ n, cookie: { expires } })
    await store.set('a', sess(1))
    // The second set's SET must reach the server before the get and the touch issued after it.
    const written = store.set('a', sess(2))
    const read = store.get('a')
    const touched = store.touch('a', sess(2))
    expect(await read).toEqual(sess(2))
    await Promise.all([written, touched])
    // With a serializer that answers at once, the same.
    const sync = new SessionStore({ prefix: `${P}:order-ser:`, serializer: { stringify: (s) => `v|${JSON.stringify(s)}`, parse: (t) => JSON.parse(t.slice(2)) } })
    await sync.set('a', sess(1))
    const rewritten = sync.set('a', sess(3))
    expect(await sync.get('a')).toEqual(sess(3))
    await rewritten
    await store.clear()
    await sync.clear()
  })

  test('each callback runs once, after the store method has returned, with no error but for bad input', async () => {
    const logs = captureLogs(require('../..'))
    try {
      const store = new SessionStore({ prefix: `${P}:cb:` })
      const noTouch = new SessionStore({ prefix: `${P}:cb:`, disableTouch: true })
      const expired = { cookie: { expires: new Date(Date.now() - 1000).toISOString() } }
      const live = { cookie: { expires: new Date(Date.now() + 60_000).toISOString() } }
      const calls = [
        ['set', (cb) => store.set('a', live, cb)],
        ['get', (cb) => store.get('a', cb)],
        ['get of a bad sid', (cb) => store.get('', cb)],
        ['touch', (cb) => store.touch('a', live, cb)],
        ['touch under disableTouch', (cb) => noTouch.touch('a', live, cb)],
        ['touch of an expired session', (cb) => store.touch('b', expired, cb)],
        ['destroy', (cb) => store.destroy('a', cb)],
      ]
      for (const [label, call] of calls) {
        let returned = false
        let count = 0
        let calledBeforeReturn = false
        let failure = null
        const done = new Promise((resolve) => {
          call((err) => {
            count++
            if (!returned) calledBeforeReturn = true
            failure = err ? err.code : null
            resolve()
          })
        })
        returned = true
        await done
        // A second callback would come within a few ticks.
        await new Promise((resolve) => setTimeout(resolve, 20))
        const expectedFailure = label === 'get of a bad sid' ? 'ERR_INVALID_ARGUMENT' : null
        expect({ label, count, calledBeforeReturn, failure }).toEqual({ label, count: 1, calledBeforeReturn: false, failure: expectedFailure })
      }
      expect(logs.errors.filter((line) => !line.includes('SessionStore.get failed (ERR_INVALID_ARGUMENT)'))).toEqual([])
    } finally {
      logs.restore()
    }
  })
})
