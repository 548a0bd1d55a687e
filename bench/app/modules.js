'use strict'

// The contenders of `npm run bench:app`: each builds, in the server process, the same two routes
//   /three    rateLimiter.check(id), then sessions.get(sid), then cache.get(key) of a ~400-byte
//             object: three dependent calls, as an Express handler of the original module makes
//   /express  express-rate-limit, then express-session (a signed cookie: store get, then touch)
// "ours-*" is this package on the backend its environment selects; the others do what the
// original module does with a JS client (contenders.js explains the mapping):
//   ioredis    ioredis with enableAutoPipelining; limiter INCR + EXPIRE on the first hit
//              (/three only: connect-redis 9 speaks node-redis's API, not ioredis's)
//   node-redis node-redis (redis@5); /express: connect-redis + rate-limit-redis (their home client)
//   upstash    the original module on @upstash/redis (no express stores exist for it: /three only)
//   ours-redis-near  this package on Redis with configure({ nearCache: true }), tracking live
//              before the app listens
//   ours-redis-near-scoped  the same, scoped to what /three reads: namespaces sessions and cache,
//              cachePrefixes the bench's cache keys, so the server announces only those prefixes
//              (not the limiter's writes)
//   ours-redis-thread  this package on Redis with DIGIS_REDIS_TRANSPORT=thread: the socket on the
//              addon's I/O thread instead of Node's own loop (ours-redis)
//   before-redis  this package on Redis from another build (BENCH_APP_BEFORE_DIR: a copy of the
//              package with its own addon), to compare a change with what it replaces in one run
//   before-embedded  the same build on the embedded store
//   map        a plain JS Map holding the same JSON text; /express: express-session's MemoryStore
//              and express-rate-limit's MemoryStore. No network: the Express ceiling.
//   none       stores nothing: each /three call answers a prebuilt object (no JSON, no counting);
//              /express as map. What the app costs with a store that does no work at all: the
//              floor no client, cache or store design can go below in this app.
const path = require('node:path')
const { PACKAGE_DIR, enableNearCache, nearCacheCounters } = require('../common')

const LIMIT = 1_000_000_000
/** What /express's session cookie is signed with (server.js signs, index.js sends it). */
const SESSION_SECRET = 'bench-app-secret'
const WINDOW_S = 60
const SESSION_TTL_S = 86400
const CACHE_TTL_S = 3600

/** A ~400-byte JSON object, the same for every contender. */
function cacheValue(i) {
  return {
    id: i,
    username: `creator_${i}`,
    displayName: `Creator Number ${i}`,
    bio: 'Streams music production, mixing and mastering sessions; answers questions live.',
    followers: 12345 + i,
    verified: i % 2 === 0,
    tags: ['music', 'production', 'live', 'mixing'],
    avatar: `https://cdn.example.com/avatars/${i}.png`,
    stats: { streams: 321, hours: 654.5, rating: 4.87 },
    updatedAt: '2026-12-01T10:00:00.000Z',
  }
}

function sessionValue(i) {
  return { userId: `u${i}`, role: 'creator', loggedInAt: 1764583200000, csrf: 'c2f1e8a9b7d6' }
}

