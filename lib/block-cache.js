'use strict'

/** Entries kept at most; past this, expired ones are dropped, then the oldest. */
const MAX_ENTRIES = 10000

/**
 * How long a block is answered from memory before the server is asked again: a
 * `rateLimiter.reset` in another process (which cannot reach this memory) lifts the block here
 * within this bound, while a blocked client hammering the limiter still costs at most one round
 * trip per second and per process.
 */
const MAX_LOCAL_BLOCK_MS = 1000

/**
 * Identifiers known to be blocked until a time: answered locally, without a round trip, until
 * then (at most MAX_LOCAL_BLOCK_MS at a time). Keyed by every parameter of the check, since a
 * block for one limit says nothing about another.
 */
class BlockCache {
  constructor(now = Date.now) {
    this.now = now
    this.entries = new Map()
  }

  static key(identifier, algorithm, limit, window, cost) {
    return `${identifier}\u0000${algorithm}\u0000${limit}\u0000${window}\u0000${cost}`
  }

  /** `{ until, resetAt }` (ms) while it may be answered from memory, else undefined. */
  get(key) {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.localUntil <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  set(key, until, resetAt) {
    if (this.entries.size >= MAX_ENTRIES) this.prune()
    this.entries.set(key, { until, resetAt, localUntil: Math.min(until, this.now() + MAX_LOCAL_BLOCK_MS) })
  }

  /** Forgets every block of `identifier` (after `rateLimiter.reset`). */
  forget(identifier) {
    const prefix = `${identifier}\u0000`
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key)
  }

  prune() {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.localUntil <= now) this.entries.delete(key)
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break
      this.entries.delete(key)
    }
  }
}

module.exports = { BlockCache, MAX_ENTRIES, MAX_LOCAL_BLOCK_MS }
