'use strict'

/** Entries kept at most; past this, expired ones are dropped, then the oldest. */
const MAX_ENTRIES = 10000

/**
 * Identifiers known to be blocked until a time: answered locally, without a round trip, until
 * then. Keyed by every parameter of the check, since a block for one limit says nothing about
 * another.
 */
class BlockCache {
  constructor(now = Date.now) {
    this.now = now
    this.entries = new Map()
  }

  static key(identifier, algorithm, limit, window, cost) {
    return `${identifier}\u0000${algorithm}\u0000${limit}\u0000${window}\u0000${cost}`
  }

  /** `{ until, resetAt }` (ms) while still blocked, else undefined. */
  get(key) {
    const entry = this.entries.get(key)
    if (!entry) return undefined
    if (entry.until <= this.now()) {
      this.entries.delete(key)
      return undefined
    }
    return entry
  }

  set(key, until, resetAt) {
    if (this.entries.size >= MAX_ENTRIES) this.prune()
    this.entries.set(key, { until, resetAt })
  }

  /** Forgets every block of `identifier` (after `rateLimiter.reset`). */
  forget(identifier) {
    const prefix = `${identifier}\u0000`
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key)
  }

  prune() {
    const now = this.now()
    for (const [key, entry] of this.entries) if (entry.until <= now) this.entries.delete(key)
    for (const key of this.entries.keys()) {
      if (this.entries.size < MAX_ENTRIES) break
      this.entries.delete(key)
    }
  }
}

module.exports = { BlockCache, MAX_ENTRIES }
