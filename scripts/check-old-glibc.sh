#!/usr/bin/env bash
# Loads the packed gnu binaries on an older distribution than the build machine: Debian 11
# (glibc 2.31, Node.js 12 from Debian) made with debootstrap, x64 in a chroot and arm64 under
# qemu-user. Each binary must load and open an embedded store. Needs root, debootstrap and
# qemu-user-static (apt); not part of CI (it downloads ~150 MB of Debian packages per arch).
#   scripts/check-old-glibc.sh [dist-dir] [cache-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
cache=${2:-/tmp/digis-redis-old-glibc}
version=$(node -p 'require("./package.json").version')
mirror=http://deb.debian.org/debian
probe='const b = require(process.argv[1]); const c = b.NativeClient.embedded(); console.log(process.version, typeof c.lockExtend === "function" ? "embedded store ok" : "no client")'

root_for() { # arch → a Debian 11 root with nodejs unpacked
  local arch=$1 dir="$cache/bullseye-$1"
  if [ ! -x "$dir/usr/bin/node" ]; then
    debootstrap --arch="$arch" --foreign --variant=minbase --include=nodejs bullseye "$dir" "$mirror" >/dev/null
    for deb in "$dir"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$dir"; done
  fi
  echo "$dir"
}

status=0
for spec in linux-x64-gnu:amd64 linux-arm64-gnu:arm64; do
  key=${spec%%:*} arch=${spec##*:}
  tarball="$dist/digis-redis-$key-$version.tgz"
  [ -f "$tarball" ] || { echo "skip $key: $tarball not packed"; continue; }
  dir=$(root_for "$arch")
  tar -xzf "$tarball" -C "$dir/tmp"
  file="/tmp/package/digis-redis.$key.node"
  glibc=$(ls "$dir"/lib/*-linux-gnu/libc-*.so 2>/dev/null | sed 's/.*libc-\(.*\)\.so/\1/' | head -1)
  if [ "$arch" = amd64 ]; then
    out=$(chroot "$dir" /usr/bin/node -e "$probe" "$file" 2>&1) || true
  else
    out=$(qemu-aarch64-static -L "$dir" "$dir/usr/bin/node" -e "$probe" "$dir$file" 2>&1) || true
  fi
  if grep -q "embedded store ok" <<<"$out"; then
    last=${out##*$'\n'}
    echo "ok   $key loads on Debian 11 ($arch, glibc $glibc, Node.js ${last%% *})"
  else
    echo "FAIL $key on Debian 11 ($arch): $out"; status=1
  fi
  rm -rf "$dir/tmp/package"
done
exit $status
