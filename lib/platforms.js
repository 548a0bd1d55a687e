'use strict'

// The platforms digis-redis ships a prebuilt binary for: one npm package each,
// `digis-redis-<key>`, holding `digis-redis.<key>.node`. The loader, the release packer and the
// README's table all read this list.

const BINARY_NAME = 'digis-redis'

/**
 * `builtHere`: the release packer builds it on a Linux x64 machine (cargo-zigbuild). The others
 * come from the release workflow's own runners (.github/workflows/release.yml): linking for macOS
 * needs Apple's SDK frameworks (Security, CoreFoundation), and for Windows MSVC's libraries.
 * `glibc`: the oldest glibc the gnu binaries link against (zig's sysroot pins it).
 */
const PLATFORMS = [
  { key: 'linux-x64-gnu', triple: 'x86_64-unknown-linux-gnu', os: 'linux', cpu: 'x64', libc: 'glibc', glibc: '2.17', builtHere: true },
  { key: 'linux-x64-musl', triple: 'x86_64-unknown-linux-musl', os: 'linux', cpu: 'x64', libc: 'musl', builtHere: true },
  { key: 'linux-arm64-gnu', triple: 'aarch64-unknown-linux-gnu', os: 'linux', cpu: 'arm64', libc: 'glibc', glibc: '2.17', builtHere: true },
  { key: 'linux-arm64-musl', triple: 'aarch64-unknown-linux-musl', os: 'linux', cpu: 'arm64', libc: 'musl', builtHere: true },
  { key: 'darwin-x64', triple: 'x86_64-apple-darwin', os: 'darwin', cpu: 'x64', builtHere: false },
  { key: 'darwin-arm64', triple: 'aarch64-apple-darwin', os: 'darwin', cpu: 'arm64', builtHere: false },
  { key: 'win32-x64-msvc', triple: 'x86_64-pc-windows-msvc', os: 'win32', cpu: 'x64', builtHere: false },
]

const packageName = (key) => `${BINARY_NAME}-${key}`
const binaryFile = (key) => `${BINARY_NAME}.${key}.node`

/** True on a musl libc (Alpine): ldd names it, or, where there is no ldd, no glibc is reported. */
function isMusl() {
  try {
    return require('node:fs').readFileSync('/usr/bin/ldd', 'latin1').includes('musl')
  } catch {
    const report = process.report?.getReport()
    return Boolean(report) && !report.header?.glibcVersionRuntime
  }
}

/** This process's platform key, in the packages' naming (`linux-x64-gnu`, `darwin-arm64`, ...). */
function hostKey(platform = process.platform, arch = process.arch) {
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  return platform === 'win32' ? `win32-${arch}-msvc` : `${platform}-${arch}`
}

module.exports = { PLATFORMS, BINARY_NAME, packageName, binaryFile, hostKey }
