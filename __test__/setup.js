'use strict'

// The embedded-store warning is asserted in embedded.test.js; elsewhere it is noise.
const warn = console.warn
console.warn = (...args) => {
  if (typeof args[0] === 'string' && args[0].startsWith('[digis-redis] No UPSTASH')) return
  warn(...args)
}

// Tests read one logged line per failed call, and a summary of outage failures logged by a
// timer 10 s later could land after a file's tests are done. The interval itself is tested in
// faults/outage-logging.test.js (which sets it); child processes inherit this.
process.env.DIGIS_REDIS_LOG_INTERVAL_MS ??= '0'
