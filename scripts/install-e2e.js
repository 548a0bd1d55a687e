#!/usr/bin/env node
'use strict'

// `npm run test:install [-- --build-from-source]`: installs digis-redis as a user would.
//
// Publishes the tarballs in dist/ (from `npm run release:pack`) to a private registry on
// 127.0.0.1, then, in fresh app directories with cargo and rustc absent from PATH:
//   npm install digis-redis, and pnpm 10 (default settings) pnpm add digis-redis:
//     only this platform's binary package is installed, require() loads it, a cache round trip
//     works on the embedded store and on REDIS_URL, an ES module imports it, and
//     `digis-redis doctor` passes on both backends;
//   npm install --omit=optional: require() fails with the error that names this platform, the
//     prebuilt list and the build-from-source command (which --build-from-source then runs,
//     with cargo back on PATH: minutes).
// Prints the install times. Exit code 0 when every check passes.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { PLATFORMS, BINARY_NAME, packageName, binaryFile, hostKey } = require('../lib/platforms')
const { installTools, startRegistry } = require('./private-registry')
const { platformManifest } = require('./release-pack')

const ROOT = path.resolve(__dirname, '..')
const { version: VERSION } = require('../package.json')
const HOST = hostKey()
const REDIS_URL = process.env.REDIS_TEST_URL || 'redis://127.0.0.1:6379/9'
const PNPM_VERSION = '10'
const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_CLUSTER_URLS', 'REDIS_URL', 'NODE_ENV']

const failures = []
function check(condition, what, detail = '') {
  console.log(`  ${condition ? 'ok  ' : 'FAIL'} ${what}${!condition && detail ? `\n       ${detail.split('\n').join('\n       ')}` : ''}`)
  if (!condition) failures.push(what)
  return condition
}

/** PATH without any directory that holds cargo or rustc: a user's machine with no Rust. */
function pathWithoutRust(value) {
  const hasRust = (dir) => ['cargo', 'rustc'].some((tool) => fs.existsSync(path.join(dir, tool)))
  return value.split(path.delimiter).filter((dir) => dir && !hasRust(dir)).join(path.delimiter)
}

/** The environment of the user's shell: their own HOME and registry config, no npm_* leftovers. */
function userEnv(home, extra = {}) {
  const env = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('npm_') && !BACKEND_VARIABLES.includes(name)) env[name] = value
  }
  return { ...env, HOME: home, PATH: pathWithoutRust(process.env.PATH), ...extra }
}

function sh(command, args, options) {
  const started = process.hrtime.bigint()
  const result = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  return { ...result, seconds, output: `${result.stdout || ''}${result.stderr || ''}` }
}

const CHECK_CJS = `'use strict'
const started = performance.now()
const digis = require('digis-redis')
const requireMs = performance.now() - started
const loaded = Object.keys(require.cache).filter((file) => file.endsWith('.node'))
;(async () => {
  const key = 'install-test:' + process.pid + ':' + Date.now()
  const value = { plan: 'gold', n: 12345678901234567890n.toString() }
  const stored = await digis.cache.set(key, value, 60)
  const read = await digis.cache.get(key)
  const deleted = await digis.cache.del(key)
  const { backend } = await digis.health()
  console.log(JSON.stringify({ requireMs, loaded, stored, read, deleted, backend, same: JSON.stringify(read) === JSON.stringify(value) }))
  process.exit(0)
})()
`

const CHECK_MJS = `import digis, { cache, testConnection } from 'digis-redis'
const same = digis.cache === cache
console.log(JSON.stringify({ same, connected: await testConnection() }))
process.exit(0)
`

function newApp(dir, name) {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2))
  fs.writeFileSync(path.join(dir, 'check.cjs'), CHECK_CJS)
  fs.writeFileSync(path.join(dir, 'check.mjs'), CHECK_MJS)
}

function parseLastLine(output) {
  const line = output.trim().split('\n').filter((l) => l.startsWith('{')).pop()
  try {
    return JSON.parse(line)
  } catch {
    return null
  }
}

