'use strict'

// `digis-redis rest-server` under hostile clients: authentication is decided from the headers
// alone (a stranger's body is never read), connections and buffered bytes are capped, so
// memory stays bounded whatever unauthenticated clients send, and server administration needs
// --allow-admin. None of this needs Redis: the
// server points at a closed port.

const fs = require('node:fs')
const net = require('node:net')
const { startCli, stopCli } = require('./support')

const TOKEN = 'limits-test-token-0123'
const DEAD_REDIS = 'redis://127.0.0.1:1'
const linux = fs.existsSync('/proc/self/status')

/** Resident memory of `pid` in MiB (Linux). */
function rssMiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)[1]) / 1024
}

/** Opens a raw connection to `url` and resolves once connected. */
function connect(url) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => resolve(socket))
    socket.once('error', reject)
  })
}

/**
 * Sends a request declaring a `declared`-byte body, then writes up to `send` bytes of it while
 * the server lets it. Resolves with what the server answered once the connection is closed
 * (or after `giveUpMs`).
 */
async function hostileUpload(url, { authorization, declared, send, giveUpMs, body = '' }) {
  const socket = await connect(url)
  let answer = ''
  socket.on('data', (chunk) => (answer += chunk))
  socket.on('error', () => {})
  const closed = new Promise((resolve) => socket.once('close', resolve))
  socket.write(
    `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
      `Authorization: ${authorization}\r\nContent-Length: ${declared}\r\n\r\n${body}`,
  )
  const chunk = Buffer.alloc(64 * 1024, 'a')
  let sent = 0
  while (sent < send && !socket.destroyed && !socket.writableEnded) {
    if (!socket.write(chunk)) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), closed])
    }
    sent += chunk.length
  }
  const timer = setTimeout(() => socket.destroy(), giveUpMs)
  await closed
  clearTimeout(timer)
  return answer
}

const describeOnLinux = linux ? describe : describe.skip

describeOnLinux('rest-server limits', () => {
  test('200 unauthenticated uploads declaring 8 MiB each: closed from the headers, RSS bounded', async () => {
    const server = await startCli(['rest-server', '--port', '0', '--redis', DEAD_REDIS], { DIGIS_REST_TOKEN: TOKEN })
    try {
      const pid = server.child.pid
      const before = rssMiB(pid)
      let peak = before
      const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 20)
      const started = Date.now()
      const answers = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          hostileUpload(server.url, {
            authorization: i % 2 ? 'Bearer wrong-token' : 'Basic nothing',
            declared: 8 * 1024 * 1024,
            send: 4 * 1024 * 1024,
            giveUpMs: 10000,
          }),
        ),
      )
      clearInterval(sampler)
      // Closed from the headers, not after the 10 s the clients would wait.
      expect(Date.now() - started).toBeLessThan(8000)
      peak = Math.max(peak, rssMiB(pid))
      // The server closes without reading: a client still uploading may see the reset before
      // the 401, but whatever arrived is the 401.
      for (const answer of answers) {
        if (answer) expect(answer).toMatch(/^HTTP\/1\.1 401 [^]*\r\nconnection: close\r\n/i)
      }
      // Reading those bodies would have held 200 × 4 MiB = 800 MiB.
      expect(peak - before).toBeLessThan(100)
    } finally {
      await stopCli(server)
    }
  }, 60000)

  test('a wrong token with an ordinary body: 401 WRONGPASS with Connection: close', async () => {
    const server = await startCli(['rest-server', '--port', '0', '--redis', DEAD_REDIS], { DIGIS_REST_TOKEN: TOKEN })
    try {
      const body = JSON.stringify(['SET', 'k', 'x'.repeat(20000)])
      const answer = await hostileUpload(server.url, {
        authorization: 'Bearer wrong-token',
        declared: body.length,
        send: 0,
        giveUpMs: 5000,
        body,
      })
      expect(answer).toMatch(/^HTTP\/1\.1 401 [^]*\r\nconnection: close\r\n/i)
      expect(answer).toContain('{"error":"WRONGPASS invalid or missing auth token"}')
    } finally {
      await stopCli(server)
    }
  })

  test('--max-connections: one more connection is closed at once, and a freed slot is reused', async () => {
    const server = await startCli(['rest-server', '--port', '0', '--redis', DEAD_REDIS, '--max-connections', '4'], {
      DIGIS_REST_TOKEN: TOKEN,
    })
    const sockets = []
    try {
      for (let i = 0; i < 4; i++) sockets.push(await connect(server.url))
      // Give the server time to accept the four.
      await new Promise((resolve) => setTimeout(resolve, 200))
      const extra = await connect(server.url)
      const extraClosed = await new Promise((resolve) => {
        extra.on('error', () => {})
        extra.once('close', () => resolve(true))
        setTimeout(() => resolve(false), 5000)
      })
      expect(extraClosed).toBe(true)
      sockets.shift().destroy()
      await new Promise((resolve) => setTimeout(resolve, 200))
      const res = await fetch(`${server.url}/ping`, { headers: { authorization: `Bearer ${TOKEN}` } })
      // Redis is down, but the request got a slot and an answer.
      expect(res.status).toBe(500)
    } finally {
      for (const socket of sockets) socket.destroy()
      await stopCli(server)
    }
  }, 30000)

  test('server administration is refused unless --allow-admin (or DIGIS_REST_ALLOW_ADMIN=1)', async () => {
    const configSet = (url) =>
      fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(['CONFIG', 'SET', 'maxmemory', '1']),
      }).then(async (res) => ({ status: res.status, body: await res.json() }))
    const hosted = await startCli(['rest-server', '--port', '0', '--redis', DEAD_REDIS], { DIGIS_REST_TOKEN: TOKEN })
    try {
      const refused = await configSet(hosted.url)
      expect(refused.status).toBe(400)
      expect(refused.body.error).toMatch(/^ERR command 'config' is not allowed: .*--allow-admin/)
    } finally {
      await stopCli(hosted)
    }
    // Allowed, it goes to Redis, which is down here: 500, not the refusal.
    for (const [args, env] of [[['--allow-admin'], {}], [[], { DIGIS_REST_ALLOW_ADMIN: '1' }]]) {
      const admin = await startCli(['rest-server', '--port', '0', '--redis', DEAD_REDIS, ...args], { DIGIS_REST_TOKEN: TOKEN, ...env })
      try {
        const passed = await configSet(admin.url)
        expect(passed.status).toBe(500)
        expect(passed.body.error).not.toMatch(/allow-admin/)
      } finally {
        await stopCli(admin)
      }
    }
  })

  test('bad limits are usage errors', () => {
    const { runCli } = require('./support')
    const zero = runCli(['rest-server', '--port', '0', '--token', TOKEN, '--max-connections', '0'])
    expect(zero.code).toBe(2)
    expect(zero.stderr).toMatch(/--max-connections must be an integer from 1/)
    const small = runCli(['rest-server', '--port', '0', '--token', TOKEN, '--max-buffered-bytes', '10', '--max-body-bytes', '100'])
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/max_buffered_bytes must be at least max_body_bytes/)
  })
})
