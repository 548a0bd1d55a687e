#!/bin/sh
# A process with the near cache on (tracking live) must exit by itself when its work is done,
# on both transports, and also when tracking cannot connect (server down).
cd "$(dirname "$0")/.."
for t in "" thread; do
  for url in redis://127.0.0.1:6393/0 redis://127.0.0.1:1/0; do
    start=$(date +%s%N)
    DIGIS_REDIS_TRANSPORT=$t REDIS_URL=$url timeout 20 node -e "
      const r = require('.'); r.configure({ nearCache: true })
      setTimeout(async () => { await r.cache.get('x'); await r.cache.get('x'); console.log('tracking', r.analytics.stats().nearCache.tracking) }, 300)
    " 2>/dev/null
    rc=$?
    echo "transport=${t:-default} url=$url rc=$rc exit after $(( ($(date +%s%N) - start) / 1000000 )) ms"
  done
done
