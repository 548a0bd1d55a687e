'use strict'

const { DigisRedisError, invalidArgument, toTypedError, throwUncaught } = require('./errors')
const { describe, decodeValue, parseJsonOrText, whyNotJson } = require('./codec')

/**
 * The raw `redis` export, in the style of @upstash/redis: arguments that are not strings,
 * numbers or booleans are JSON-encoded, and replies are JSON-parsed where they can be
 * ("automatic deserialization"). Like @upstash/redis, its calls reject on errors; the
 * feature namespaces are the never-rejecting API.
 */

/** @upstash/redis's defaultSerializer, to the strings the binding takes. */
function serializeArg(arg) {
  if (typeof arg === 'string') return arg
  if (typeof arg === 'number' || typeof arg === 'boolean') return String(arg)
  let text
  try {
    text = JSON.stringify(arg)
  } catch (err) {
    throw invalidArgument(`argument cannot be encoded as JSON: ${whyNotJson(err)}`)
  }
  if (text === undefined) throw invalidArgument(`argument cannot be encoded: ${describe(arg)}`)
  return text
}

/** @upstash/redis's parseResponse: every string reply (at any depth) read as stored text is. */
function parseResponse(result) {
  if (Array.isArray(result)) return result.map(parseResponse)
  return typeof result === 'string' ? decodeValue(result) : result
}

/** A hash value as @upstash/redis reads it: JSON when it parses, but large integers stay strings. */
function parseHashValue(value) {
  const asNumber = Number(value)
  if (!Number.isNaN(asNumber) && !Number.isSafeInteger(asNumber)) return value
  return parseJsonOrText(value)
}

// Object.fromEntries defines each field as an own property, so a field named `__proto__` is
// data, not the object's prototype (which assignment would replace).

/** HGETALL as an object of field → value, or null for a missing hash. */
function hgetallDeserializer(result) {
  if (!Array.isArray(result) || result.length === 0) return null
  return Object.fromEntries(Array.from({ length: result.length / 2 }, (_, i) => [result[2 * i], parseHashValue(result[2 * i + 1])]))
}

/** HMGET as an object of the asked fields, or null when none exists. */
function hmgetDeserializer(result, [, ...fields]) {
  if (result.every((value) => value === null)) return null
  return Object.fromEntries(fields.map((field, i) => [field, parseJsonOrText(result[i])]))
}

/** SCAN: the cursor stays a string; the keys are parsed like any reply. */
const scanDeserializer = (result) => [result[0], ...parseResponse(result.slice(1))]

function setArgs(key, value, opts) {
  const args = ['set', key, value]
  if (opts) {
    if (opts.nx) args.push('nx')
    else if (opts.xx) args.push('xx')
    if (opts.get) args.push('get')
    if (typeof opts.ex === 'number') args.push('ex', opts.ex)
    else if (typeof opts.px === 'number') args.push('px', opts.px)
    else if (typeof opts.exat === 'number') args.push('exat', opts.exat)
    else if (typeof opts.pxat === 'number') args.push('pxat', opts.pxat)
    else if (opts.keepTtl) args.push('keepttl')
  }
  return args
}

function zaddArgs(key, first, ...rest) {
  const args = ['zadd', key]
  const opts = first || {}
  if (opts.nx) args.push('nx')
  else if (opts.xx) args.push('xx')
  if (opts.ch) args.push('ch')
  if (opts.incr) args.push('incr')
  if (opts.lt) args.push('lt')
  else if (opts.gt) args.push('gt')
  if ('score' in opts && 'member' in opts) args.push(opts.score, opts.member)
  for (const { score, member } of rest) args.push(score, member)
  return args
}

function zrangeArgs(key, min, max, opts) {
  const args = ['zrange', key, min, max]
  if (opts?.byScore) args.push('byscore')
  if (opts?.byLex) args.push('bylex')
  if (opts?.rev) args.push('rev')
  if (opts?.count !== undefined && opts.offset !== undefined) args.push('limit', opts.offset, opts.count)
  if (opts?.withScores) args.push('withscores')
  return args
}

