'use strict'

// The raw client's subscribe/psubscribe, in @upstash/redis's shape, on every backend: an SSE
// request per name on Upstash (the rest-server serves them as Upstash does), a pub/sub
// connection on Redis and Cluster, the in-process hub on the embedded store.
const { redis } = require('../..')
const { selectBackend } = require('../../lib/environment')
const { uniquePrefix, sleep } = require('../helpers')

// On a cluster, PUBLISH counts only the subscribers of the node that took it (Redis's rule):
// the count is checked everywhere else.
const counts = selectBackend().kind !== 'cluster'

/** PUBLISH, checking its count where the backend gives one. */
async function publish(channel, message, receivers) {
  const n = await redis.publish(channel, message)
  if (counts) expect(n).toBe(receivers)
}

/** Nobody hears `channel` any more: PUBLISH counts 0, or (cluster) `heard` stays as it is. */
async function nobodyHears(channel, heard) {
  if (counts) return until(async () => (await redis.publish(channel, 'gone')) === 0)
  const before = heard.length
  await redis.publish(channel, 'gone')
  await sleep(300)
  expect(heard).toHaveLength(before)
}

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
    await publish(channel, { hello: 'world' }, 1)
    await publish(channel, 'plain text', 1)
    await until(() => heard.message.length === 2)
    expect(heard.message).toEqual([
      { channel, message: { hello: 'world' } },
      { channel, message: 'plain text' },
    ])
    expect(heard[`message:${channel}`]).toHaveLength(2)
    await sub.unsubscribe()
    expect(sub.getSubscribedChannels()).toEqual([])
    // Nobody hears the channel once the subscriber let go.
    await nobodyHears(channel, heard.message)
    expect(heard.error).toEqual([])
  })

  test('psubscribe delivers pmessage with pattern and channel; other channels stay silent', async () => {
    const pattern = `${P}:room:*`
    const sub = redis.psubscribe(pattern)
    const heard = listen(sub, ['psubscribe', 'pmessage', `pmessage:${pattern}`])
    await until(() => heard.psubscribe.length === 1)
    await publish(`${P}:room:7`, { n: 7 }, 1)
    await publish(`${P}:hall`, { n: 8 }, 0)
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
    await nobodyHears(a, heard.message)
    await publish(b, '{"n":2}', 1)
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
