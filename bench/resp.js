'use strict'

// A small Redis client over a raw socket, used only by the harness itself: seeding data fast
// (pipelined, many commands per write), cleaning up with SCAN/UNLINK, and the "is the server
// idle again" barrier between runs. It never measures anything, so it can stay simple.
const net = require('node:net')

function encode(args) {
  const parts = [`*${args.length}\r\n`]
  for (const arg of args) {
    const text = String(arg)
    parts.push(`$${Buffer.byteLength(text)}\r\n${text}\r\n`)
  }
  return parts.join('')
}

class ReplyError extends Error {}

/** Incremental RESP2 parser: feed Buffers, get complete replies (errors as ReplyError values). */
class Parser {
  constructor() {
    this.buf = Buffer.alloc(0)
    this.pos = 0
  }
  feed(chunk) {
    this.buf = this.pos < this.buf.length ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk
    this.pos = 0
  }
  /** One complete reply, or `undefined` when more bytes are needed. */
  next() {
    const start = this.pos
    const value = this.parse()
    if (value === undefined) this.pos = start
    return value
  }
  line() {
    const end = this.buf.indexOf('\r\n', this.pos, 'latin1')
    if (end < 0) return undefined
    const text = this.buf.toString('utf8', this.pos, end)
    this.pos = end + 2
    return text
  }
  parse() {
    const line = this.line()
    if (line === undefined) return undefined
    const rest = line.slice(1)
    switch (line[0]) {
      case '+':
        return rest
      case '-':
        return new ReplyError(rest)
      case ':':
        return Number(rest)
      case '$': {
        const len = Number(rest)
        if (len < 0) return null
        if (this.buf.length < this.pos + len + 2) return undefined
        const text = this.buf.toString('utf8', this.pos, this.pos + len)
        this.pos += len + 2
        return text
      }
      case '*': {
        const n = Number(rest)
        if (n < 0) return null
        const items = []
        for (let i = 0; i < n; i++) {
          const item = this.parse()
          if (item === undefined) return undefined
          items.push(item)
        }
        return items
      }
      default:
        throw new Error(`unexpected RESP type byte ${JSON.stringify(line[0])}`)
    }
  }
}

/** One connection; `command(args)` and `pipeline(list)` resolve with replies in order. */
class RespClient {
  static connect(url) {
    const { hostname, port, pathname, password, username } = new URL(url)
    const client = new RespClient(hostname || '127.0.0.1', Number(port) || 6379)
    return client.ready.then(async () => {
      if (password) await client.command(username ? ['AUTH', decodeURIComponent(username), decodeURIComponent(password)] : ['AUTH', decodeURIComponent(password)])
      const db = pathname.replace(/^\//, '')
      if (db) await client.command(['SELECT', db])
      return client
    })
  }
  constructor(host, port) {
    this.parser = new Parser()
    this.waiting = [] // resolve/reject pairs, in order
    this.socket = net.connect({ host, port })
    this.socket.setNoDelay(true)
    this.ready = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve)
      this.socket.once('error', reject)
    })
    this.socket.on('data', (chunk) => {
      this.parser.feed(chunk)
      for (;;) {
        const reply = this.parser.next()
        if (reply === undefined) break
        const waiter = this.waiting.shift()
        if (waiter) waiter(reply)
      }
    })
    this.socket.on('error', (err) => this.failAll(err))
    this.socket.on('close', () => this.failAll(new Error('connection closed')))
  }
  failAll(err) {
    const waiting = this.waiting
    this.waiting = []
    for (const waiter of waiting) waiter(err instanceof ReplyError ? err : Object.assign(err, { transport: true }))
  }
  /** Sends every command in one write; resolves with all replies (ReplyError items kept). */
  pipeline(commands) {
    if (commands.length === 0) return Promise.resolve([])
    const replies = new Array(commands.length)
    let left = commands.length
    return new Promise((resolve, reject) => {
      commands.forEach((_, i) => {
        this.waiting.push((reply) => {
          if (reply instanceof Error && reply.transport) return reject(reply)
          replies[i] = reply
          if (--left === 0) resolve(replies)
        })
      })
      this.socket.write(commands.map(encode).join(''))
    })
  }
  async command(args) {
    const [reply] = await this.pipeline([args])
    if (reply instanceof ReplyError) throw reply
    return reply
  }
  close() {
    this.socket.end()
    this.socket.destroy()
  }
}

/**
 * Runs `commands` in pipelined batches of `batch` commands, at most `inFlight` batches at once;
 * throws on the first error reply.
 */
async function pipelined(client, commands, { batch = 200, inFlight = 8 } = {}) {
  let next = 0
  async function worker() {
    while (next < commands.length) {
      const slice = commands.slice(next, next + batch)
      next += batch
      const replies = await client.pipeline(slice)
      const failed = replies.find((r) => r instanceof ReplyError)
      if (failed) throw new Error(`${slice[0][0]} failed: ${failed.message}`)
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
}

/** SETEX every [key, value, ttlSeconds] record (ttl 0 or missing: plain SET). */
function seed(client, records) {
  return pipelined(
    client,
    records.map(([key, value, ttl]) => (ttl ? ['SETEX', key, ttl, value] : ['SET', key, value])),
  )
}

/** UNLINKs every key matching `pattern` (SCAN walk); the number deleted. */
async function unlinkMatching(client, pattern, count = 5000) {
  let cursor = '0'
  let deleted = 0
  do {
    const [nextCursor, keys] = await client.command(['SCAN', cursor, 'MATCH', pattern, 'COUNT', count])
    cursor = nextCursor
    for (let i = 0; i < keys.length; i += 1000) {
      deleted += await client.command(['UNLINK', ...keys.slice(i, i + 1000)])
    }
  } while (cursor !== '0')
  return deleted
}

/**
 * Waits until the server answers PING quickly `times` times in a row, i.e. it has finished any
 * queued work a previous run left behind (e.g. KEYS calls still pipelined from a killed client).
 */
async function waitIdle(client, { thresholdMs = 3, times = 3, timeoutMs = 120000 } = {}) {
  const started = Date.now()
  let good = 0
  while (good < times) {
    const t0 = performance.now()
    await client.command(['PING'])
    const ms = performance.now() - t0
    good = ms < thresholdMs ? good + 1 : 0
    if (Date.now() - started > timeoutMs) throw new Error(`server still busy after ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return Date.now() - started
}

module.exports = { RespClient, ReplyError, pipelined, seed, unlinkMatching, waitIdle }
