'use strict'

const net = require('node:net')

/**
 * The rate-limit key of a request's client address: IPv4 as is (also when it arrives as an
 * IPv4-mapped IPv6 address), IPv6 grouped by its /56 prefix — one subscriber usually holds a
 * whole /56 or /64, so a per-address key would let them rotate addresses to dodge the limit.
 */
function clientAddressKey(address) {
  if (typeof address !== 'string' || address === '') return 'unknown'
  let ip = address.split('%')[0] // zone index, e.g. fe80::1%eth0
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)
  if (mapped) ip = mapped[1]
  if (net.isIPv4(ip)) return ip
  if (!net.isIPv6(ip)) return 'unknown'
  const hextets = expandIPv6(ip)
  const fourth = hextets[3] & 0xff00
  return `${hextets.slice(0, 3).map(hex).join(':')}:${hex(fourth)}::/56`
}

/** The eight 16-bit groups of a valid IPv6 address (with `::` and a dotted IPv4 tail). */
function expandIPv6(ip) {
  let text = ip
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (v4) {
    const [a, b, c, d] = v4[1].split('.').map(Number)
    text = text.slice(0, -v4[1].length) + `${hex((a << 8) | b)}:${hex((c << 8) | d)}`
  }
  const [head, tail] = text.split('::')
  const parse = (part) => (part ? part.split(':').map((h) => parseInt(h, 16)) : [])
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  const zeros = new Array(8 - left.length - right.length).fill(0)
  return [...left, ...zeros, ...right]
}

const hex = (n) => n.toString(16)

/** The address Express resolved (honouring `trust proxy`), else the socket's. */
function requestAddress(req) {
  return req.ip || req.socket?.remoteAddress || req.connection?.remoteAddress || ''
}

module.exports = { clientAddressKey, requestAddress }
