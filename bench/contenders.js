'use strict'

// The contenders. "ours-*" is this package on one backend (chosen by the environment the
// orchestrator gives the child process); the others do the same thing the way the original
// JS module does it with a JS client:
//   cache.get / users.get / sessions.get   GET, then JSON.parse (@upstash/redis: its automatic
//                                           deserialization, which is a JSON.parse)
//   cache.set                              SETEX key ttl JSON.stringify(value)
//   rateLimiter.check                      INCR, then EXPIRE on the first hit (fixed window)
//   otp.verify                             GET, compare, DEL on a match (compared as strings,
//                                           so a right code is consumed as in ours)
//   streams.getAllActive                   KEYS stream:active:*, then MGET (and JSON.parse)
// The embedded store's counterpart keeps the same text in lru-cache (JSON.stringify on set,
// JSON.parse on get), TTLs included.
const { PACKAGE_DIR, enableNearCache, nearCacheCounters } = require('./common')

/** contender → [backend group, environment kind, description] */
const CONTENDERS = {
  'ours-redis': { group: 'redis', ours: true, label: 'digis-redis (Redis protocol)' },
  // Only when named in BENCH_CONTENDERS (npm run bench:near): the near cache is for reads.
  'ours-redis-near': { group: 'redis', ours: true, optIn: true, label: 'digis-redis (Redis protocol, near cache on)' },
  ioredis: { group: 'redis', label: 'ioredis' },
  'ioredis-auto': { group: 'redis', label: 'ioredis (enableAutoPipelining)' },
  'ours-rest': { group: 'rest', ours: true, label: 'digis-redis (Upstash REST)' },
  upstash: { group: 'rest', label: '@upstash/redis' },
  'ours-embedded': { group: 'embedded', ours: true, label: 'digis-redis (embedded)' },
  'lru-cache': { group: 'embedded', label: 'lru-cache + JSON' },
}

