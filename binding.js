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

/**
 * The platform package's manifest and a loader for its binary, by literal names (one case per
 * key of lib/platforms.js; a test keeps them equal): Vercel's file tracing and bundlers only
 * follow requires they can read, and esbuild leaves an unresolvable one inside `try` for run time.
 * Throws MODULE_NOT_FOUND when it is not installed.
 */
function platformPackage() {
  try {
    switch (key) {
      case 'linux-x64-gnu':
        return [require('digis-redis-linux-x64-gnu/package.json'), () => require('digis-redis-linux-x64-gnu')]
      case 'linux-x64-musl':
        return [require('digis-redis-linux-x64-musl/package.json'), () => require('digis-redis-linux-x64-musl')]
      case 'linux-arm64-gnu':
        return [require('digis-redis-linux-arm64-gnu/package.json'), () => require('digis-redis-linux-arm64-gnu')]
      case 'linux-arm64-musl':
        return [require('digis-redis-linux-arm64-musl/package.json'), () => require('digis-redis-linux-arm64-musl')]
      case 'darwin-x64':
        return [require('digis-redis-darwin-x64/package.json'), () => require('digis-redis-darwin-x64')]
      case 'darwin-arm64':
        return [require('digis-redis-darwin-arm64/package.json'), () => require('digis-redis-darwin-arm64')]
      case 'win32-x64-msvc':
        return [require('digis-redis-win32-x64-msvc/package.json'), () => require('digis-redis-win32-x64-msvc')]
      default:
        return undefined
    }
  } catch (err) {
    return err
  }
}

function loadNative() {
  const override = process.env.DIGIS_REDIS_NATIVE_PATH
  if (override) return loadFile(path.resolve(override), 'DIGIS_REDIS_NATIVE_PATH')

  const local = path.join(__dirname, binaryFile(key))
  if (fs.existsSync(local)) return loadFile(local, 'the local build')

  const found = platformPackage()
  if (found === undefined || found instanceof Error) throw missingBinaryError(found !== undefined, found)
  const [manifest, load] = found
  const name = packageName(key)
  const where = () => `${name} ${manifest.version} (${path.dirname(require.resolve(`${name}/package.json`))})`
  if (manifest.version !== version) {
    throw codedError(
      'ERR_DIGIS_REDIS_VERSION_MISMATCH',
      `digis-redis ${version} found ${where()}: the two must be the same version. ` +
        `Remove any overrides/resolutions entry for ${name}, then reinstall digis-redis.`,
    )
  }
  try {
    return load()
  } catch (err) {
    throw unloadableError(err, where())
  }
}

function loadFile(file, what) {
  try {
    return require(file)
  } catch (err) {
    throw unloadableError(err, `${what} (${file})`)
  }
}

function codedError(code, message, cause) {
  const error = new Error(message)
  error.code = code
  if (cause) error.cause = cause
  return error
}

const BUILD_HINT =
  'build from source on this machine (needs Rust from https://rustup.rs and a C compiler): npx digis-redis build-from-source'

/** A binary that is there but does not load: corrupt, another CPU, or another libc. */
function unloadableError(cause, what) {
  const platform = PLATFORMS.find((p) => p.key === key)
  const needs = platform && platform.glibc ? `, needs glibc >= ${platform.glibc}` : platform && platform.libc === 'musl' ? ', needs musl libc' : ''
  return codedError(
    'ERR_DIGIS_REDIS_BINARY_UNLOADABLE',
    `digis-redis could not load its native binary from ${what} on ${key}${needs}: ${cause.message}\n` +
      `Reinstall digis-redis, or ${BUILD_HINT}`,
    cause,
  )
}

/** Other platforms' packages that are installed (a node_modules copied from another machine). */
function otherPlatformPackages() {
  return PLATFORMS.filter((p) => p.key !== key).map((p) => packageName(p.key)).filter((name) => {
    try {
      require.resolve(`${name}/package.json`)
      return true
    } catch {
      return false
    }
  })
}

/** What a user needs when no binary is there: this platform, the supported ones, the way out. */
function missingBinaryError(supported, cause) {
  const list = PLATFORMS.map((p) => p.key).join(', ')
  const name = packageName(key)
  const others = supported ? otherPlatformPackages() : []
  const why = !supported
    ? 'no prebuilt binary is published for it'
    : others.length
      ? `${name} is not installed, but ${others.join(', ')} is: this node_modules was installed on another platform`
      : `its prebuilt package ${name} is not installed (optional dependencies omitted, e.g. ` +
        `--omit=optional or --no-optional; or your registry lacks ${name}@${version}: check with npm view ${name}@${version})`
  return codedError(
    'ERR_DIGIS_REDIS_NO_BINARY',
    `digis-redis cannot load its native binary on this platform (${key}): ${why}.\n` +
      `Prebuilt platforms: ${list}.\n` +
      `${supported ? 'Reinstall on this machine with optional dependencies, or ' : 'You can '}${BUILD_HINT}`,
    cause,
  )
}

module.exports = loadNative()
