'use strict'

// `digis-redis build-from-source`: the way out on a platform with no prebuilt package. Builds the
// addon with this machine's Rust toolchain inside the installed package and puts the binary where
// the loader looks first (beside binding.js). Never run at install time.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { binaryFile, hostKey } = require('./platforms')

const ROOT = path.join(__dirname, '..')

/** The file cargo writes for a cdylib named digis_redis on this OS. */
const CARGO_OUTPUT = { win32: 'digis_redis.dll', darwin: 'libdigis_redis.dylib' }[process.platform] ?? 'libdigis_redis.so'

/** Builds and installs the binary; resolves with an exit code, printing what it did. */
function buildFromSource({ log = console.log } = {}) {
  if (!fs.existsSync(path.join(ROOT, 'Cargo.toml'))) {
    log('digis-redis: this copy has no Rust sources to build from.')
    return 1
  }
  const probe = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
  if (probe.error || probe.status !== 0) {
    log('digis-redis: building from source needs Rust (cargo on PATH): install it from https://rustup.rs, then run this again.')
    return 1
  }
  // The build's few hundred MB go to a temporary directory unless the user chose one.
  const ownTarget = !process.env.CARGO_TARGET_DIR
  const targetDir = ownTarget ? fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-build-')) : path.resolve(ROOT, process.env.CARGO_TARGET_DIR)
  try {
    log(`digis-redis: building with ${probe.stdout.trim()} (a few minutes)...`)
    const build = spawnSync('cargo', ['build', '--release', '--locked', '-p', 'digis-redis'], {
      cwd: ROOT,
      stdio: 'inherit',
      env: { ...process.env, CARGO_TARGET_DIR: targetDir },
    })
    if (build.status !== 0) {
      log('digis-redis: cargo build failed (output above). It also needs a C compiler: build-essential on Debian/Ubuntu, build-base on Alpine, Xcode command line tools on macOS.')
      return 1
    }
    const destination = path.join(ROOT, binaryFile(hostKey()))
    fs.copyFileSync(path.join(targetDir, 'release', CARGO_OUTPUT), destination)
    log(`digis-redis: installed ${destination}`)
    log('A clean reinstall of node_modules removes it: keep a copy and point DIGIS_REDIS_NATIVE_PATH at it, or run this again.')
    return 0
  } finally {
    if (ownTarget) fs.rmSync(targetDir, { recursive: true, force: true })
  }
}

module.exports = { buildFromSource }
