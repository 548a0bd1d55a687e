#!/bin/sh
# Upstash REST (rest-server in front of the private Redis): nearCache without maxStalenessMs must
# throw; with it, another client's write is seen within maxStalenessMs (plus a read).
cd "$(dirname "$0")/.."
node bin/digis-redis.js rest-server --port 0 --redis redis://127.0.0.1:6393 --token t > /tmp/nr-rest.txt 2>&1 &
REST=$!
sleep 1.5
URL=$(grep -o 'http://[0-9.:]*' /tmp/nr-rest.txt | head -1)
echo "rest-server at $URL"
UPSTASH_REDIS_REST_URL=$URL UPSTASH_REDIS_REST_TOKEN=t REDIS_URL= timeout 60 node -e "
const r = require('.'); const Redis = require('ioredis'); const w = new Redis({ port: 6393 })
const sleep = (ms) => new Promise((res) => setTimeout(res, ms))
;(async () => {
  try { r.configure({ nearCache: true }); console.log('true: accepted (BUG)') } catch (e) { console.log('true:', e.constructor.name, e.message) }
  console.log('after the refused one:', r.analytics.stats().nearCache.enabled, r.analytics.stats().nearCache.tracking)
  r.configure({ nearCache: { maxStalenessMs: 300 } })
  console.log('tracking:', r.analytics.stats().nearCache.tracking)
  const worst = []
  for (let i = 0; i < 10; i++) {
    await w.set('up-k', 'old'); await r.cache.get('up-k'); await r.cache.get('up-k')
    await w.set('up-k', 'new'); const t0 = Date.now()
    while ((await r.cache.get('up-k')) !== 'new') { if (Date.now() - t0 > 3000) break; await sleep(2) }
    worst.push(Date.now() - t0)
  }
  console.log('ms to see another client write (bound 300):', worst.join(' '))
  // Lowering the bound drops entries stored under the longer one.
  await r.cache.get('up-k'); await w.set('up-k', 'newer')
  r.configure({ nearCache: { maxStalenessMs: 50 } }); await sleep(60)
  console.log('after lowering to 50 ms:', await r.cache.get('up-k'))
  w.disconnect(); process.exit(0)
})()"
kill $REST