function scanArgs(cursor, opts) {
  const args = ['scan', cursor]
  if (opts?.match) args.push('match', opts.match)
  if (typeof opts?.count === 'number') args.push('count', opts.count)
  if (opts?.type) args.push('type', opts.type)
  return args
}

const flatEntries = (obj) => Object.entries(obj ?? {}).flat()

/** Commands whose parts are the method's name and arguments as given. */
const AS_GIVEN = `get setex psetex setnx getdel del unlink exists expireat ttl pttl persist type incr incrby
  incrbyfloat decr decrby keys append strlen dbsize hget hdel hexists hlen hkeys hincrby sadd srem
  smembers sismember scard spop zrem zscore zincrby zcard zcount zrank zremrangebyscore lpush rpush
  lpop rpop lrange llen ltrim publish ping echo time hmget hgetall`.split(/\s+/)

/** Each method: a builder of its command parts, or [builder, deserializer(result, args)]. */
const commands = {
  ...Object.fromEntries(AS_GIVEN.map((name) => [name, (...args) => [name, ...args]])),
  set: setArgs,
  expire: (key, seconds, option) => ['expire', key, seconds, ...(option ? [option] : [])],
  pexpire: (key, ms, option) => ['pexpire', key, ms, ...(option ? [option] : [])],
  mget: (...keys) => ['mget', ...(Array.isArray(keys[0]) ? keys[0] : keys)],
  mset: (kv) => ['mset', ...flatEntries(kv)],
  scan: [scanArgs, scanDeserializer],
  eval: (script, keys = [], args = []) => ['eval', script, keys.length, ...keys, ...args],
  evalsha: (sha, keys = [], args = []) => ['evalsha', sha, keys.length, ...keys, ...args],
  hset: (key, kv) => ['hset', key, ...flatEntries(kv)],
  zadd: zaddArgs,
  zrange: zrangeArgs,
}
commands.hmget = [commands.hmget, hmgetDeserializer]
commands.hgetall = [commands.hgetall, hgetallDeserializer]

/** Command parts (as strings) and the deserializer for one method call. */
function prepare(method, args) {
  const spec = commands[method]
  const [build, deserializer] = Array.isArray(spec) ? spec : [spec, parseResponse]
  const parts = build(...args).map(serializeArg)
  return { parts, deserialize: (result) => deserializer(result, args) }
}

/**
 * The binding's answer (a value from the embedded store, else a promise), with its failure as a
 * typed error; a call refused synchronously rejects too, like every other failure.
 */
async function answered(call) {
  try {
    return await call()
  } catch (err) {
    throw toTypedError(err)
  }
}

const kNative = Symbol('native')
const kAtomic = Symbol('atomic')
const kQueued = Symbol('queued')

/** A chain of commands sent in one round trip by `exec()`; `multi()` makes it atomic. */
class Pipeline {
  constructor(native, atomic) {
    this[kNative] = native
    this[kAtomic] = atomic
    this[kQueued] = []
  }

  length() {
    return this[kQueued].length
  }

  async exec(options) {
    if (this[kQueued].length === 0) throw new Error('Pipeline is empty')
    const queued = this[kQueued]
    this[kQueued] = []
    const native = this[kNative]
    const text = await answered(() => native.pipeline(queued.map((c) => c.parts), this[kAtomic]))
    return JSON.parse(text).map(({ error, code, result }, i) => {
      if (options?.keepErrors) return { error, result: queued[i].deserialize(result) }
      if (error !== undefined) throw new DigisRedisError(code, `Command ${i + 1} [ ${queued[i].parts[0]} ] failed: ${error}`)
      return queued[i].deserialize(result)
    })
  }
}

/**
 * What `redis.subscribe()` / `psubscribe()` return, as @upstash/redis's Subscriber: listeners
 * by event type (`subscribe`/`psubscribe` with the count, `message` / `message:<channel>` with
 * `{ channel, message }`, `pmessage` / `pmessage:<pattern>` with `{ pattern, channel, message }`,
 * and `error`), one subscription per name, `unsubscribe(names?)`, `getSubscribedChannels()`.
 */
class Subscriber {
  #native
  #patterns
  #deserialize
  #listeners = new Map()
  #subscriptions = new Map()