const parseOrRaw = (text) => {
  if (text === null) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const encode = (value) => (typeof value === 'string' ? value : JSON.stringify(value))

/** The original module's functions over a client with ioredis-style methods. */
function jsOverServer(client, { deserialized }) {
  const read = deserialized ? async (key) => (await client.get(key)) ?? null : async (key) => parseOrRaw(await client.get(key))
  return {
    get: read,
    set: async (key, value, ttl) => {
      await client.setex(key, ttl, encode(value))
      return true
    },
    rateCheck: async (id, limit, window) => {
      const key = `rate:${id}`
      const current = await client.incr(key)
      if (current === 1) await client.expire(key, window)
      return { allowed: current <= limit, remaining: Math.max(0, limit - current), reset: window }
    },
    otpVerify: async (id, code) => {
      const key = `otp:${id}`
      const stored = await client.get(key)
      if (stored !== null && stored !== undefined && String(stored) === code) {
        await client.del(key)
        return true
      }
      return false
    },
    allActive: async () => {
      const keys = await client.keys('stream:active:*')
      if (keys.length === 0) return []
      const values = await client.mget(...keys)
      const live = values.filter((v) => v !== null)
      return deserialized ? live : live.map(parseOrRaw)
    },
  }
}

/** The same functions over lru-cache, keeping stored text like Redis does. */
function jsOverLru(lru) {
  return {
    get: async (key) => {
      const text = lru.get(key)
      return text === undefined ? null : parseOrRaw(text)
    },
    set: async (key, value, ttl) => {
      lru.set(key, encode(value), { ttl: ttl * 1000 })
      return true
    },
    rateCheck: async (id, limit, window) => {
      const key = `rate:${id}`
      const current = (lru.get(key) ?? 0) + 1
      if (current === 1) lru.set(key, current, { ttl: window * 1000 })
      else lru.set(key, current, { noUpdateTTL: true })
      return { allowed: current <= limit, remaining: Math.max(0, limit - current), reset: window }
    },
    otpVerify: async (id, code) => {
      const key = `otp:${id}`
      const stored = lru.get(key)
      if (stored !== undefined && String(stored) === code) {
        lru.delete(key)
        return true
      }
      return false
    },
    allActive: async () => {
      // Like KEYS then MGET: the matching keys first, then their values (reading while
      // iterating would reorder the LRU list under the iterator).
      const keys = []
      for (const key of lru.keys()) if (key.startsWith('stream:active:')) keys.push(key)
      const out = []
      for (const key of keys) {
        const text = lru.get(key)
        if (text !== undefined) out.push(parseOrRaw(text))
      }
      return out
    },
  }
}

/** The op for one workload (`w` from describeWorkload) given the original-style functions. */
function jsOp(name, fns, w) {
  const n = (w.keys || w.ids || []).length
  switch (name) {
    case 'cache.get':
    case 'cache.get.hot':
    case 'users.get':
    case 'sessions.get':
      return (i) => fns.get(w.keys[i % n])
    case 'cache.set':
      return (i) => fns.set(w.keys[i % n], w.value, w.ttl)
    case 'rateLimiter.check':
    case 'rateLimiter.fixed':
      return (i) => fns.rateCheck(w.ids[i % n], w.limit, w.window)
    case 'otp.verify':
      return (i) => fns.otpVerify(w.otpId(i), w.code)
    case 'streams.getAllActive':
      return () => fns.allActive()
    default:
      throw new Error(`unknown workload '${name}'`)
  }
}

function oursOp(name, mod, w) {
  const n = (w.keys || w.ids || []).length
  switch (name) {
    case 'cache.get':
    case 'cache.get.hot':
      return (i) => mod.cache.get(w.keys[i % n])
    case 'users.get':
      return (i) => mod.users.get(w.ids[i % n])
    case 'sessions.get':
      return (i) => mod.sessions.get(w.ids[i % n])
    case 'cache.set':
      return (i) => mod.cache.set(w.keys[i % n], w.value, w.ttl)
    case 'rateLimiter.check':
      return (i) => mod.rateLimiter.check(w.ids[i % n], w.limit, w.window)
    case 'rateLimiter.fixed': {
      const options = { algorithm: 'fixed-window' }
      return (i) => mod.rateLimiter.check(w.ids[i % n], w.limit, w.window, options)
    }
    case 'otp.verify':
      return (i) => mod.otp.verify(w.otpId(i), w.code)
    case 'streams.getAllActive':
      return () => mod.streams.getAllActive()
    default:
      throw new Error(`unknown workload '${name}'`)
  }
}

/**
 * Creates contender `name`. Returns { op(workloadName, w), seedLocal?(records, w), close() }.
 * Server contenders have no seedLocal: the child seeds the server over a raw connection.
 */
async function createContender(name, env) {
  switch (name) {
    case 'ours-redis':
    case 'ours-redis-near':
    case 'ours-rest':
    case 'ours-embedded': {
      const mod = require(PACKAGE_DIR)
      const expected = { 'ours-redis': 'redis', 'ours-redis-near': 'redis', 'ours-rest': 'upstash', 'ours-embedded': 'embedded' }[name]
      const health = await mod.health()
      if (health.backend !== expected || !health.ok) {
        throw new Error(`${name}: expected a healthy '${expected}' backend, got ${JSON.stringify(health)}`)
      }
      const contender = { mod, op: (workload, w) => oursOp(workload, mod, w), close: async () => {} }
      if (name === 'ours-redis-near') {
        const near = await enableNearCache(mod)
        // Reported with the cell: whether the near cache was on, and its hits and misses.
        contender.report = () => ({ near: { ...near, counters: nearCacheCounters(mod) } })
      }
      if (name === 'ours-embedded') {
        contender.seedLocal = async (records, workload, w) => {
          if (workload === 'streams.getAllActive') {
            await Promise.all(w.ids.map((id, i) => mod.streams.setActive(id, w.objects[i], 3600)))
            return
          }
          for (let i = 0; i < records.length; i += 10000) {
            const done = await Promise.all(records.slice(i, i + 10000).map(([key, text, ttl]) => mod.cache.set(key, text, ttl)))
            if (!done.every(Boolean)) throw new Error('seeding the embedded store failed')
          }
        }
      }
      return contender
    }
    case 'ioredis':
    case 'ioredis-auto': {
      const Redis = require('ioredis')
      const client = new Redis(env.redisUrl, { enableAutoPipelining: name === 'ioredis-auto' })
      await client.ping()
      const fns = jsOverServer(client, { deserialized: false })
      return { op: (workload, w) => jsOp(workload, fns, w), close: async () => client.disconnect() }
    }
    case 'upstash': {
      const { Redis } = require('@upstash/redis')
      const client = new Redis({ url: env.restUrl, token: env.restToken })
      await client.ping()
      const fns = jsOverServer(client, { deserialized: true })
      return { op: (workload, w) => jsOp(workload, fns, w), close: async () => {} }
    }
    case 'lru-cache': {
      const { LRUCache } = require('lru-cache')
      let lru = null
      let fns = null
      const contender = {
        // Sized for the workload: a typical cache bound, or room for every seeded code.
        sizeFor: (entries) => {
          lru = new LRUCache({ max: Math.max(10000, entries) })
          fns = jsOverLru(lru)
        },
        op: (workload, w) => jsOp(workload, fns, w),
        seedLocal: async (records, workload, w) => {
          const list = workload === 'streams.getAllActive' ? w.ids.map((id, i) => [`stream:active:${id}`, JSON.stringify(w.objects[i]), 3600]) : records
          for (const [key, text, ttl] of list) lru.set(key, text, { ttl: ttl * 1000 })
        },
        close: async () => {},
      }
      contender.sizeFor(10000)
      return contender
    }
    default:
      throw new Error(`unknown contender '${name}' (one of ${Object.keys(CONTENDERS).join(', ')})`)
  }
}

module.exports = { CONTENDERS, createContender }