/** require + round trip + ESM + doctor, on the embedded store and on REDIS_URL. */
function usesInstalledPackage(app, env, doctorCommand) {
  for (const [label, backendEnv, backend] of [
    ['embedded', {}, 'embedded'],
    [`REDIS_URL`, { REDIS_URL }, 'redis'],
  ]) {
    const runEnv = { ...env, ...backendEnv }
    const cjs = sh(process.execPath, ['check.cjs'], { cwd: app, env: runEnv })
    const result = parseLastLine(cjs.stdout)
    const expectedBinary = `${path.sep}${packageName(HOST)}${path.sep}${binaryFile(HOST)}`
    check(
      cjs.status === 0 && result && result.same && result.stored && result.deleted && result.backend === backend,
      `${label}: require('digis-redis') and a cache round trip (${result ? result.requireMs.toFixed(1) : '?'} ms require)`,
      cjs.output,
    )
    if (label === 'embedded') {
      check(
        Boolean(result) && result.loaded.length === 1 && result.loaded[0].endsWith(expectedBinary),
        `the binary came from ${packageName(HOST)}`,
        result ? result.loaded.join(', ') : cjs.output,
      )
    }
    const esm = sh(process.execPath, ['check.mjs'], { cwd: app, env: runEnv })
    const imported = parseLastLine(esm.stdout)
    check(esm.status === 0 && imported && imported.same && imported.connected, `${label}: import from an ES module`, esm.output)
    const doctor = sh(doctorCommand[0], [...doctorCommand.slice(1), 'doctor'], { cwd: app, env: runEnv })
    check(doctor.status === 0, `${label}: digis-redis doctor passes`, doctor.output)
  }
}

/** dist/ must hold what this checkout would publish: JS and Rust sources with the binaries. */
function assertPackedFromThisCheckout(tarball, into) {
  fs.mkdirSync(into, { recursive: true })
  const untar = sh('tar', ['-xzf', tarball, '-C', into])
  if (untar.status !== 0) throw new Error(`cannot read ${tarball}: ${untar.output}`)
  const packageDir = path.join(into, 'package')
  const differ = []
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else {
        const relative = path.relative(packageDir, file)
        const source = path.join(ROOT, relative)
        if (relative !== 'package.json' && (!fs.existsSync(source) || !fs.readFileSync(source).equals(fs.readFileSync(file)))) differ.push(relative)
      }
    }
  }
  walk(packageDir)
  if (differ.length) {
    throw new Error(`dist/ was packed from other sources than this checkout (${differ.slice(0, 5).join(', ')}${differ.length > 5 ? ', ...' : ''}): run npm run release:pack again`)
  }
}

/** Platform packages the package manager put on disk, by name. */
function installedPlatformPackages(app) {
  const names = new Set()
  const plain = path.join(app, 'node_modules')
  for (const entry of fs.existsSync(plain) ? fs.readdirSync(plain) : []) {
    if (entry.startsWith(`${BINARY_NAME}-`)) names.add(entry)
  }
  const store = path.join(plain, '.pnpm')
  for (const entry of fs.existsSync(store) ? fs.readdirSync(store) : []) {
    const match = /^(digis-redis-[a-z0-9-]+)@/.exec(entry)
    if (match) names.add(match[1])
  }
  return [...names].sort()
}