  constructor(native, names, patterns, options) {
    this.#native = native
    this.#patterns = patterns
    this.#deserialize = options?.automaticDeserialization !== false
    for (const name of names) this.#open(String(name))
  }

  on(type, listener) {
    if (typeof listener !== 'function') throw invalidArgument('a listener must be a function')
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set())
    this.#listeners.get(type).add(listener)
  }

  removeAllListeners() {
    this.#listeners.clear()
  }

  /** Ends the subscriptions to `names` (all of them, and the listeners, without). */
  async unsubscribe(names) {
    const ending = names === undefined ? [...this.#subscriptions.keys()] : names.map(String)
    for (const name of ending) {
      const subscription = this.#subscriptions.get(name)
      if (!subscription) continue
      subscription.closed = true
      if (subscription.handle) subscription.handle.close()
      this.#subscriptions.delete(name)
    }
    if (names === undefined) this.removeAllListeners()
  }

  getSubscribedChannels() {
    return [...this.#subscriptions.keys()]
  }

  #open(name) {
    const subscription = { closed: false, handle: null }
    this.#subscriptions.set(name, subscription)
    Promise.resolve()
      .then(() => this.#native.subscribe(this.#patterns, [name]))
      .then(async (handle) => {
        subscription.handle = handle
        if (subscription.closed) return handle.close()
        for (let event = await handle.next(); event && !subscription.closed; event = await handle.next()) {
          this.#dispatch(event)
        }
        // The server ended it (not us): it is no longer subscribed.
        if (!subscription.closed) this.#subscriptions.delete(name)
      })
      .catch((err) => {
        this.#subscriptions.delete(name)
        this.#emit('error', toTypedError(err))
      })
  }

  #dispatch({ type, channel, pattern, message, count }) {
    if (type === 'subscribe' || type === 'psubscribe') return this.#emit(type, count)
    const data = { channel, message: this.#deserialize ? parseJsonOrText(message) : message }
    const [name, event] = type === 'pmessage' ? [pattern, { pattern, ...data }] : [channel, data]
    this.#emit(type, event)
    this.#emit(`${type}:${name}`, event)
  }

  #emit(type, data) {
    for (const listener of this.#listeners.get(type) ?? []) {
      try {
        listener(data)
      } catch (thrown) {
        // Not the end of the subscription.
        throwUncaught(thrown)
      }
    }
  }
}

/** The names a subscribe call takes: one or an array, non-empty strings. */
function subscriptionNames(names, what) {
  const list = Array.isArray(names) ? names : [names]
  if (list.length === 0 || list.some((n) => typeof n !== 'string' || n === '')) {
    throw invalidArgument(`${what} takes a non-empty string or an array of them, got ${describe(names)}`)
  }
  return list
}

class RawClient {
  constructor(native) {
    this[kNative] = native
  }

  /** @upstash/redis's subscribe: a Subscriber receiving the channels' messages. */
  subscribe(channels, options) {
    return new Subscriber(this[kNative], subscriptionNames(channels, 'subscribe'), false, options)
  }

  /** @upstash/redis's psubscribe: a Subscriber receiving the messages of matching channels. */
  psubscribe(patterns, options) {
    return new Subscriber(this[kNative], subscriptionNames(patterns, 'psubscribe'), true, options)
  }

  pipeline() {
    return new Pipeline(this[kNative], false)
  }

  multi() {
    return new Pipeline(this[kNative], true)
  }

  /** Names the backend and its address; secrets are masked by the binding. */
  toString() {
    return `[digis-redis raw client: ${this[kNative].description}]`
  }
}

for (const method of Object.keys(commands)) {
  const define = (prototype, value) => Object.defineProperty(prototype, method, { value, writable: true, configurable: true })
  define(RawClient.prototype, async function (...args) {
    const { parts, deserialize } = prepare(method, args)
    const native = this[kNative]
    return deserialize(JSON.parse(await answered(() => native.command(parts))))
  })
  define(Pipeline.prototype, function (...args) {
    this[kQueued].push(prepare(method, args))
    return this
  })
}

/** Points `client` (and the pipelines it makes from now on) at another native client. */
function useNative(client, native) {
  client[kNative] = native
}

module.exports = { RawClient, Pipeline, Subscriber, parseResponse, serializeArg, useNative }
