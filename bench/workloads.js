'use strict'

// What each workload reads and writes: key names (the module's own key layout, under a unique
// run prefix so cleanup can find everything), the stored values and the check that an answer
// is the expected one (a miss or fallback is counted, so a broken cell cannot pass as fast).

const KEYS_PER_WORKLOAD = 1000
// cache.get.hot: the few keys that take most of the traffic (popular creators' profiles).
const HOT_KEYS = 16
const STREAMS = 100
const OTP_CODE = '123456'
const TTL = 3600

/** A ~400-byte JSON object, like a cached API response. */
function cacheObject(i) {
  const value = {
    id: i,
    type: 'creator-profile',
    username: `creator_${String(i).padStart(6, '0')}`,
    displayName: 'Ada Lovelace',
    avatarUrl: `https://cdn.example.com/avatars/${i}.jpg`,
    bio: 'Analytical engines, poetry and live mathematics sessions every weekday evening.',
    pricePerMinute: 2.5,
    isOnline: true,
    rating: 4.87,
    tags: ['math', 'history', 'live'],
    stats: { followers: 12890, streams: 342, minutes: 88210 },
    updatedAt: '2024-06-01T12:00:00.000Z',
  }
  return value
}

function userObject(i) {
  return {
    id: i,
    email: `user${i}@example.com`,
    username: `user_${i}`,
    role: 'fan',
    tokens: 1250,
    verified: true,
    preferences: { theme: 'dark', notifications: true, language: 'en' },
    createdAt: '2023-11-02T08:30:00.000Z',
  }
}

function sessionObject(i) {
  return { userId: i, role: 'fan', ip: '203.0.113.7', createdAt: '2024-06-01T12:00:00.000Z' }
}

function streamObject(id, i) {
  return { streamId: id, creatorId: 1000 + i, title: `Live session #${i}`, category: 'talk', startedAt: '2024-06-01T12:00:00.000Z' }
}

/**
 * Per-workload names and data, for run prefix `P`. `records` are [key, stored text, ttl]
 * triples a contender's seed step writes (the exact bytes the original module writes).
 */
function describeWorkload(name, P) {
  const range = (n, f) => Array.from({ length: n }, (_, i) => f(i))
  switch (name) {
    case 'cache.get': {
      const keys = range(KEYS_PER_WORKLOAD, (i) => `${P}:c:${i}`)
      return {
        keys,
        records: keys.map((k, i) => [k, JSON.stringify(cacheObject(i)), TTL]),
        ok: (v) => v !== null && typeof v === 'object',
      }
    }
    case 'cache.get.hot': {
      const keys = range(HOT_KEYS, (i) => `${P}:hot:${i}`)
      return {
        keys,
        records: keys.map((k, i) => [k, JSON.stringify(cacheObject(i)), TTL]),
        ok: (v) => v !== null && typeof v === 'object',
      }
    }
    case 'cache.set': {
      const keys = range(KEYS_PER_WORKLOAD, (i) => `${P}:set:${i}`)
      return { keys, value: cacheObject(7), ttl: 300, records: [], ok: (v) => v === true || v === 'OK' }
    }
    case 'users.get': {
      const ids = range(KEYS_PER_WORKLOAD, (i) => `${P}-u${i}`)
      return {
        ids,
        keys: ids.map((id) => `user:${id}`),
        records: ids.map((id, i) => [`user:${id}`, JSON.stringify(userObject(i)), TTL]),
        ok: (v) => v !== null && typeof v === 'object',
      }
    }
    case 'sessions.get': {
      const ids = range(KEYS_PER_WORKLOAD, (i) => `${P}-s${i}`)
      return {
        ids,
        keys: ids.map((id) => `session:${id}`),
        records: ids.map((id, i) => [`session:${id}`, JSON.stringify(sessionObject(i)), TTL]),
        ok: (v) => v !== null && typeof v === 'object',
      }
    }
    case 'rateLimiter.check':
    case 'rateLimiter.fixed': {
      // A limit no run reaches: every check is allowed, so nothing is answered from a
      // "known blocked" memo and both sides do their full work on every call.
      const ids = range(KEYS_PER_WORKLOAD, (i) => `${P}-r${i}`)
      return { ids, keys: ids.map((id) => `rate:${id}`), limit: 1e9, window: 60, records: [], ok: (v) => v !== null && v.allowed === true }
    }
    case 'otp.verify':
      // Ids are generated per run (a code verifies once); see run-one.js.
      return { code: OTP_CODE, ttl: 300, records: [], ok: (v) => v === true }
    case 'streams.getAllActive': {
      const ids = range(STREAMS, (i) => `${P}-st${i}`)
      return {
        ids,
        objects: ids.map((id, i) => streamObject(id, i)),
        records: ids.map((id, i) => [`stream:active:${id}`, JSON.stringify(streamObject(id, i)), TTL]),
        // Other users of the database may have live streams too; ours must all be there.
        ok: (v) => Array.isArray(v) && v.length >= STREAMS,
      }
    }
    default:
      throw new Error(`unknown workload '${name}'`)
  }
}

const WORKLOADS = ['cache.get', 'cache.set', 'users.get', 'sessions.get', 'rateLimiter.check', 'otp.verify', 'streams.getAllActive']
// Not run by default: ours with { algorithm: 'fixed-window' } (the original's algorithm, still
// one script) against the same INCR/EXPIRE JS side as rateLimiter.check.
// cache.get.hot: cache.get over HOT_KEYS keys (npm run bench:near, with the near cache on).
const EXTRA_WORKLOADS = ['rateLimiter.fixed', 'cache.get.hot']

module.exports = { WORKLOADS, EXTRA_WORKLOADS, KEYS_PER_WORKLOAD, HOT_KEYS, STREAMS, OTP_CODE, describeWorkload, cacheObject }
