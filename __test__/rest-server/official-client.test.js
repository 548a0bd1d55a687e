'use strict'

// `digis-redis rest-server` judged by the official @upstash/redis client (and raw fetch for the
// wire details), against the Redis at REDIS_TEST_URL (default 127.0.0.1:6379).

const crypto = require('node:crypto')
const { Redis } = require('@upstash/redis')
const { uniquePrefix } = require('../helpers')
const { REDIS_URL, redisUp, startCli, stopCli, runCli } = require('./support')

const up = redisUp()
if (!up) {
  console.warn(`SKIPPED __test__/rest-server/official-client.test.js: no redis at ${REDIS_URL}`)
}
const describeIfRedis = up ? describe : describe.skip

const TOKEN = `tok-${crypto.randomBytes(12).toString('hex')}`
const P = uniquePrefix('rest-server')
const k = (name) => `${P}:${name}`
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'

let server

/** Raw POST with the token; `{ status, body, headers }`. */
async function post(path, body, headers = {}) {
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

describeIfRedis('digis-redis rest-server', () => {
  beforeAll(async () => {
    server = await startCli(['rest-server', '--port', '0', '--token', TOKEN, '--redis', REDIS_URL])
  })

  afterAll(async () => {
    if (!server) return
    const script =
      "local n = 0 for _, key in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('DEL', key) end return n"
    await post('/', ['EVAL', script, 0, `${P}:*`]).catch(() => {})
    const { code } = await stopCli(server)
    expect(code).toBe(0)
  })

  test('prints exactly one ready line, without the token', () => {
    expect(server.line).toMatch(/^digis-redis rest-server listening on http:\/\/127\.0\.0\.1:\d+ \(redis \S+\)$/)
    expect(server.redis).toBe(REDIS_URL)
    expect(server.stdout()).toBe(`${server.line}\n`)
    expect(server.stdout() + server.stderr()).not.toContain(TOKEN)
  })

  // Auto-pipelining (the default) sends everything to /pipeline; without it, single commands
  // go to POST / and errors come back as HTTP 400.
  describe.each([
    ['auto-pipelining (default)', {}],
    ['one request per command', { enableAutoPipelining: false }],
  ])('official client, %s', (label, extra) => {
    let redis
    const key = (name) => k(`${extra.enableAutoPipelining === false ? 'single' : 'auto'}:${name}`)
    beforeAll(() => {
      redis = new Redis({ url: server.url, token: TOKEN, ...extra })
    })

    test("SCAN with Upstash's withType: each key with its type (emulated)", async () => {
      await redis.set(key('wt:s'), 'v')
      await redis.hset(key('wt:h'), { f: 'v' })
      await redis.sadd(key('wt:set'), 'm')
      const seen = []
      let cursor = '0'
      do {
        const [next, items] = await redis.scan(cursor, { match: `${key('wt:')}*`, count: 100, withType: true })
        seen.push(...items)
        cursor = String(next)
      } while (cursor !== '0')
      seen.sort((a, b) => a.key.localeCompare(b.key))
      expect(seen).toEqual([
        { key: key('wt:h'), type: 'hash' },
        { key: key('wt:s'), type: 'string' },
        { key: key('wt:set'), type: 'set' },
      ])
      await redis.del(key('wt:s'), key('wt:h'), key('wt:set'))
    })

    test('strings and numbers', async () => {
      expect(await redis.set(key('s'), 'hello', { ex: 100 })).toBe('OK')
      expect(await redis.get(key('s'))).toBe('hello')
      const ttl = await redis.ttl(key('s'))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(100)
      expect(await redis.get(key('missing'))).toBeNull()
      expect(await redis.set(key('n'), 42)).toBe('OK')
      expect(await redis.get(key('n'))).toBe(42)
      expect(await redis.incr(key('n'))).toBe(43)
      expect(await redis.incrbyfloat(key('n'), 0.5)).toBe(43.5)
      await redis.set(key('zero'), '0123')
      expect(await redis.get(key('zero'))).toBe('0123')
      await redis.mset({ [key('m1')]: 'a', [key('m2')]: 2 })
      expect(await redis.mget(key('m1'), key('m2'), key('missing'))).toEqual(['a', 2, null])
      const text = 'héllo ☃ 😀'
      await redis.set(key('utf8'), text)
      expect(await redis.get(key('utf8'))).toBe(text)
    })

    test('JSON values round trip', async () => {
      const value = { a: 1, b: [1, 'two', null], c: { d: true }, e: 'x' }
      await redis.set(key('json'), value)
      expect(await redis.get(key('json'))).toEqual(value)
      await redis.set(key('flag'), true)
      expect(await redis.get(key('flag'))).toBe(true)
    })

    test('hashes', async () => {
      expect(await redis.hset(key('h'), { name: 'Ada', age: 36 })).toBe(2)
      expect(await redis.hgetall(key('h'))).toEqual({ name: 'Ada', age: 36 })
      expect(await redis.hget(key('h'), 'name')).toBe('Ada')
      expect(await redis.hgetall(key('no-hash'))).toBeNull()
    })

    test('sets', async () => {
      expect(await redis.sadd(key('set'), 'a', 'b', 'c')).toBe(3)
      expect((await redis.smembers(key('set'))).sort()).toEqual(['a', 'b', 'c'])
      expect(await redis.sismember(key('set'), 'b')).toBe(1)
      expect(await redis.scard(key('set'))).toBe(3)
    })

    test('sorted sets', async () => {
      expect(
        await redis.zadd(key('z'), { score: 1, member: 'one' }, { score: 2.5, member: 'two' }),
      ).toBe(2)
      expect(await redis.zrange(key('z'), 0, -1, { withScores: true })).toEqual(['one', 1, 'two', 2.5])
      expect(await redis.zrange(key('z'), 0, -1)).toEqual(['one', 'two'])
      expect(await redis.zscore(key('z'), 'two')).toBe(2.5)
      expect(await redis.zincrby(key('z'), 0.25, 'one')).toBe(1.25)
    })

    test('lists', async () => {
      expect(await redis.rpush(key('l'), 'a', 'b', 'c')).toBe(3)
      expect(await redis.lrange(key('l'), 0, -1)).toEqual(['a', 'b', 'c'])
      expect(await redis.lpop(key('l'))).toBe('a')
      expect(await redis.llen(key('l'))).toBe(2)
    })

    test('pipelines', async () => {
      const results = await redis
        .pipeline()
        .set(key('p'), 'v')
        .incr(key('pc'))
        .get(key('p'))
        .hset(key('ph'), { f: 1 })
        .hgetall(key('ph'))
        .exec()
      expect(results).toEqual(['OK', 1, 'v', 1, { f: 1 }])
      await redis.rpush(key('pl'), 'x')
      await expect(redis.pipeline().incr(key('pc')).get(key('pl')).exec()).rejects.toThrow(WRONGTYPE)
      const kept = await redis.pipeline().incr(key('pc')).get(key('pl')).exec({ keepErrors: true })
      expect(kept[0]).toEqual({ error: undefined, result: 3 })
      expect(kept[1].error).toBe(WRONGTYPE)
    })

    test('transactions', async () => {
      expect(await redis.multi().incr(key('t')).incr(key('t')).get(key('t')).exec()).toEqual([1, 2, 2])
      await redis.rpush(key('tl'), 'x')
      // An error at EXEC time fails that command only; the others ran.
      await expect(redis.multi().incr(key('t')).get(key('tl')).incr(key('t')).exec()).rejects.toThrow(
        WRONGTYPE,
      )
      expect(await redis.get(key('t'))).toBe(4)
    })

    test('scripts', async () => {
      await expect(redis.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/)
      expect(await redis.eval('return ARGV[1]', [], ['hi'])).toBe('hi')
      expect(await redis.eval('return {KEYS[1], tonumber(ARGV[1]) + 1}', [key('e')], [41])).toEqual([
        key('e'),
        42,
      ])
      const sha = await redis.scriptLoad("return 'loaded ' .. KEYS[1]")
      expect(sha).toMatch(/^[0-9a-f]{40}$/)
      expect(await redis.evalsha(sha, ['x'], [])).toBe('loaded x')
      expect(await redis.eval('return true', [], [])).toBe(1)
      expect(await redis.eval('return false', [], [])).toBeNull()
    })

    test('errors reject with the Redis text', async () => {
      await redis.rpush(key('wl'), 'x')
      await expect(redis.get(key('wl'))).rejects.toThrow(WRONGTYPE)
      await expect(redis.incr(key('wl'))).rejects.toThrow(WRONGTYPE)
    })

    test('a wrong token rejects with WRONGPASS', async () => {
      const wrong = new Redis({ url: server.url, token: `${TOKEN}x`, ...extra })
      await expect(wrong.get(key('s'))).rejects.toThrow(/WRONGPASS invalid or missing auth token/)
    })
  })

  test('binary values: base64 carries the exact bytes', async () => {
    const bin = k('bin')
    const script = "redis.call('SET', KEYS[1], string.char(255, 0, 128, 104, 105)) return redis.call('GET', KEYS[1])"
    const base64 = new Redis({ url: server.url, token: TOKEN })
    const plain = new Redis({ url: server.url, token: TOKEN, responseEncoding: false })
    // The client decodes to a JS string, so invalid UTF-8 shows as U+FFFD either way.
    expect(await base64.eval(script, [bin], [])).toBe('\uFFFD\u0000\uFFFDhi')
    expect(await plain.get(bin)).toBe('\uFFFD\u0000\uFFFDhi')
    // On the wire, base64 is the stored bytes themselves.
    const raw = await post('/', ['GET', bin], { 'Upstash-Encoding': 'base64' })
    expect(raw.status).toBe(200)
    expect([...Buffer.from(raw.body.result, 'base64')]).toEqual([255, 0, 128, 104, 105])
    const lossy = await post('/', ['GET', bin])
    expect(lossy.body.result).toBe('\uFFFD\u0000\uFFFDhi')
    // Nested arrays are encoded at every depth; numbers and null are left alone.
    const nested = await post('/', ['EVAL', "return {1, KEYS[1], {'a', false}}", 1, 'é'], {
      'Upstash-Encoding': 'base64',
    })
    expect(nested.body).toEqual({
      result: [1, Buffer.from('é').toString('base64'), [Buffer.from('a').toString('base64'), null]],
    })
  })

  test('raw: missing or wrong token → 401', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope' }]) {
      const res = await fetch(`${server.url}/`, { method: 'POST', headers, body: '["PING"]' })
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/json')
      expect(await res.json()).toEqual({ error: 'WRONGPASS invalid or missing auth token' })
    }
  })

  test('raw: a failing single command → 400 with the Redis error', async () => {
    await post('/', ['RPUSH', k('raw-l'), 'x'])
    const res = await post('/', ['GET', k('raw-l')])
    expect(res.status).toBe(400)
    expect(res.body).toEqual({ error: WRONGTYPE })
    const malformed = await post('/', '["GET"')
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toMatch(/^ERR malformed JSON/)
  })

  test('raw: pipeline errors are inline with status 200; EXECABORT is one error', async () => {
    const res = await post('/pipeline', [
      ['SET', k('rp'), 1],
      ['GET', k('raw-l')],
      ['INCR', k('rp')],
    ])
    expect(res.status).toBe(200)
    expect(res.body).toEqual([{ result: 'OK' }, { error: WRONGTYPE }, { result: 2 }])
    const aborted = await post('/multi-exec', [['INCR', k('rp')], ['NOSUCHCOMMAND']])
    expect(aborted.status).toBe(400)
    expect(Object.keys(aborted.body)).toEqual(['error'])
    expect(aborted.body.error).toMatch(/^EXECABORT/)
    expect((await post('/', ['GET', k('rp')])).body).toEqual({ result: '2' })
  })

  test('raw: path style GET /get/<key>', async () => {
    await post('/', ['SET', k('path key'), 'path value'])
    const encoded = encodeURIComponent(k('path key'))
    const res = await fetch(`${server.url}/get/${encoded}`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ result: 'path value' })
    const viaQuery = await fetch(`${server.url}/get/${encoded}?_token=${encodeURIComponent(TOKEN)}`)
    expect(await viaQuery.json()).toEqual({ result: 'path value' })
  })

  test('raw: a body over 10 MiB → 413', async () => {
    const big = JSON.stringify(['SET', k('big'), 'x'.repeat(10 * 1024 * 1024)])
    const res = await post('/', big)
    expect(res.status).toBe(413)
    expect(res.body).toEqual({ error: 'ERR request body too large (limit 10485760 bytes)' })
    expect((await post('/', ['EXISTS', k('big')])).body).toEqual({ result: 0 })
  })

  test('raw: a 1M-command pipeline (9 MB) is refused at once, RSS bounded', async () => {
    const fs = require('node:fs')
    const rss = () => Number(/^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${server.child.pid}/status`, 'utf8'))[1]) / 1024
    const body = `[${Array(1_000_000).fill('["PING"]').join(',')}]`
    expect(body.length).toBeLessThan(10 * 1024 * 1024)
    const before = rss()
    const { status, body: reply } = await post('/pipeline', body)
    expect(status).toBe(400)
    expect(reply.error).toBe('ERR pipeline too long: 1000000 commands, at most 10000 per request; split it into several requests')
    // Running it would have built a million replies (over 1 GB measured before the cap).
    expect(rss() - before).toBeLessThan(150)
    // The cap itself runs.
    const atCap = await post('/pipeline', `[${Array(10_000).fill('["PING"]').join(',')}]`)
    expect(atCap.status).toBe(200)
    expect(atCap.body).toHaveLength(10_000)
  })

  test('raw: every reply carries an upstash-sync-token', async () => {
    const first = await post('/', ['PING'], { 'upstash-sync-token': 'anything' })
    const second = await post('/', ['PING'])
    expect(Number(second.headers.get('upstash-sync-token'))).toBeGreaterThan(
      Number(first.headers.get('upstash-sync-token')),
    )
  })
})

describe('digis-redis CLI', () => {
  test('SIGTERM and SIGINT stop it with exit code 0; the Redis password is masked', async () => {
    for (const signal of ['SIGTERM', 'SIGINT']) {
      // Nothing listens on port 1: starting does not need Redis.
      const cli = await startCli(['rest-server', '--port', '0', '--redis', 'redis://:hunter22@127.0.0.1:1'], {
        DIGIS_REST_TOKEN: TOKEN,
      })
      expect(cli.line).toMatch(/\(redis redis:\/\/:\*\*\*@127\.0\.0\.1:1\)$/)
      const { code, signal: killedBy } = await stopCli(cli, signal)
      expect({ code, killedBy }).toEqual({ code: 0, killedBy: null })
      expect(cli.stdout() + cli.stderr()).not.toMatch(/hunter22|tok-/)
    }
  })

  test('the ready line masks every credential shape of the Redis URL (unix ?pass=, user position)', async () => {
    const secret = 'sockPassw0rd-77'
    for (const [redis, shown] of [
      [`unix:///tmp/digis-nowhere.sock?db=2&pass=${secret}`, 'unix:///tmp/digis-nowhere.sock?db=2&pass=***'],
      [`redis://${secret}@127.0.0.1:1`, 'redis://***@127.0.0.1:1'],
    ]) {
      const cli = await startCli(['rest-server', '--port', '0', '--redis', redis], { DIGIS_REST_TOKEN: TOKEN })
      expect(cli.redis).toBe(shown)
      await stopCli(cli)
      expect(cli.stdout() + cli.stderr()).not.toContain(secret)
    }
    // A usage error quoting the URL argument masks it too.
    const bad = runCli(['rest-server', '--port', '0', '--token', TOKEN, '--redis', `unix:///s?pass=${secret}`, '--nope'])
    expect(bad.code).toBe(2)
    expect(bad.stdout + bad.stderr).not.toContain(secret)
  })

  test('bad flags and unusable ports exit 2 with a message on stderr', async () => {
    const unknown = runCli(['rest-server', '--nope', '--token', TOKEN])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--nope'/)
    expect(unknown.stderr).not.toContain(TOKEN)
    const port = runCli(['rest-server', '--port', 'abc', '--token', TOKEN])
    expect(port.code).toBe(2)
    expect(port.stderr).toMatch(/--port must be an integer/)
    const noToken = runCli(['rest-server', '--port', '0'], { DIGIS_REST_TOKEN: '' })
    expect(noToken.code).toBe(2)
    expect(noToken.stderr).toMatch(/token is required/)
    const net = require('node:net')
    const taken = net.createServer().listen(0, '127.0.0.1')
    await new Promise((resolve) => taken.once('listening', resolve))
    try {
      const busy = runCli(['rest-server', '--port', String(taken.address().port), '--token', TOKEN])
      expect(busy.code).toBe(2)
      expect(busy.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+: .*in use/i)
      expect(busy.stdout).toBe('')
    } finally {
      taken.close()
    }
    expect(runCli(['--help']).code).toBe(0)
    expect(runCli(['frobnicate']).code).toBe(2)
  })
})
