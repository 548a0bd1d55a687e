'use strict'

// A rollout: processes running the original module (@upstash/redis, writing the way
// utils/redis.js writes) and processes running this package share one database. Each side must
// read what the other wrote. On the redis backend the original side talks to a rest-server in
// front of the same database.
const { spawn } = require('node:child_process')
const crypto = require('node:crypto')
const path = require('node:path')
const { Redis } = require('@upstash/redis')
const mod = require('../../..')
const { selectBackend } = require('../../../lib/environment')
const { uniquePrefix, ROOT } = require('../../helpers')

const selection = selectBackend()
// Not on a cluster: the original module speaks Upstash REST (@upstash/redis), which cannot reach
// a Redis Cluster, so no original process can share a cluster's data.
const describeServer = selection.kind === 'embedded' || selection.kind === 'cluster' ? describe.skip : describe

function startRestServer(redisUrl, token) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'digis-redis.js'), 'rest-server', '--port', '0', '--redis', redisUrl, '--token', token], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve({ url: match[1], child })
    })
    child.once('exit', (code) => reject(new Error(`rest-server exited with ${code}: ${out}`)))
  })
}

/** The original module's write path: strings as-is, anything else JSON text, via SETEX. */
const originalSet = (original, key, value, ttl) =>
  original.setex(key, ttl, typeof value === 'string' ? value : JSON.stringify(value))

describeServer('mixed fleet: original module and digis-redis on one database', () => {
  const P = uniquePrefix('fleet')
  const id = (name) => `${P}-${name}`
  let original
  let server

  beforeAll(async () => {
    if (selection.kind === 'upstash') {
      original = new Redis({ url: selection.url, token: selection.token })
    } else {
      const token = crypto.randomBytes(12).toString('hex')
      server = await startRestServer(selection.url, token)
      original = new Redis({ url: server.url, token })
    }
  })

  afterAll(async () => {
    const keys = await original.keys(`*${P}*`)
    if (keys.length) await original.del(...keys)
    if (server) {
      await new Promise((done) => {
        server.child.once('exit', done)
        server.child.kill('SIGTERM')
      })
    }
  })

  test('what the original wrote reads correctly through digis-redis', async () => {
    const profile = { id: 7, name: 'Ada', joined: '2024-01-01T00:00:00.000Z' }
    await originalSet(original, `user:${id('u')}`, profile, 3600)
    await originalSet(original, `session:${id('s')}`, { userId: 7 }, 86400)
    await originalSet(original, `creator:${id('c')}`, { handle: '@ada', live: false }, 1800)
    await originalSet(original, `otp:${id('o')}`, '123456', 300)
    await originalSet(original, `stream:active:${id('st')}`, { id: id('st'), title: 'Live' }, 3600)
    await originalSet(original, id('raw'), 'plain text', 300)
    await originalSet(original, id('num'), '42', 300)

    await expect(mod.users.get(id('u'))).resolves.toEqual(profile)
    await expect(mod.sessions.get(id('s'))).resolves.toEqual({ userId: 7 })
    await expect(mod.creators.get(id('c'))).resolves.toEqual({ handle: '@ada', live: false })
    await expect(mod.cache.get(id('raw'))).resolves.toBe('plain text')
    await expect(mod.cache.get(id('num'))).resolves.toBe(42)
    await expect(mod.streams.getActive(id('st'))).resolves.toEqual({ id: id('st'), title: 'Live' })
    await mod.streams.reindex()
    expect(await mod.streams.getAllActive()).toContainEqual({ id: id('st'), title: 'Live', viewers: 0 })
    await expect(mod.otp.verify(id('o'), '123456')).resolves.toBe(true)
    await expect(original.exists(`otp:${id('o')}`)).resolves.toBe(0)
    await mod.streams.removeActive(id('st'))
  })

  test('stored text reads back exactly as the original reads it, numbers that would change included', async () => {
    const texts = ['12345678901234567890', '9007199254740993', '1.50', '1e3', '-0', '0.1', '42', '-7', 'true', '{"a":1}', '[1,"2"]', 'null', 'plain']
    for (const [i, text] of texts.entries()) await originalSet(original, `user:${id(`n${i}`)}`, text, 300)
    for (const [i, text] of texts.entries()) {
      const theirs = await original.get(`user:${id(`n${i}`)}`)
      expect([text, await mod.users.get(id(`n${i}`))]).toEqual([text, theirs])
      expect([text, await mod.redis.get(`user:${id(`n${i}`)}`)]).toEqual([text, theirs])
    }
  })

  test("the original's rate-limit counter and our fixed window are one counter", async () => {
    const ip = id('ip')
    await original.incr(`rate:${ip}`)
    await original.expire(`rate:${ip}`, 60)
    const ours = await mod.rateLimiter.check(ip, 3, 60, { algorithm: 'fixed-window' })
    expect(ours).toMatchObject({ allowed: true, remaining: 1 })
    await expect(original.get(`rate:${ip}`)).resolves.toBe(2)
  })

  test('what digis-redis wrote reads correctly through the original (auto-deserializing) client', async () => {
    await mod.users.cache(id('u2'), { id: 8, tags: ['a'] })
    await mod.sessions.store(id('s2'), { userId: 8 })
    await mod.creators.cacheList([{ id: 1 }, { id: 2 }], 60)
    await mod.otp.store(id('o2'), '654321')
    await mod.streams.setActive(id('st2'), { id: id('st2') })
    await mod.cache.set(id('raw2'), 'plain')
    await mod.rateLimiter.check(id('ip2'), 10, 60, { algorithm: 'fixed-window' })

    await expect(original.get(`user:${id('u2')}`)).resolves.toEqual({ id: 8, tags: ['a'] })
    await expect(original.get(`session:${id('s2')}`)).resolves.toEqual({ userId: 8 })
    await expect(original.get('creator:list')).resolves.toEqual([{ id: 1 }, { id: 2 }])
    // The original reads a code back as a number (its bug); the stored text is the same.
    await expect(original.get(`otp:${id('o2')}`)).resolves.toBe(654321)
    expect(await original.keys(`stream:active:${id('st2')}`)).toEqual([`stream:active:${id('st2')}`])
    await expect(original.get(`stream:active:${id('st2')}`)).resolves.toEqual({ id: id('st2') })
    await expect(original.get(id('raw2'))).resolves.toBe('plain')
    await expect(original.get(`rate:${id('ip2')}`)).resolves.toBe(1)
    expect(await original.ttl(`user:${id('u2')}`)).toBeGreaterThan(3590)
    await mod.streams.removeActive(id('st2'))
    await mod.creators.invalidate('none')
  })

  test("our default token bucket never meets the original's counter with another type", async () => {
    const ip = id('ip3')
    await original.incr(`rate:${ip}`)
    await expect(mod.rateLimiter.check(ip, 5, 60)).resolves.toMatchObject({ allowed: true, remaining: 4 })
    await expect(original.incr(`rate:${ip}`)).resolves.toBe(2)
  })
})
