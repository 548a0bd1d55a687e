'use strict'

// `digis-redis rest-server --embedded`: the Upstash REST protocol on the embedded store of the
// server process, with no Redis at all, judged by the official @upstash/redis client. (The whole
// conformance suite also runs through it: scripts/test-backends.js, "upstash-embedded".)

const crypto = require('node:crypto')
const { Redis } = require('@upstash/redis')
const { startCli, stopCli, runCli } = require('./support')
const { startRestServer } = require('../../binding')

const TOKEN = `tok-${crypto.randomBytes(12).toString('hex')}`
let server
let redis

async function post(path, body) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

beforeAll(async () => {
  // A REDIS_URL in the environment must not matter: --embedded serves no Redis.
  server = await startCli(['rest-server', '--port', '0', '--token', TOKEN, '--embedded'], { REDIS_URL: 'redis://127.0.0.1:1' })
  redis = new Redis({ url: server.url, token: TOKEN, enableAutoPipelining: false })
})

afterAll(async () => {
  if (server) await stopCli(server)
})

test('the ready line says the data lives in the server process', () => {
  expect(server.line).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ \(embedded store: the data lives in this process and is lost when it stops\)$/)
  expect(server.redis).toBeUndefined()
})

test('the official client: commands, pipelines, transactions, base64 replies', async () => {
  expect(await redis.set('emb:a', { n: 1 }, { ex: 60 })).toBe('OK')
  expect(await redis.get('emb:a')).toEqual({ n: 1 })
  expect(await redis.ttl('emb:a')).toBeGreaterThan(50)
  const p = redis.pipeline()
  p.incr('emb:count')
  p.incr('emb:count')
  p.hset('emb:h', { f: 'v' })
  expect(await p.exec()).toEqual([1, 2, 1])
  const tx = redis.multi()
  tx.incr('emb:count')
  tx.get('emb:count')
  expect(await tx.exec()).toEqual([3, 3])
  expect(await redis.hgetall('emb:h')).toEqual({ f: 'v' })
  // Errors are Redis's text, as with a Redis behind it.
  await expect(redis.incr('emb:h')).rejects.toThrow('WRONGTYPE Operation against a key holding the wrong kind of value')
  // A command Redis refuses at queueing time discards the whole transaction.
  const bad = await post('/multi-exec', [['INCR', 'emb:count'], ['GET']])
  expect(bad.status).toBe(400)
  expect(bad.body.error).toMatch(/^EXECABORT/)
  expect(await redis.get('emb:count')).toBe(3)
  await redis.del('emb:a', 'emb:count', 'emb:h')
})

test("digis-redis's own scripts run by EVALSHA or EVAL; other Lua is refused clearly", async () => {
  const { WINDOW_HITS_SOURCE, sha1 } = scriptSource()
  const bySha = await post('/', ['EVALSHA', sha1, '1', 'emb:rl', '60000', '1', '0'])
  expect(bySha.status).toBe(200)
  expect(bySha.body.result).toEqual([1, 60000])
  const bySource = await post('/', ['EVAL', WINDOW_HITS_SOURCE, '1', 'emb:rl', '60000', '1', '0'])
  expect(bySource.body.result[0]).toBe(2)
  const unknownSha = await post('/', ['EVALSHA', 'e0e1f9fabfc9d4800c877a703b823ac0578ff8db', '0'])
  expect(unknownSha.body.error).toMatch(/^NOSCRIPT/)
  await expect(redis.eval('return 1', [], [])).rejects.toThrow(/runs only digis-redis's own scripts/)
  const inTx = await post('/multi-exec', [['INCR', 'emb:x'], ['EVALSHA', sha1, '1', 'emb:rl', '60000', '1', '0']])
  expect(inTx.status).toBe(400)
  expect(inTx.body.error).toMatch(/scripts inside MULTI are not supported/)
  expect(await redis.exists('emb:x')).toBe(0)
  await redis.del('emb:rl')
})

test("SCAN with Upstash's withType, alone and auto-pipelined; refused inside a transaction", async () => {
  await redis.set('emb:wt:s', 'v')
  await redis.zadd('emb:wt:z', { score: 1, member: 'm' })
  const piped = new Redis({ url: server.url, token: TOKEN })
  for (const client of [redis, piped]) {
    const [cursor, items] = await client.scan(0, { match: 'emb:wt:*', count: 1000, withType: true })
    expect(String(cursor)).toBe('0')
    expect(items.sort((a, b) => a.key.localeCompare(b.key))).toEqual([
      { key: 'emb:wt:s', type: 'string' },
      { key: 'emb:wt:z', type: 'zset' },
    ])
  }
  const tx = await post('/multi-exec', [['SCAN', '0', 'WITHTYPE']])
  expect(tx.status).toBe(400)
  expect(tx.body.error).toMatch(/SCAN WITHTYPE is not supported inside \/multi-exec/)
  await redis.del('emb:wt:s', 'emb:wt:z')
})

test('--embedded and --redis exclude each other; the JS API says the same', async () => {
  const r = runCli(['rest-server', '--embedded', '--redis', 'redis://127.0.0.1:6379', '--token', TOKEN])
  expect(r.code).toBe(2)
  expect(r.stderr).toMatch(/--embedded and --redis exclude each other/)
  await expect(startRestServer({ port: 0, token: TOKEN, embedded: true, redisUrl: 'redis://127.0.0.1:1' })).rejects.toThrow(/either redisUrl or embedded/)
  await expect(startRestServer({ port: 0, token: TOKEN })).rejects.toThrow(/redisUrl is required/)
  const local = await startRestServer({ port: 0, token: TOKEN, embedded: true })
  try {
    expect(local.embedded).toBe(true)
    expect(local.redisUrl).toBeNull()
  } finally {
    await local.close()
  }
})

/** The window-hits script's source and SHA-1, from the core's Lua file. */
function scriptSource() {
  const fs = require('node:fs')
  const path = require('node:path')
  const source = fs.readFileSync(path.join(__dirname, '..', '..', 'crates', 'core', 'src', 'lua', 'window_hits.lua'), 'utf8')
  return { WINDOW_HITS_SOURCE: source, sha1: crypto.createHash('sha1').update(source).digest('hex') }
}