const parseOrRaw = (text) => {
  if (text === null || text === undefined) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** The original module's three functions over an ioredis-style client. */
function jsModule(client) {
  return {
    rateCheck: async (id) => {
      const key = `rate:${id}`
      const current = await client.incr(key)
      if (Number(current) === 1) await client.expire(key, WINDOW_S)
      return { allowed: current <= LIMIT, remaining: Math.max(0, LIMIT - current), reset: WINDOW_S }
    },
    sessionGet: async (id) => parseOrRaw(await client.get(`session:${id}`)),
    cacheGet: async (key) => parseOrRaw(await client.get(key)),
    seed: async (sessions, caches) => {
      for (const [id, data] of sessions) await client.setex(`session:${id}`, SESSION_TTL_S, JSON.stringify(data))
      for (const [key, value] of caches) await client.setex(key, CACHE_TTL_S, JSON.stringify(value))
    },
  }
}

/** The keys of /three's `n` ids under `prefix`: a rate-limit id, a session id, a cache key. */
function threeIds(prefix, n = 1000) {
  return Array.from({ length: n }, (_, i) => ({ rate: `${prefix}:r${i}`, session: `${prefix}:s${i}`, cache: `${prefix}:c${i}` }))
}

/** Stores each id's session and cached object through a contender's `three`. */
function seedThree(three, ids) {
  return three.seed(
    ids.map((id, i) => [id.session, sessionValue(i)]),
    ids.map((id, i) => [id.cache, cacheValue(i)]),
  )
}

/** /three's calls for one id: the rate check, then (when allowed) the session and the object. */
async function runThree(three, id) {
  const limit = await three.rateCheck(id.rate)
  if (!limit.allowed) return { limit, user: null, value: null }
  const user = await three.sessionGet(id.session)
  const value = await three.cacheGet(id.cache)
  return { limit, user, value }
}

/** The near cache of an ours-redis-near* contender, live; null for the others. */
async function nearCacheFor(contender, pkg, prefix) {
  if (contender === 'ours-redis-near') return enableNearCache(pkg)
  if (contender === 'ours-redis-near-scoped') return enableNearCache(pkg, { namespaces: ['sessions', 'cache'], cachePrefixes: [`${prefix}:c`] })
  return null
}

/** { three: {rateCheck, sessionGet, cacheGet, seed}, sessionStore?, rateLimitStore?(prefix), close } */
async function build(contender, env) {
  const redisUrl = env.BENCH_REDIS_URL
  switch (contender) {
    case 'ours-embedded':
    case 'ours-redis':
    case 'ours-redis-near':
    case 'ours-redis-near-scoped':
    case 'ours-redis-thread':
    case 'ours-rest':
    case 'before-redis':
    case 'before-embedded': {
      const dir = contender.startsWith('before-') ? env.BENCH_APP_BEFORE_DIR : PACKAGE_DIR
      const pkg = require(path.join(dir, 'index.js'))
      const near = await nearCacheFor(contender, pkg, env.BENCH_PREFIX)
      return {
        nearStats: near && (() => ({ ...near, counters: nearCacheCounters(pkg) })),
        three: {
          rateCheck: (id) => pkg.rateLimiter.check(id, LIMIT, WINDOW_S),
          sessionGet: (id) => pkg.sessions.get(id),
          cacheGet: (key) => pkg.cache.get(key),
          seed: async (sessions, caches) => {
            for (const [id, data] of sessions) await pkg.sessions.store(id, data, SESSION_TTL_S)
            for (const [key, value] of caches) await pkg.cache.set(key, value, CACHE_TTL_S)
          },
        },
        sessionStore: (prefix) => new pkg.SessionStore({ prefix }),
        rateLimitStore: (prefix) => new pkg.RateLimitStore({ prefix }),
        close: async () => {},
      }
    }
    case 'ioredis': {
      const Redis = require('ioredis')
      const client = new Redis(redisUrl, { enableAutoPipelining: true, lazyConnect: false })
      return {
        three: jsModule(client),
        close: () => client.quit(),
      }
    }
    case 'node-redis': {
      const { createClient } = require('redis')
      const client = createClient({ url: redisUrl })
      client.on('error', () => {})
      await client.connect()
      const { RedisStore: SessionRedisStore } = require('connect-redis')
      const { RedisStore: RateRedisStore } = require('rate-limit-redis')
      const calls = {
        incr: (k) => client.incr(k),
        expire: (k, s) => client.expire(k, s),
        get: (k) => client.get(k),
        setex: (k, s, v) => client.setEx(k, s, v),
      }
      return {
        three: jsModule(calls),
        sessionStore: (prefix) => new SessionRedisStore({ client, prefix }),
        rateLimitStore: (prefix) => new RateRedisStore({ prefix, sendCommand: (...args) => client.sendCommand(args) }),
        close: () => client.quit(),
      }
    }
    case 'upstash': {
      const { Redis } = require('@upstash/redis')
      const client = new Redis({ url: env.BENCH_REST_URL, token: env.BENCH_REST_TOKEN })
      // @upstash/redis deserializes JSON itself (the original module relies on it).
      const m = jsModule(client)
      return {
        three: {
          ...m,
          sessionGet: async (id) => (await client.get(`session:${id}`)) ?? null,
          cacheGet: async (key) => (await client.get(key)) ?? null,
        },
        close: async () => {},
      }
    }
    case 'map': {
      const map = new Map()
      const session = require('express-session')
      const { MemoryStore } = require('express-rate-limit')
      const client = {
        incr: async (k) => {
          const n = (Number(map.get(k)) || 0) + 1
          map.set(k, String(n))
          return n
        },
        expire: async () => 1,
        get: async (k) => map.get(k) ?? null,
        setex: async (k, _s, v) => map.set(k, v),
      }
      return {
        three: jsModule(client),
        sessionStore: () => new session.MemoryStore(),
        rateLimitStore: () => new MemoryStore(),
        close: async () => {},
      }
    }
    case 'none': {
      const session = require('express-session')
      const { MemoryStore } = require('express-rate-limit')
      const objects = new Map()
      const allowed = { allowed: true, remaining: LIMIT - 1, reset: WINDOW_S }
      return {
        three: {
          rateCheck: async () => allowed,
          sessionGet: async (id) => objects.get(id) ?? null,
          cacheGet: async (key) => objects.get(key) ?? null,
          seed: async (sessions, caches) => {
            for (const [id, data] of [...sessions, ...caches]) objects.set(id, data)
          },
        },
        sessionStore: () => new session.MemoryStore(),
        rateLimitStore: () => new MemoryStore(),
        close: async () => {},
      }
    }
    default:
      throw new Error(`unknown contender ${contender}`)
  }
}

const CONTENDERS = ['ours-embedded', 'map', 'ours-redis', 'ours-redis-near', 'ours-redis-near-scoped', 'ioredis', 'node-redis', 'ours-rest', 'upstash']
const SERVER_CONTENDERS = new Set(['ours-redis', 'ours-redis-near', 'ours-redis-near-scoped', 'ours-redis-thread', 'before-redis', 'ioredis', 'node-redis'])
const REST_CONTENDERS = new Set(['ours-rest', 'upstash'])

module.exports = { build, threeIds, seedThree, runThree, cacheValue, sessionValue, LIMIT, SESSION_SECRET, WINDOW_S, CONTENDERS, SERVER_CONTENDERS, REST_CONTENDERS }
