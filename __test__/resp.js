'use strict'

// A minimal Redis client over a raw socket, so server-side checks (INFO commandstats, bulk
// loading) do not depend on the package under test.
const net = require('node:net')

function encode(args) {
  let out = `*${args.length}\r\n`
  for (const arg of args) {
    const text = String(arg)
    out += `$${Buffer.byteLength(text)}\r\n${text}\r\n`
  }
  return out
}

/** Sends `commands` (arrays of arguments) in one write; resolves with the raw reply text. */
function send(url, commands) {
  const { hostname, port, pathname } = new URL(url)
  const db = pathname.replace('/', '')
  const all = db ? [['SELECT', db], ...commands] : commands
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) || 6379 })
    let text = ''
    let replies = 0
    socket.setEncoding('utf8')
    socket.on('data', (chunk) => {
      text += chunk
      // Each of our commands answers one line-terminated reply that starts at a line start
      // with + - : or $; counting complete top-level replies is enough for OK/ints/bulk INFO.
      replies = countReplies(text)
      if (replies >= all.length) {
        socket.end()
        resolve(text)
      }
    })
    socket.on('error', reject)
    socket.write(all.map(encode).join(''))
  })
}

function countReplies(text) {
  let i = 0
  let count = 0
  while (i < text.length) {
    const end = text.indexOf('\r\n', i)
    if (end < 0) break
    const line = text.slice(i, end)
    if (line[0] === '$') {
      const len = Number(line.slice(1))
      if (len < 0) {
        i = end + 2
      } else {
        if (Buffer.byteLength(text.slice(end + 2)) < len + 2) break
        i = end + 2 + Buffer.from(text.slice(end + 2)).subarray(0, len).toString().length + 2
      }
    } else {
      i = end + 2
    }
    count++
  }
  return count
}

/** `cmdstat_<name>` call counts from INFO commandstats. */
async function commandCalls(url, names) {
  const info = await send(url, [['INFO', 'commandstats']])
  const calls = {}
  for (const name of names) {
    const match = new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)
    calls[name] = match ? Number(match[1]) : 0
  }
  return calls
}

module.exports = { encode, send, commandCalls }
