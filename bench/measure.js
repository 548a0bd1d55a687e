'use strict'

// c concurrent async loops over one op, a warm-up, then a measured window. Time is checked
// inline after every op (never by timers: an op that resolves in a microtask would starve
// them), so the window starts and ends at real op completions.

/** Log-linear latency histogram in nanoseconds: 128 buckets per power of two (< 0.8% error). */
class Histogram {
  constructor() {
    this.counts = new Float64Array(64 * 128)
    this.total = 0
    this.sum = 0
    this.max = 0
  }
  static index(v) {
    if (v < 128) return v
    let shift = Math.floor(Math.log2(v)) - 7
    let mant = Math.floor(v / 2 ** shift)
    if (mant >= 256) {
      shift++
      mant = Math.floor(v / 2 ** shift)
    } else if (mant < 128) {
      shift--
      mant = Math.floor(v / 2 ** shift)
    }
    return (shift + 1) * 128 + (mant - 128)
  }
  static bounds(idx) {
    if (idx < 128) return [idx, idx + 1]
    const shift = Math.floor(idx / 128) - 1
    const low = ((idx % 128) + 128) * 2 ** shift
    return [low, low + 2 ** shift]
  }
  record(ms) {
    const ns = Math.max(0, Math.round(ms * 1e6))
    this.counts[Histogram.index(ns)]++
    this.total++
    this.sum += ns
    if (ns > this.max) this.max = ns
  }
  /** The q-quantile in milliseconds (bucket midpoint), or null when empty. */
  quantile(q) {
    if (this.total === 0) return null
    const rank = Math.max(1, Math.ceil(q * this.total))
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]
      if (seen >= rank) {
        const [low, high] = Histogram.bounds(i)
        return (low + high) / 2 / 1e6
      }
    }
    return this.max / 1e6
  }
}

/**
 * Runs `concurrency` loops calling `op(i)` (i: a shared counter) for `warmupMs`, then measures
 * for `durationMs`: ops completed in the window, their latencies, the process's CPU time in
 * it. `ok(answer)` false counts a miss. `stopWhen(i)` true makes a loop stop early (used to
 * not run past a finite pool). Resolves when the window has ended; `drained` resolves when
 * every loop has returned (ops in flight at the end are not waited for by the caller unless
 * it chooses to).
 */
function measure({ op, ok, concurrency, warmupMs, durationMs, startAt = 0, stopWhen = null, maxWaitMs = 10000 }) {
  const hist = new Histogram()
  const st = { next: startAt, count: 0, misses: 0, errors: 0, firstError: null, started: false, ended: false, tStart: 0, tEnd: 0, cpu0: null, cpu: null }
  const t0 = performance.now()
  const windowStart = t0 + warmupMs
  // Set when the window opens: a server-bound queue may complete its first op long after
  // the warm-up, and the window then still lasts durationMs.
  let windowEnd = Infinity
  let resolveEnded
  const ended = new Promise((resolve) => (resolveEnded = resolve))

  const end = (now) => {
    if (st.ended) return
    st.ended = true
    st.tEnd = now
    st.cpu = st.cpu0 ? process.cpuUsage(st.cpu0) : { user: 0, system: 0 }
    resolveEnded()
  }

  async function loop() {
    while (!st.ended) {
      const i = st.next++
      if (stopWhen && stopWhen(i)) return
      const a = performance.now()
      let answer
      try {
        answer = await op(i)
      } catch (err) {
        // A client that rejects (the JS clients do on server or transport errors) scores a
        // miss, like a fallback answer does.
        st.errors++
        if (!st.firstError) st.firstError = String((err && err.message) || err).slice(0, 300)
        answer = undefined
      }
      const b = performance.now()
      if (b < windowStart) continue
      if (!st.started) {
        // The first completion past the warm-up opens the window (it is not counted: it
        // started before the window did).
        st.started = true
        st.tStart = b
        windowEnd = b + durationMs
        st.cpu0 = process.cpuUsage()
        continue
      }
      if (st.ended) return
      if (b >= windowEnd) {
        end(b)
        return
      }
      st.count++
      hist.record(b - a)
      if (!ok(answer)) st.misses++
    }
  }

  const loops = Array.from({ length: concurrency }, loop)
  const drained = Promise.all(loops).then(() => end(performance.now()))
  // Nothing completed within maxWaitMs after the warm-up (a deep server-side queue, e.g.
  // KEYS over a large keyspace at high concurrency): end by the clock with no samples.
  let gaveUp = false
  const guard = setTimeout(() => {
    if (!st.started) {
      gaveUp = true
      end(performance.now())
    }
  }, warmupMs + maxWaitMs)
  const hardStop = setTimeout(() => end(performance.now()), warmupMs + maxWaitMs + durationMs + 30000)
  return ended.then(() => {
    clearTimeout(guard)
    clearTimeout(hardStop)
    const elapsedMs = st.started ? st.tEnd - st.tStart : 0
    const cpuSec = (st.cpu.user + st.cpu.system) / 1e6
    return {
      result: {
        ops: st.count,
        misses: st.misses,
        // Rejections over the whole run (warm-up included) and the first one's message.
        errors: st.errors,
        firstError: st.firstError,
        elapsedMs: round(elapsedMs, 1),
        opsPerSec: elapsedMs > 0 ? round((st.count / elapsedMs) * 1000, 1) : 0,
        p50Ms: round(hist.quantile(0.5), 4),
        p99Ms: round(hist.quantile(0.99), 4),
        meanMs: hist.total ? round(hist.sum / hist.total / 1e6, 4) : null,
        maxMs: round(hist.max / 1e6, 3),
        cpuSec: round(cpuSec, 4),
        cpuSecPer100k: st.count ? round((cpuSec / st.count) * 1e5, 4) : null,
        // CPU seconds per wall second: near the core count means the client is CPU-bound.
        cpuUtil: elapsedMs > 0 ? round(cpuSec / (elapsedMs / 1000), 3) : null,
        // Fewer completions in the window than concurrent callers: a server-bound queue
        // (few samples).
        saturated: st.count < concurrency,
        // No operation completed within this long after the warm-up (latency above it).
        noCompletionWithinMs: gaveUp ? maxWaitMs : null,
      },
      drained,
      next: () => st.next,
    }
  })
}

function round(x, digits) {
  if (x === null || x === undefined || !Number.isFinite(x)) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}

module.exports = { measure, Histogram }
