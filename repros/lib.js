'use strict'
// Shared helpers for the near-cache repros: a reader (this package, near cache on) and a
// writer (ioredis, another connection), and a staleness probe.
const Redis = require('ioredis')
const PORT = Number(process.env.PORT || 6393)
process.env.REDIS_URL = process.env.REDIS_URL || `redis://127.0.0.1:${PORT}/0`
const r = require('..')
const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
const admin = () => new Redis({ port: PORT, host: '127.0.0.1', lazyConnect: false })
async function waitLive(ms = 5000) {
  const t0 = Date.now()
  while (r.analytics.stats().nearCache.tracking !== 'live') {
    if (Date.now() - t0 > ms) throw new Error('not live: ' + JSON.stringify(r.analytics.stats().nearCache))
    await sleep(5)
  }
  return Date.now() - t0
}
async function trackingIds(a) {
  const list = await a.client('LIST')
  return list.split('\n').filter((l) => / flags=[^ ]*t/.test(l)).map((l) => l.match(/id=(\d+)/)[1])
}
// Reads `key` through the near cache until `value` is seen; how long that took (ms).
async function timeToSee(key, value, limitMs = 5000) {
  const t0 = performance.now()
  for (;;) {
    const got = await r.cache.get(key)
    if (got === value) return performance.now() - t0
    if (performance.now() - t0 > limitMs) return Infinity
    await new Promise((res) => setImmediate(res))
  }
}
module.exports = { r, sleep, admin, waitLive, trackingIds, timeToSee, PORT }
