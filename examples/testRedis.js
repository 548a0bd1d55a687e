'use strict'

// Status check, as the design document's `node testRedis.js`: walks every feature once against
// whatever backend the environment selects. Ids are unique per run and everything created is
// removed, so it is safe against a shared server. Exit code 0 when every check passes.

const crypto = require('node:crypto')
const { isDeepStrictEqual } = require('node:util')
const { cache, sessions, users, creators, rateLimiter, otp, testConnection, CACHE_PREFIXES } = require('..')

const RUN = `testRedis-${process.pid}-${crypto.randomBytes(4).toString('hex')}`
const id = (what) => `${RUN}-${what}`
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

let passed = 0
let failed = 0

/** One step: `run` returns [ok, detail]; a throw is a failure too (nothing should reject). */
async function step(name, run, cleanup) {
  let ok = false
  let detail
  try {
    ;[ok, detail] = await run()
  } catch (err) {
    detail = `threw ${err && err.message}`
  } finally {
    if (cleanup) await cleanup().catch(() => {})
  }
  if (ok) passed++
  else failed++
  console.log(`${ok ? '✅' : '❌'} ${name}: ${detail}`)
}

async function main() {
  await step('Connection', async () => {
    const ok = await testConnection()
    return [ok === true, `testConnection() = ${ok}`]
  })

  const key = id('cache')
  await step(
    'Cache set/get',
    async () => {
      const set = await cache.set(key, 'hello from testRedis')
      const got = await cache.get(key)
      return [set === true && got === 'hello from testRedis', `set=${set}, get=${JSON.stringify(got)}`]
    },
    () => cache.del(key),
  )

  await step(
    'Cache exists/del',
    async () => {
      await cache.set(key, 'x')
      const before = await cache.exists(key)
      const del = await cache.del(key)
      const after = await cache.exists(key)
      const got = await cache.get(key)
      return [before === true && del === true && after === false && got === null, `exists ${before} → del ${del} → exists ${after}, get ${got}`]
    },
    () => cache.del(key),
  )

  const jsonKey = id('json')
  await step(
    'JSON round trip',
    async () => {
      const value = { user: { id: 7, name: 'Ada', tags: ['a', 'b'], verified: true, balance: 12.5 }, meta: { nested: { deep: [1, { x: null }] } }, zero: 0, empty: '' }
      await cache.set(jsonKey, value)
      const got = await cache.get(jsonKey)
      return [isDeepStrictEqual(got, value), isDeepStrictEqual(got, value) ? 'nested object intact' : `got ${JSON.stringify(got)}`]
    },
    () => cache.del(jsonKey),
  )

  const sid = id('session')
  await step(
    'Sessions',
    async () => {
      const data = { userId: id('user'), role: 'fan' }
      const stored = await sessions.store(sid, data)
      const got = await sessions.get(sid)
      const refreshed = await sessions.refresh(sid, 120)
      const destroyed = await sessions.destroy(sid)
      const gone = await sessions.get(sid)
      const ok = stored && isDeepStrictEqual(got, data) && refreshed && destroyed && gone === null
      return [ok, `store ${stored}, get ${got ? 'matches' : got}, refresh ${refreshed}, destroy ${destroyed}, after ${gone}`]
    },
    () => sessions.destroy(sid),
  )

  const uid = id('user')
  await step(
    'Users',
    async () => {
      const profile = { id: uid, username: 'ada', followers: 3 }
      const cached = await users.cache(uid, profile)
      const got = await users.get(uid)
      const invalidated = await users.invalidate(uid)
      const gone = await users.get(uid)
      const ok = cached && isDeepStrictEqual(got, profile) && invalidated && gone === null
      return [ok, `cache ${cached}, get ${got ? 'matches' : got}, invalidate ${invalidated}, after ${gone}`]
    },
    () => users.invalidate(uid),
  )

  // creator:list is one shared key; the step leaves it invalidated, which is exactly what
  // creators.invalidate does in production (the next read repopulates it from the database).
  const cid = id('creator')
  await step(
    'Creators',
    async () => {
      const creator = { id: cid, name: 'Creator', live: false }
      const list = [{ id: cid, name: 'Creator' }]
      const cached = await creators.cache(cid, creator)
      const got = await creators.get(cid)
      const listed = await creators.cacheList(list)
      const gotList = await creators.getList()
      const invalidated = await creators.invalidate(cid)
      const goneOne = await creators.get(cid)
      const goneList = await creators.getList()
      const ok = cached && isDeepStrictEqual(got, creator) && listed && isDeepStrictEqual(gotList, list) && invalidated && goneOne === null && goneList === null
      return [ok, `cache/get ${isDeepStrictEqual(got, creator)}, cacheList/getList ${isDeepStrictEqual(gotList, list)}, invalidate clears both ${goneOne === null && goneList === null}`]
    },
    () => creators.invalidate(cid),
  )

  const rid = id('rate')
  await step(
    'Rate limiting',
    async () => {
      const limit = 3
      const seen = []
      let result
      for (let i = 0; i <= limit; i++) {
        result = await rateLimiter.check(rid, limit, 60)
        seen.push(result.allowed ? `ok(${result.remaining})` : `blocked(reset ${result.reset}s)`)
      }
      const blocked = !result.allowed && result.remaining === 0 && result.reset >= 1 && result.reset <= 60
      const reset = await rateLimiter.reset(rid)
      const after = await rateLimiter.check(rid, limit, 60)
      const ok = seen.slice(0, limit).join() === 'ok(2),ok(1),ok(0)' && blocked && reset && after.allowed && after.remaining === limit - 1
      return [ok, `${seen.join(' → ')}, reset ${reset} → ${after.allowed ? `ok(${after.remaining})` : 'still blocked'}`]
    },
    () => rateLimiter.reset(rid),
  )

  // A string code, as a form or JSON body delivers it: the original answered false here.
  const oid = id('otp')
  const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, '0')
  await step('OTP stored and verified', async () => {
    const stored = await otp.store(oid, code)
    const verified = await otp.verify(oid, code)
    return [stored === true && verified === true, `${verified}`]
  })
  await step(
    'OTP consumed after use',
    async () => {
      const again = await otp.verify(oid, code)
      const left = await otp.get(oid)
      return [again === false && left === null, `second verify ${again}, otp.get ${left}`]
    },
    () => cache.del(`${CACHE_PREFIXES.OTP}${oid}`),
  )

  const counter = id('counter')
  await step(
    'Counters',
    async () => {
      const first = await cache.incr(counter)
      const second = await cache.incr(counter)
      return [first === 1 && second === 2, `incr → ${first}, ${second}`]
    },
    () => cache.del(counter),
  )

  const temp = id('expiry')
  await step(
    'Expiry',
    async () => {
      await cache.set(temp, 'short-lived', 1)
      const before = await cache.exists(temp)
      await sleep(1500)
      const after = await cache.get(temp)
      return [before === true && after === null, `exists ${before}, after 1.5 s get ${after}`]
    },
    () => cache.del(temp),
  )

  const total = passed + failed
  console.log(failed === 0 ? `All ${total} checks passed` : `${failed} of ${total} checks failed`)
  // exitCode, not exit(): the process must end on its own, which also proves no handle leaks.
  process.exitCode = failed === 0 ? 0 : 1
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 1
})
