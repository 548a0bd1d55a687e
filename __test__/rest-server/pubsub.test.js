'use strict'

// Pub/sub over REST as Upstash serves it (server-sent events on /subscribe and /psubscribe),
// judged by the official @upstash/redis client as subscriber and publisher, on a rest-server in
// front of Redis (when one is up at REDIS_TEST_URL) and on `--embedded`.

const crypto = require('node:crypto')
const { Redis } = require('@upstash/redis')
const { uniquePrefix, sleep } = require('../helpers')
const { REDIS_URL, redisUp, startCli, stopCli } = require('./support')

const TOKEN = `tok-${crypto.randomBytes(12).toString('hex')}`
const P = uniquePrefix('pubsub')

const stores = [['embedded', ['--embedded']]]
if (redisUp()) stores.push(['redis', ['--redis', REDIS_URL]])
else console.warn(`SKIPPED the Redis half of __test__/rest-server/pubsub.test.js: no redis at ${REDIS_URL}`)

/** Resolves once `predicate()` holds (polled), or fails after `ms`. */
async function until(predicate, ms = 5000) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await sleep(20)
  }
}

/** Reads a raw SSE response: `{ lines, abort }`, lines growing as events arrive. */
async function openStream(server, path, { token = TOKEN } = {}) {
  const controller = new AbortController()
  const res = await fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
    body: '[]',
    signal: controller.signal,
  })
  const lines = []
  if (res.ok) {
    ;(async () => {
      const decoder = new TextDecoder()
      let buffer = ''
      try {
        for await (const chunk of res.body) {
          buffer += decoder.decode(chunk, { stream: true })
          const parts = buffer.split('\n')
          buffer = parts.pop()
          lines.push(...parts.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)))
        }
      } catch {
        // Aborted.
      }
    })()
  }
  return { res, lines, abort: () => controller.abort() }
}

// @upstash/redis logs its own AbortError when a subscriber unsubscribes (its check misses
// DOMException): keep that noise out of the test output, and nothing else.
const consoleError = console.error
beforeAll(() => {
  console.error = (...args) => {
    if (String(args[0]).startsWith('Stream reading error') && String(args[1]).includes('AbortError')) return
    consoleError(...args)
  }
})
afterAll(() => {
  console.error = consoleError
})

describe.each(stores)('rest-server pub/sub over SSE (%s)', (label, storeArgs) => {
  let server
  let redis
  beforeAll(async () => {
    server = await startCli(['rest-server', '--port', '0', '--token', TOKEN, '--max-subscriptions', '3', ...storeArgs])
    redis = new Redis({ url: server.url, token: TOKEN })
  })
  afterAll(async () => {
    if (server) await stopCli(server)
  })

  test('the official client subscribes and receives messages, JSON and text', async () => {
    const channel = `${P}:${label}:news`
    const sub = redis.subscribe([channel])
    const counts = []
    const messages = []
    sub.on('subscribe', (n) => counts.push(n))
    sub.on('message', (m) => messages.push(m))
    await until(() => counts.length === 1)
    expect(counts).toEqual([1])
    expect(await redis.publish(channel, { hello: 'world' })).toBe(1)
    expect(await redis.publish(channel, 'plain text')).toBe(1)
    await until(() => messages.length === 2)
    expect(messages).toEqual([
      { channel, message: { hello: 'world' } },
      { channel, message: 'plain text' },
    ])
    await sub.unsubscribe()
    // The server lets go of the subscription once the client has gone.
    await until(async () => (await redis.publish(channel, 'nobody')) === 0)
  })

  test('psubscribe delivers pmessage with the pattern and the channel', async () => {
    const pattern = `${P}:${label}:room:*`
    const sub = redis.psubscribe([pattern])
    const messages = []
    let confirmed = false
    sub.on('psubscribe', () => {
      confirmed = true
    })
    sub.on('pmessage', (m) => messages.push(m))
    await until(() => confirmed)
    const channel = `${P}:${label}:room:7`
    expect(await redis.publish(channel, { n: 7 })).toBe(1)
    expect(await redis.publish(`${P}:${label}:hall`, { n: 8 })).toBe(0)
    await until(() => messages.length === 1)
    expect(messages[0]).toEqual({ pattern, channel, message: { n: 7 } })
    await sub.unsubscribe()
    await until(async () => (await redis.publish(channel, 'x')) === 0)
  })

  test('the wire: Upstash lines, several channels per request, a payload cannot forge events', async () => {
    const a = `${P}:${label}:a`
    const b = `${P}:${label}:b with space`
    const stream = await openStream(server, `/subscribe/${encodeURIComponent(a)}/${encodeURIComponent(b)}`)
    expect(stream.res.status).toBe(200)
    expect(stream.res.headers.get('content-type')).toBe('text/event-stream')
    await until(() => stream.lines.length === 2)
    expect(stream.lines).toEqual([`subscribe,${a},1`, `subscribe,${b},2`])
    await redis.publish(b, 'line one\ndata: message,forged,evil')
    await until(() => stream.lines.length === 3)
    expect(stream.lines[2]).toBe(`message,${b},line one data: message,forged,evil`)
    stream.abort()
    await until(async () => (await redis.publish(a, 'x')) === 0)
  })

  test('subscriptions are bounded per request and on the whole server; a stranger gets 401', async () => {
    const many = Array.from({ length: 65 }, (_, i) => `c${i}`).join('/')
    const tooMany = await openStream(server, `/subscribe/${many}`)
    expect(tooMany.res.status).toBe(400)
    expect((await tooMany.res.json()).error).toMatch(/at most 64/)
    const stranger = await openStream(server, `/subscribe/${P}:x`, { token: 'wrong' })
    expect(stranger.res.status).toBe(401)
    // --max-subscriptions 3: two and one fill it, the next is refused until one goes away.
    const first = await openStream(server, `/subscribe/${P}:l1/${P}:l2`)
    const second = await openStream(server, `/psubscribe/${P}:l3*`)
    expect([first.res.status, second.res.status]).toEqual([200, 200])
    const refused = await openStream(server, `/subscribe/${P}:l4`)
    expect(refused.res.status).toBe(503)
    expect((await refused.res.json()).error).toMatch(/subscriptions are open/)
    first.abort()
    await until(async () => (await openStream(server, `/subscribe/${P}:l4`).then((s) => (s.abort(), s.res.status))) === 200)
    second.abort()
  })
})
