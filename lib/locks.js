'use strict'

const crypto = require('node:crypto')
const { performance } = require('node:perf_hooks')
const { guarded, logFailure } = require('./public-call')
const { writeLog } = require('./log')
const binding = require('../binding')
const { toKey, describe, readOptionValues } = require('./codec')
const { invalidArgument, DigisRedisError } = require('./errors')
const { settings } = require('./settings')

// withLock's own handles on a Lock: they never reject (even in strict mode), and being symbols
// they stay off the public surface.
const kExtendRaw = Symbol('extendRaw')
const kReleaseQuietly = Symbol('releaseQuietly')

/** A random owner token: only its holder can release or extend what it took. */
const newOwner = () => crypto.randomBytes(16).toString('base64url')

/** `{ ttl, wait, retryDelay }` in ms, defaults filled in, checked by the core (features/locks.rs). */
function readOptions(options) {
  const { ttl, wait, retryDelay } = readOptionValues(options, ['ttl', 'wait', 'retryDelay'])
  return binding.lockTimes(ttl, wait, retryDelay)
}

/** A held lock. The owner token stays private: only this object can release or extend it. */
class Lock {
  #native
  #owner

  constructor(native, name, owner, fencingToken, ttl) {
    this.#native = native
    this.#owner = owner
    /** The lock's name, as given to acquire(). */
    this.name = name
    /** Strictly above every earlier holder's token for this name, in any process. */
    this.fencingToken = fencingToken
    /** The lifetime it was acquired with (ms); the default of extend(). */
    this.ttl = ttl
  }

  /** True when released; false when it had already expired or passed to another owner. */
  release() {
    return guarded('lock.release', false, () => this.#native.lockRelease(this.name, this.#owner))
  }

  /** `ms` more from now (default: the acquire ttl); false when the lock is no longer ours. */
  extend(ms = this.ttl) {
    return guarded('lock.extend', false, async () =>
      this.#native.lockExtend(this.name, this.#owner, binding.lockExtension(ms)),
    )
  }

  [kExtendRaw](ms) {
    return this.#native.lockExtend(this.name, this.#owner, ms)
  }

  async [kReleaseQuietly]() {
    try {
      await this.#native.lockRelease(this.name, this.#owner)
    } catch (err) {
      // It expires on its own after its ttl.
      logFailure('locks.withLock release', err)
    }
  }

  toJSON() {
    return { name: this.name, fencingToken: this.fencingToken, ttl: this.ttl }
  }
}

/**
 * Keeps `lock` alive while its holder runs: extends it every ttl/3 and reports a loss (once)
 * when an extension finds it gone or taken, or when it expires before any extension succeeded
 * (the backend unreachable). Never re-acquires: a lost lock may already be someone else's.
 */
function keepAlive(lock, acquiredAt, onLost) {
  const { ttl } = lock
  const every = Math.max(1, Math.floor(ttl / 3))
  let stopped = false
  let tickTimer
  let expiryTimer
  const stop = () => {
    stopped = true
    clearTimeout(tickTimer)
    clearTimeout(expiryTimer)
  }
  const lose = (why) => {
    if (stopped) return
    stop()
    onLost(why)
  }
  // Timers never keep the process alive on their own.
  const armExpiry = (validUntil) => {
    clearTimeout(expiryTimer)
    expiryTimer = setTimeout(() => lose('it expired before an extension succeeded'), Math.max(0, validUntil - performance.now())).unref()
  }
  const schedule = (ms) => (tickTimer = setTimeout(tick, ms).unref())
  async function tick() {
    const sentAt = performance.now()
    let extended
    try {
      extended = await lock[kExtendRaw](ttl)
    } catch (err) {
      if (stopped) return
      logFailure('locks.withLock extend', err)
      // Try again sooner; the expiry timer decides when the lock is lost.
      return schedule(Math.max(1, Math.floor(every / 2)))
    }
    if (stopped) return
    if (!extended) return lose('it expired or another owner took it')
    // The server set the new expiry after we sent the request: counting from then is safe.
    armExpiry(sentAt + ttl)
    schedule(every)
  }
  armExpiry(acquiredAt + ttl)
  schedule(every)
  return { stop }
}

const NOT_ACQUIRED = Object.freeze({ acquired: false, value: undefined, lost: false, fencingToken: null })

function createLocks(native) {
  /**
   * Resolves `{ lock, acquiredAt }` or null; throws on backend failure (guarded by callers). The
   * binding retries (jittered) within `wait`; `acquiredAt` is when the taking attempt was sent.
   */
  async function take(name, options) {
    const id = toKey(name, 'name')
    const { ttl, wait, retryDelay } = readOptions(options)
    const owner = newOwner()
    const started = performance.now()
    let taken
    try {
      taken = await native.lockAcquire(id, owner, ttl, wait, retryDelay)
    } catch (err) {
      // The lock may have been taken before the failure (a lost reply, or a failing fence):
      // free it now rather than leave it blocking others for its whole ttl.
      Promise.resolve()
        .then(() => native.lockRelease(id, owner))
        .catch(() => {})
      throw err
    }
    return taken && { lock: new Lock(native, id, owner, taken.fencingToken, ttl), acquiredAt: started + taken.sentAfterMs }
  }

  function acquire(name, options = undefined) {
    return guarded('locks.acquire', null, async () => {
      const taken = await take(name, options)
      return taken && taken.lock
    })
  }

  /**
   * Runs `fn(signal)` holding the lock, extending it while `fn` runs and releasing it after.
   * Resolves `{ acquired, value, lost, fencingToken }`; `fn`'s own rejection propagates.
   */
  async function withLock(name, options, fn) {
    if (typeof options === 'function' && fn === undefined) {
      fn = options
      options = undefined
    }
    const taken = await guarded('locks.withLock', null, async () => {
      if (typeof fn !== 'function') throw invalidArgument(`fn must be a function, got ${describe(fn)}`)
      return take(name, options)
    })
    if (!taken) return NOT_ACQUIRED
    const { lock, acquiredAt } = taken
    const controller = new AbortController()
    let lost = false
    const keeper = keepAlive(lock, acquiredAt, (why) => {
      lost = true
      writeLog('error', `[digis-redis] locks.withLock lost its lock (ERR_LOCK_LOST): ${why}`)
      controller.abort(new DigisRedisError('ERR_LOCK_LOST', `the lock was lost while its holder ran: ${why}`))
    })
    try {
      const value = await fn(controller.signal)
      return { acquired: true, value, lost, fencingToken: lock.fencingToken }
    } finally {
      keeper.stop()
      // Owner-checked, so harmless even when lost: it never frees another owner's lock.
      await lock[kReleaseQuietly]()
      settings.afterCall()
    }
  }

  return { acquire, withLock }
}

module.exports = { createLocks, newOwner }