async function main() {
  const { values } = parseArgs({ options: { dist: { type: 'string', default: path.join(ROOT, 'dist') }, 'build-from-source': { type: 'boolean' } } })
  const dist = path.resolve(values.dist)
  const tarballs = fs.existsSync(dist) ? fs.readdirSync(dist).filter((f) => f.endsWith('.tgz')) : []
  for (const needed of [`${BINARY_NAME}-${VERSION}.tgz`, `${packageName(HOST)}-${VERSION}.tgz`]) {
    if (!tarballs.includes(needed)) {
      throw new Error(`${path.join(dist, needed)} is missing: run \`npm run release:pack -- --targets ${HOST}\` first`)
    }
  }

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-install-'))
  let registry
  try {
    assertPackedFromThisCheckout(path.join(dist, `${BINARY_NAME}-${VERSION}.tgz`), path.join(work, 'unpacked'))
    console.log('\n== private registry (verdaccio)')
    const tools = path.join(work, 'tools')
    installTools(tools, { pnpm: PNPM_VERSION })
    fs.mkdirSync(path.join(work, 'registry'))
    registry = await startRegistry(tools, path.join(work, 'registry'), [BINARY_NAME, `${BINARY_NAME}-*`])
    for (const tarball of tarballs) {
      const publish = sh('npm', ['publish', path.join(dist, tarball), '--ignore-scripts', '--userconfig', registry.npmrc, '--registry', registry.url])
      if (!check(publish.status === 0, `published ${tarball}`, publish.output)) return
    }
    // A release publishes every platform; the ones not built here get a manifest-only stand-in
    // (never installed on this machine: os/cpu rule it out) so lockfiles resolve as they will.
    for (const platform of PLATFORMS.filter((p) => !tarballs.includes(`${packageName(p.key)}-${VERSION}.tgz`))) {
      const dir = path.join(work, 'stand-ins', platform.key)
      fs.mkdirSync(dir, { recursive: true })
      const manifest = { ...platformManifest(platform), description: 'stand-in for the install test (no binary)', files: [], main: undefined }
      fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
      const publish = sh('npm', ['publish', '--ignore-scripts', '--userconfig', registry.npmrc, '--registry', registry.url], { cwd: dir })
      if (!check(publish.status === 0, `published a manifest-only stand-in for ${packageName(platform.key)} (not built here)`, publish.output)) return
    }

    const home = path.join(work, 'home')
    fs.mkdirSync(home)
    fs.copyFileSync(registry.npmrc, path.join(home, '.npmrc'))
    const env = userEnv(home, { npm_config_cache: path.join(work, 'npm-cache') })
    const noCargo = sh('sh', ['-c', 'command -v cargo || command -v rustc'], { env })
    check(noCargo.status !== 0, 'cargo and rustc are not on the app\'s PATH', noCargo.output)

    console.log('\n== npm install digis-redis')
    const npmApp = path.join(work, 'npm-app')
    newApp(npmApp, 'npm-app')
    const npmInstall = sh('npm', ['install', BINARY_NAME, '--no-audit', '--no-fund'], { cwd: npmApp, env })
    check(npmInstall.status === 0, `npm install digis-redis (${npmInstall.seconds.toFixed(1)} s)`, npmInstall.output)
    check(
      JSON.stringify(installedPlatformPackages(npmApp)) === JSON.stringify([packageName(HOST)]),
      `only ${packageName(HOST)} installed`,
      installedPlatformPackages(npmApp).join(', '),
    )
    usesInstalledPackage(npmApp, env, ['npx', '--no', BINARY_NAME])

    console.log('\n== npm ci from that lockfile')
    const ciApp = path.join(work, 'npm-ci-app')
    newApp(ciApp, 'npm-app')
    fs.copyFileSync(path.join(npmApp, 'package.json'), path.join(ciApp, 'package.json'))
    fs.copyFileSync(path.join(npmApp, 'package-lock.json'), path.join(ciApp, 'package-lock.json'))
    const npmCi = sh('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ciApp, env })
    check(npmCi.status === 0, `npm ci (${npmCi.seconds.toFixed(1)} s)`, npmCi.output)
    const ciRun = sh(process.execPath, ['check.cjs'], { cwd: ciApp, env })
    const ciResult = parseLastLine(ciRun.stdout)
    check(ciRun.status === 0 && ciResult && ciResult.same, "require('digis-redis') after npm ci", ciRun.output)

    console.log(`\n== pnpm ${PNPM_VERSION} add digis-redis (default settings)`)
    const pnpm = path.join(work, 'tools', 'node_modules', 'pnpm', 'bin', 'pnpm.cjs')
    const pnpmApp = path.join(work, 'pnpm-app')
    newApp(pnpmApp, 'pnpm-app')
    const pnpmVersion = sh(process.execPath, [pnpm, '--version'], { cwd: pnpmApp, env })
    check(pnpmVersion.stdout.startsWith(`${PNPM_VERSION}.`), `pnpm ${pnpmVersion.stdout.trim()}`, pnpmVersion.output)
    const pnpmAdd = sh(process.execPath, [pnpm, 'add', BINARY_NAME, '--store-dir', path.join(work, 'pnpm-store')], { cwd: pnpmApp, env })
    check(pnpmAdd.status === 0, `pnpm add digis-redis (${pnpmAdd.seconds.toFixed(1)} s)`, pnpmAdd.output)
    check(!/ignored build scripts/i.test(pnpmAdd.output), 'pnpm ignored no build script', pnpmAdd.output)
    check(
      JSON.stringify(installedPlatformPackages(pnpmApp)) === JSON.stringify([packageName(HOST)]),
      `only ${packageName(HOST)} installed`,
      installedPlatformPackages(pnpmApp).join(', '),
    )
    usesInstalledPackage(pnpmApp, env, [process.execPath, pnpm, 'exec', 'digis-redis'])

    console.log('\n== npm install --omit=optional (no binary package): the fallback')
    const bareApp = path.join(work, 'bare-app')
    newApp(bareApp, 'bare-app')
    const bareInstall = sh('npm', ['install', BINARY_NAME, '--omit=optional', '--no-audit', '--no-fund'], { cwd: bareApp, env })
    check(bareInstall.status === 0 && installedPlatformPackages(bareApp).length === 0, 'installed without a platform package', bareInstall.output)
    const bare = sh(process.execPath, ['check.cjs'], { cwd: bareApp, env })
    const message = bare.stderr || ''
    check(
      bare.status !== 0 &&
        message.includes('ERR_DIGIS_REDIS_NO_BINARY') &&
        message.includes(`(${HOST})`) &&
        PLATFORMS.every((p) => message.includes(p.key)) &&
        message.includes('npx digis-redis build-from-source') &&
        !message.includes('npm has a bug'),
      'require() explains: this platform, the prebuilt list, the build-from-source command',
      message,
    )
    if (values['build-from-source']) {
      // The user's own Rust: rustup's proxies find their toolchains from the real home.
      const rust = {
        PATH: process.env.PATH,
        RUSTUP_HOME: process.env.RUSTUP_HOME || path.join(os.homedir(), '.rustup'),
        CARGO_HOME: process.env.CARGO_HOME || path.join(os.homedir(), '.cargo'),
      }
      const build = sh('npx', ['--no', 'digis-redis', 'build-from-source'], { cwd: bareApp, env: { ...env, ...rust } })
      check(build.status === 0, `npx digis-redis build-from-source (${build.seconds.toFixed(0)} s)`, build.output.slice(-3000))
      const rebuilt = sh(process.execPath, ['check.cjs'], { cwd: bareApp, env })
      const result = parseLastLine(rebuilt.stdout)
      check(rebuilt.status === 0 && result && result.same, 'require() loads the binary built from source', rebuilt.output)
    }

    console.log('\n== install times')
    console.log(`  npm install digis-redis   ${npmInstall.seconds.toFixed(1)} s`)
    console.log(`  pnpm add digis-redis      ${pnpmAdd.seconds.toFixed(1)} s`)
  } finally {
    if (registry) await registry.stop()
    fs.rmSync(work, { recursive: true, force: true })
  }
}

main().then(
  () => {
    if (failures.length) {
      console.error(`\n${failures.length} install check(s) failed: ${failures.join('; ')}`)
      process.exitCode = 1
    } else console.log('\nevery install check passed')
  },
  (err) => {
    console.error(`test:install: ${err.message}`)
    process.exitCode = 1
  },
)
