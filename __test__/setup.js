'use strict'

// The embedded-store warning is asserted in embedded.test.js; elsewhere it is noise.
const warn = console.warn
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].startsWith('[digis-redis] No UPSTASH')) return
  warn(...args)
}
