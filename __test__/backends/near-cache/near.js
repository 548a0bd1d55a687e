'use strict'

// Shared by the near-cache correctness tests (issue 18, item 4): a process A with its own module
// instance pointed at a chosen server, the 20 keys read through every near-cached namespace, the
// server's own command counters, and a cheap visibility poll.

const { spawn } = require('node:child_process')
const { send } = require('../../resp')
const { sleep, ROOT } = require('../../helpers')
const { redisServerAvailable } = require('../../faults/redis-server')

const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_CLUSTER_URLS', 'REDIS_URL']

/**
 * A fresh instance of the package whose backend comes only from `env` (read at require time),
 * so a test can point process A at a private server while the file's other instances keep theirs.
 */
function loadModule(env) {
  const saved = Object.fromEntries(BACKEND_VARIABLES.map((name) => [name, process.env[name]]))
  for (const name of BACKEND_VARIABLES) delete process.env[name]
  Object.assign(process.env, env)
  let mod
  try {
    jest.isolateModules(() => {
      mod = require('../../..')
    })
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
  return mod
}

/**
 * On the redis run these tests start their own redis-server (they restart, flush and reconfigure
 * it, and read its counters): true when that is possible, else false with a loud warning.
 */
function privateRedisPossible(selection) {
  if (selection.kind !== 'redis') return false
  if (redisServerAvailable()) return true
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPED near-cache tests: redis-server is not installed (or set REDIS_SERVER_BIN)\n${'!'.repeat(78)}\n`)
  return false
}

const near = (mod) => mod.analytics.stats().nearCache

/** Resolves once A serves from memory (tracking live); throws with the last state otherwise. */
async function waitLive(mod, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = near(mod)
    if (state && state.tracking === 'live') return
    if (Date.now() > deadline) throw new Error(`near cache not live after ${timeoutMs} ms: ${JSON.stringify(state)}`)
    await sleep(20)
  }
}

/**
 * The 20 keys of a test, 4 per near-cached namespace: the key on the server, how A reads it, and
 * the stored text / the value A must read for version `n`.
 */
function twentyKeys(prefix) {
  const kinds = [
    { ns: 'cache', key: (id) => id, read: (m, id) => m.cache.get(id) },
    { ns: 'users', key: (id) => `user:${id}`, read: (m, id) => m.users.get(id) },
    { ns: 'creators', key: (id) => `creator:${id}`, read: (m, id) => m.creators.get(id) },
    { ns: 'sessions', key: (id) => `session:${id}`, read: (m, id) => m.sessions.get(id) },
    { ns: 'tokens', key: (id) => `token:${id}`, read: (m, id) => m.tokens.getBalance(id), balance: true },
  ]
  const out = []
  for (let i = 0; i < 20; i++) {
    const kind = kinds[i % kinds.length]
    const id = `${prefix}:${kind.ns}:${i}`
    out.push({
      i,
      ns: kind.ns,
      id,
      key: kind.key(id),
      read: (m) => kind.read(m, id),
      // Token balances are decimal text; everything else a JSON object naming key and version.
      value: (n) => (kind.balance ? 1000 * n + i : { i, n, ns: kind.ns }),
      text: (n) => (kind.balance ? String(1000 * n + i) : JSON.stringify({ i, n, ns: kind.ns })),
    })
  }
  return out
}

/**
 * Resolves once A reads version `n` of every entry. After another client's write A may still
 * serve the old value until the invalidation arrives (another connection), so this polls.
 */
async function expectSeen(mod, entries, n, timeoutMs = 5000) {
  const { seenAt } = await pollUntilSeen(mod, entries, (e) => e.value(n), { timeoutMs })
  const missing = entries.filter((e, k) => seenAt[k] === undefined).map((e) => e.key)
  expect(missing).toEqual([])
}

/** Reads every entry through A; resolves with the values in order. */
const readAll = (mod, entries) => Promise.all(entries.map((e) => e.read(mod)))

// Commands that read a value: a near hit must send none of them. (creators.get also counts the
// read toward popularity, in a batched MULTI/ZINCRBY/EXEC: not a read, not counted here.)
const READ_COMMANDS = ['get', 'mget', 'getex', 'pttl', 'pexpiretime', 'exists', 'eval', 'evalsha', 'eval_ro', 'evalsha_ro', 'fcall', 'fcall_ro']

/** Calls of READ_COMMANDS summed over the servers at `urls` (INFO commandstats, a raw socket). */
async function readCalls(urls) {
  let total = 0
  for (const url of urls) {
    const info = await send(url, [['INFO', 'commandstats']])
    for (const name of READ_COMMANDS) {
      const match = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)
      if (match) total += Number(match[1])
    }
  }
  return total
}

/**
 * Polls A for every entry until it reads `expected(entry)`, one pass over all keys every
 * `everyMs`. Starts at once (so run it alongside the writes); resolves with `seenAt` per entry
 * (ms since the epoch, the end of the first read that returned the new value; undefined if never
 * within `timeoutMs`) and the number of passes. It stops once every key is seen and
 * `stopWhen()` says so.
 */
async function pollUntilSeen(mod, entries, expected, { everyMs = 2, timeoutMs = 5000, stopWhen = () => true } = {}) {
  const seenAt = new Array(entries.length)
  const wanted = entries.map((e) => JSON.stringify(expected(e)))
  const deadline = Date.now() + timeoutMs
  let passes = 0
  while (Date.now() < deadline) {
    const pending = entries.map((e, k) => k).filter((k) => seenAt[k] === undefined)
    if (pending.length === 0 && stopWhen()) break
    const values = await Promise.all(pending.map((k) => entries[k].read(mod)))
    const now = Date.now()
    pending.forEach((k, j) => {
      if (JSON.stringify(values[j]) === wanted[k]) seenAt[k] = now
    })
    passes++
    await sleep(everyMs)
  }
  return { seenAt, passes }
}

/**
 * Starts `node -e script` with only `env` as its backend; the script prints lines. Resolves with
 * `{ child, lines(), waitFor(prefix), send(line), done }` once started.
 */
function startChild(script, env) {
  const childEnv = { ...process.env }
  for (const name of BACKEND_VARIABLES) delete childEnv[name]
  Object.assign(childEnv, env)
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, env: childEnv, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  const waiters = []
  child.stdout.on('data', (d) => {
    out += d
    for (const w of [...waiters]) w()
  })
  child.stderr.on('data', (d) => (err += d))
  const done = new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout: out, stderr: err })))
  const lines = () => out.split('\n').filter(Boolean)
  return {
    child,
    lines,
    done,
    get stderr() {
      return err
    },
    /** The first line starting with `prefix` (the rest parsed as JSON when it is), within timeoutMs. */
    waitFor(prefix, timeoutMs = 20000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = lines().find((l) => l.startsWith(prefix))
          if (line === undefined) return false
          const rest = line.slice(prefix.length).trim()
          resolve(rest ? JSON.parse(rest) : null)
          return true
        }
        if (check()) return
        const timer = setTimeout(() => reject(new Error(`child printed no ${prefix} within ${timeoutMs} ms; stdout: ${out} stderr: ${err}`)), timeoutMs)
        const waiter = () => {
          if (check()) {
            clearTimeout(timer)
            waiters.splice(waiters.indexOf(waiter), 1)
          }
        }
        waiters.push(waiter)
        done.then(() => {
          if (!check()) {
            clearTimeout(timer)
            reject(new Error(`child exited before ${prefix}; stdout: ${out} stderr: ${err}`))
          }
        })
      })
    },
    send: (line) => child.stdin.write(`${line}\n`),
    kill: () => child.kill('SIGKILL'),
  }
}

/** A new value must reach A within this long of the write (issue 18). */
const VISIBLE_MS = 100

/**
 * Writes version `n` of `entries` with `write`, waits until A reads it, then has A read it
 * twice more, the second time all from memory.
 */
async function warmFrom(A, write, entries, n) {
  await write(entries, n)
  await expectSeen(A, entries, n)
  // The write's invalidation may land after A read the new value, dropping that entry: let it
  // pass, fill again, and only then count hits.
  await new Promise((resolve) => setTimeout(resolve, VISIBLE_MS))
  expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(n)))
  const hits = near(A).hits
  expect(await readAll(A, entries)).toEqual(entries.map((e) => e.value(n)))
  expect(near(A).hits - hits).toBe(entries.length)
}

/**
 * Reads with `read` until A answers it from memory, and resolves with that answer: the
 * announcement of a write made just before can land after A's first read and drop what it
 * stored. At most 20 reads.
 */
async function untilNearHit(A, read) {
  for (let attempt = 0; attempt < 20; attempt++) {
    const hits = near(A).hits
    const value = await read()
    if (near(A).hits === hits + 1) return value
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error('never answered from memory')
}

/** Turns A's near cache off in an afterAll, if A was made at all. */
function turnOff(A) {
  try {
    A?.configure({ nearCache: false })
  } catch {
    // not built yet: the tests have failed already
  }
}

module.exports = { VISIBLE_MS, privateRedisPossible, loadModule, near, waitLive, twentyKeys, expectSeen, readAll, readCalls, pollUntilSeen, startChild, warmFrom, untilNearHit, turnOff }
