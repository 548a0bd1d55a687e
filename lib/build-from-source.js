'use strict'

// `digis-redis build-from-source`: the way out on a platform with no prebuilt package. Builds the
// addon with this machine's Rust toolchain inside the installed package and puts the binary where
// the loader looks first (beside binding.js). Never run at install time.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { binaryFile, hostKey } = require('./platforms')

const ROOT = path.join(__dirname, '..')

/** The file cargo writes for a cdylib named digis_redis on this OS. */
function cargoOutput(targetDir) {
  const file =
    process.platform === 'win32'
      ? 'digis_redis.dll'
      : process.platform === 'darwin'
        ? 'libdigis_redis.dylib'
        : 'libdigis_redis.so'
  return path.join(targetDir, 'release', file)
}

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
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target')
  log(`digis-redis: building with ${probe.stdout.trim()} (a few minutes)...`)
  const build = spawnSync('cargo', ['build', '--release', '--locked', '-p', 'digis-redis'], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  })
  if (build.status !== 0) {
    log('digis-redis: cargo build failed (output above).')
    return 1
  }
  const destination = path.join(ROOT, binaryFile(hostKey()))
  fs.copyFileSync(cargoOutput(targetDir), destination)
  log(`digis-redis: installed ${destination}`)
  return 0
}

module.exports = { buildFromSource }
