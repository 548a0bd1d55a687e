'use strict'

const net = require('node:net')
const binding = require('../binding')

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
  // IPv6 by the core (its /56 prefix), off the IPv4 path.
  return net.isIPv4(ip) ? ip : binding.ipv6ClientKey(ip)
}

/** The address Express resolved (honouring `trust proxy`), else the socket's. */
function requestAddress(req) {
  return req.ip || req.socket?.remoteAddress || req.connection?.remoteAddress || ''
}

module.exports = { clientAddressKey, requestAddress }
