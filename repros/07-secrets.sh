#!/bin/sh
# A REDIS_URL password must not show in stats().nearCache.lastError, logs or doctor output:
# an ACL user without CLIENT (tracking refused), and a wrong password. Needs on the server:
#   ACL SETUSER nocli on >s3cretPW ~* &* +@all -client
cd "$(dirname "$0")/.."
for url in redis://nocli:s3cretPW@127.0.0.1:6393/0 redis://cli:WRONGs3cret@127.0.0.1:6393/0 "redis://:s3cretPW@127.0.0.1:6393/0"; do
  echo "== $url" | sed 's/:[^:@]*@/:***@/'
  out=$(REDIS_URL=$url timeout 30 node -e "
    const r = require('.')
    r.configure({ nearCache: true })
    setTimeout(async () => { await r.cache.get('x'); console.log(JSON.stringify({ tracking: r.analytics.stats().nearCache.tracking, lastError: r.analytics.stats().nearCache.lastError })); process.exit(0) }, 1500)
  " 2>&1; REDIS_URL=$url timeout 60 node bin/digis-redis.js doctor 2>&1)
  echo "$out" | grep -i "near\|lastError\|tracking" | head -5
  if echo "$out" | grep -q 's3cret'; then echo "LEAK: password in output"; fi
done
