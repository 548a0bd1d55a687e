'use strict'

// A fault-injecting TCP proxy for tests. It sits between the package and a server (redis-server
// or a rest-server) and misbehaves on demand. The mode is proxy-wide and applies at once to the
// connections already open as well as to new ones:
//
//   pass   forward both ways
//   delay  forward both ways, each chunk `opts.ms` late (order kept)
//   stall  accept and read client data, forward nothing and answer nothing; what is read (and
//          anything queued or arriving from the server) is DROPPED, never replayed later
//   cut    close new connections as soon as they are accepted, and close the open ones (FIN)
//   reset  as cut, but with RST (`socket.resetAndDestroy()`)
//   half   forward client→server normally; of the first server→client chunk a connection gets
//          in this mode, forward only the first half, then stall that connection (as above)
//
// Usage:
//   const proxy = await startFaultProxy({ target: { host: '127.0.0.1', port } })
//   proxy.setMode('delay', { ms: 500 }); … proxy.setMode('pass'); await proxy.close()

const net = require('node:net')

const MODES = new Set(['pass', 'delay', 'stall', 'cut', 'reset', 'half'])

function startFaultProxy({ target, host = '127.0.0.1', port = 0 } = {}) {
  if (!target || !target.port) throw new TypeError('startFaultProxy({ target: { host, port } })')
  const targetHost = target.host || '127.0.0.1'
  let mode = 'pass'
  let modeOptions = {}
  const connections = new Set()
  const stats = { accepted: 0, bytesFromClients: 0, bytesToServers: 0, bytesFromServers: 0, bytesToClients: 0 }

  const server = net.createServer((client) => {
    stats.accepted++
    if (mode === 'cut') return void client.destroy()
    if (mode === 'reset') return void reset(client)
    const conn = open(client)
    connections.add(conn)
  })

  function reset(socket) {
    if (socket.destroyed) return
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy()
    else socket.destroy()
  }

  /** One proxied connection: a client socket, its upstream socket and two ordered queues. */
  function open(client) {
    const upstream = net.connect({ host: targetHost, port: target.port })
    const conn = {
      client,
      upstream,
      // Set by `half`: this connection has had its half chunk and now drops everything.
      halfStalled: false,
      up: lane(upstream, 'bytesToServers'), // client → server
      down: lane(client, 'bytesToClients'), // server → client
      closed: false,
    }
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const closeBoth = () => {
      if (conn.closed) return
      conn.closed = true
      conn.up.clear()
      conn.down.clear()
      client.destroy()
      upstream.destroy()
      connections.delete(conn)
    }
    conn.closeBoth = closeBoth
    // Errors (ECONNRESET, EPIPE, a refused upstream) just end the pair.
    client.on('error', closeBoth)
    upstream.on('error', closeBoth)
    client.on('close', closeBoth)
    upstream.on('close', closeBoth)

    client.on('data', (chunk) => {
      stats.bytesFromClients += chunk.length
      if (mode === 'stall' || conn.halfStalled) return // read and dropped
      conn.up.push(chunk, mode === 'delay' ? modeOptions.ms : 0)
    })
    upstream.on('data', (chunk) => {
      stats.bytesFromServers += chunk.length
      if (mode === 'stall' || conn.halfStalled) return
      if (mode === 'half') {
        conn.halfStalled = true
        const head = chunk.subarray(0, Math.floor(chunk.length / 2))
        if (head.length > 0) conn.down.push(head, 0)
        return
      }
      conn.down.push(chunk, mode === 'delay' ? modeOptions.ms : 0)
    })
    return conn
  }

  /** Writes chunks to `socket` in order, each no earlier than its due time. */
  function lane(socket, counter) {
    const queue = []
    let timer = null
    const pump = () => {
      timer = null
      const now = Date.now()
      while (queue.length > 0 && queue[0].due <= now) {
        const { chunk } = queue.shift()
        if (socket.destroyed) continue
        stats[counter] += chunk.length
        socket.write(chunk)
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0].due - now)
    }
    return {
      push(chunk, delayMs = 0) {
        queue.push({ chunk, due: Date.now() + (delayMs > 0 ? delayMs : 0) })
        if (timer === null) {
          if (queue.length === 1 && queue[0].due <= Date.now()) pump()
          else timer = setTimeout(pump, Math.max(0, queue[0].due - Date.now()))
        }
      },
      /** Drops whatever is queued (stall: nothing is replayed later). */
      clear() {
        queue.length = 0
        if (timer !== null) clearTimeout(timer)
        timer = null
      },
    }
  }

  function setMode(next, opts = {}) {
    if (!MODES.has(next)) throw new TypeError(`unknown fault-proxy mode ${JSON.stringify(next)}`)
    if (next === 'delay' && !(Number.isFinite(opts.ms) && opts.ms >= 0)) {
      throw new TypeError("setMode('delay', { ms }) needs ms >= 0")
    }
    mode = next
    modeOptions = { ...opts }
    for (const conn of [...connections]) {
      if (next === 'cut') {
        conn.closeBoth()
      } else if (next === 'reset') {
        conn.closed = true
        conn.up.clear()
        conn.down.clear()
        reset(conn.client)
        reset(conn.upstream)
        connections.delete(conn)
      } else if (next === 'stall') {
        conn.up.clear()
        conn.down.clear()
      } else {
        // pass / delay / half: a connection stalled by an earlier `half` forwards again (what
        // it dropped stays dropped). Chunks already queued keep their due times.
        conn.halfStalled = false
      }
    }
  }

  function close() {
    for (const conn of [...connections]) conn.closeBoth()
    return new Promise((resolve) => server.close(() => resolve()))
  }

  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve({
        port: server.address().port,
        host,
        setMode,
        get mode() {
          return mode
        },
        /** Open proxied connections right now. */
        get openConnections() {
          return connections.size
        },
        /** Counters since start: connections accepted, bytes in and out each way. */
        stats: () => ({ ...stats, open: connections.size }),
        close,
      })
    })
  })
}

module.exports = { startFaultProxy }
