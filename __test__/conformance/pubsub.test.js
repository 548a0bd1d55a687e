'use strict'

// The raw client's subscribe/psubscribe, in @upstash/redis's shape, on every backend: an SSE
// request per name on Upstash (the rest-server serves them as Upstash does), a pub/sub
// connection on Redis and Cluster, the in-process hub on the embedded store.
const { redis } = require('../..')
const { uniquePrefix, sleep } = require('../helpers')

const P = uniquePrefix('pubsub')
const opened = []

/** Resolves once `predicate()` holds (polled), or fails after `ms`. */
async function until(predicate, ms = 10_000) {
  const deadline = Date.now() + ms
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await sleep(20)
  }
}

/** A subscriber with everything it hears recorded by event type. */
function listen(subscriber, types) {
  opened.push(subscriber)
  const heard = Object.fromEntries(types.map((t) => [t, []]))
  for (const type of types) subscriber.on(type, (data) => heard[type].push(data))
  return heard
}

afterAll(async () => {
  for (const s of opened) await s.unsubscribe()
})

describe('raw client pub/sub', () => {
  test('subscribe confirms, then delivers JSON and text messages; unsubscribe ends it', async () => {
    const channel = `${P}:news`
    const sub = redis.subscribe([channel])
    const heard = listen(sub, ['subscribe', 'message', `message:${channel}`, 'error'])
    await until(() => heard.subscribe.length === 1)
    expect(heard.subscribe).toEqual([1])
    expect(sub.getSubscribedChannels()).toEqual([channel])
    expect(await redis.publish(channel, { hello: 'world' })).toBe(1)
    expect(await redis.publish(channel, 'plain text')).toBe(1)
    await until(() => heard.message.length === 2)
    expect(heard.message).toEqual([
      { channel, message: { hello: 'world' } },
      { channel, message: 'plain text' },
    ])
    expect(heard[`message:${channel}`]).toHaveLength(2)
    await sub.unsubscribe()
    expect(sub.getSubscribedChannels()).toEqual([])
    // Nobody hears the channel once the subscriber let go.
    await until(async () => (await redis.publish(channel, 'gone')) === 0)
    expect(heard.error).toEqual([])
  })

  test('psubscribe delivers pmessage with pattern and channel; other channels stay silent', async () => {
    const pattern = `${P}:room:*`
    const sub = redis.psubscribe(pattern)
    const heard = listen(sub, ['psubscribe', 'pmessage', `pmessage:${pattern}`])
    await until(() => heard.psubscribe.length === 1)
    expect(await redis.publish(`${P}:room:7`, { n: 7 })).toBe(1)
    expect(await redis.publish(`${P}:hall`, { n: 8 })).toBe(0)
    await until(() => heard.pmessage.length === 1)
    expect(heard.pmessage).toEqual([{ pattern, channel: `${P}:room:7`, message: { n: 7 } }])
    expect(heard[`pmessage:${pattern}`]).toHaveLength(1)
    await sub.unsubscribe()
  })

  test('several channels, one unsubscribed; automaticDeserialization off keeps the text', async () => {
    const [a, b] = [`${P}:a`, `${P}:b`]
    const sub = redis.subscribe([a, b], { automaticDeserialization: false })
    const heard = listen(sub, ['subscribe', 'message'])
    await until(() => heard.subscribe.length === 2)
    await sub.unsubscribe([a])
    expect(sub.getSubscribedChannels()).toEqual([b])
    await until(async () => (await redis.publish(a, '1')) === 0)
    expect(await redis.publish(b, '{"n":2}')).toBe(1)
    await until(() => heard.message.length === 1)
    expect(heard.message).toEqual([{ channel: b, message: '{"n":2}' }])
    await sub.unsubscribe()
  })

  test('bad names are refused at once with a TypeError', () => {
    expect(() => redis.subscribe([])).toThrow(TypeError)
    expect(() => redis.subscribe([''])).toThrow(TypeError)
    expect(() => redis.psubscribe(7)).toThrow(TypeError)
    const sub = redis.subscribe([`${P}:x`])
    opened.push(sub)
    expect(() => sub.on('message', 'not a function')).toThrow(TypeError)
  })
})
