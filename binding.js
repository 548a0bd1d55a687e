'use strict'

// Loads the native addon. In a clone, the local build (`npm install` / `npm run build` writes
// digis-redis.<platform>.node here); once installed from the registry, the platform package that
// npm or pnpm picked from optionalDependencies by its os/cpu/libc fields. Nothing is built or
// downloaded at install time.

const fs = require('node:fs')
const path = require('node:path')
const { PLATFORMS, packageName, binaryFile, hostKey } = require('./lib/platforms')

const { version } = require('./package.json')
const key = hostKey()

// One literal require per platform package (the keys of lib/platforms.js; a test keeps them
// equal): bundlers and Vercel's file tracing only follow requires they can read.
const PLATFORM_PACKAGES = {
  'linux-x64-gnu': () => require('digis-redis-linux-x64-gnu'),
  'linux-x64-musl': () => require('digis-redis-linux-x64-musl'),
  'linux-arm64-gnu': () => require('digis-redis-linux-arm64-gnu'),
  'linux-arm64-musl': () => require('digis-redis-linux-arm64-musl'),
  'darwin-x64': () => require('digis-redis-darwin-x64'),
  'darwin-arm64': () => require('digis-redis-darwin-arm64'),
  'win32-x64-msvc': () => require('digis-redis-win32-x64-msvc'),
}

function loadNative() {
  const override = process.env.DIGIS_REDIS_NATIVE_PATH
  if (override) return require(path.resolve(override))

  const local = path.join(__dirname, binaryFile(key))
  if (fs.existsSync(local)) return require(local)

  const errors = []
  const supported = Object.hasOwn(PLATFORM_PACKAGES, key)
  if (supported) {
    let manifest
    try {
      manifest = require(`${packageName(key)}/package.json`)
    } catch (err) {
      errors.push(err)
    }
    if (manifest) {
      if (manifest.version !== version) {
        throw new Error(
          `digis-redis ${version} found ${packageName(key)} ${manifest.version}: the two must be the ` +
            'same version. Reinstall digis-redis (the lockfile may pin an old platform package).',
        )
      }
      return PLATFORM_PACKAGES[key]()
    }
  }
  throw missingBinaryError(supported, errors)
}

/** What a user needs when no binary loads: this platform, the supported ones, the way out. */
function missingBinaryError(supported, errors) {
  const list = PLATFORMS.map((p) => p.key).join(', ')
  const why = supported
    ? `its prebuilt package ${packageName(key)} is not installed (optional dependencies omitted, ` +
      'e.g. --omit=optional or --no-optional, or a node_modules copied from another platform)'
    : 'no prebuilt binary is published for it'
  const error = new Error(
    `digis-redis cannot load its native binary on this platform (${key}): ${why}.\n` +
      `Prebuilt platforms: ${list}.\n` +
      (supported ? 'Reinstall with optional dependencies, or build' : 'Build') +
      ' from source on this machine (needs Rust, https://rustup.rs): npx digis-redis build-from-source',
  )
  error.code = 'ERR_DIGIS_REDIS_NO_BINARY'
  if (errors.length) error.cause = errors[0]
  return error
}

module.exports = loadNative()
