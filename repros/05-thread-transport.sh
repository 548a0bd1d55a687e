#!/bin/sh
# The staleness probe on the tokio I/O-thread transport, quiet and with the tracking connection
# killed every 300 ms.
cd "$(dirname "$0")/.."
for c in "" kill-tracking; do DIGIS_REDIS_TRANSPORT=thread CHAOS=$c SECONDS_RUN=6 node repros/02-staleness-probe.js 2>/dev/null; done
