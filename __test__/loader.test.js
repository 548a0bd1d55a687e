'use strict'

// The native loader (binding.js) as users meet it: the installed platform package, a platform
// package of another version, and a platform with no prebuilt binary. Each case runs in a child
// process over a copy of the loader laid out like node_modules.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { PLATFORMS, packageName, binaryFile, hostKey } = require('../lib/platforms')

const ROOT = path.resolve(__dirname, '..')
const HOST = hostKey()
const { version } = require('../package.json')
const localBinary = path.join(ROOT, binaryFile(HOST))

let app
beforeEach(() => {
  app = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-loader-'))
  const pkg = path.join(app, 'node_modules', 'digis-redis')
  fs.mkdirSync(path.join(pkg, 'lib'), { recursive: true })
  for (const file of ['binding.js', 'package.json', 'lib/platforms.js']) fs.copyFileSync(path.join(ROOT, file), path.join(pkg, file))
})
afterEach(() => fs.rmSync(app, { recursive: true, force: true }))

/** Installs a platform package for `key` at `pkgVersion`, with a copy of the local build. */
function installPlatformPackage(key, pkgVersion) {
  const dir = path.join(app, 'node_modules', packageName(key))
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: packageName(key), version: pkgVersion, main: binaryFile(key) }))
  fs.copyFileSync(localBinary, path.join(dir, binaryFile(key)))
}

/** Requires the copied loader in a child; `arch` fakes process.arch before it runs. */
function load(arch) {
  const fake = arch ? `Object.defineProperty(process, 'arch', { value: ${JSON.stringify(arch)} });` : ''
  const script = `${fake}
try {
  const binding = require('digis-redis/binding')
  const from = Object.keys(require.cache).filter((f) => f.endsWith('.node'))
  console.log(JSON.stringify({ ok: typeof binding.NativeClient === 'function', from }))
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code, message: err.message }))
}`
  const env = { ...process.env }
  delete env.DIGIS_REDIS_NATIVE_PATH
  const child = spawnSync(process.execPath, ['-e', script], { cwd: app, env, encoding: 'utf8' })
  return JSON.parse(child.stdout.trim().split('\n').pop())
}

test('an installed platform package of the same version is loaded', () => {
  installPlatformPackage(HOST, version)
  const result = load()
  expect(result.ok).toBe(true)
  expect(result.from).toEqual([path.join(app, 'node_modules', packageName(HOST), binaryFile(HOST))])
})

test('a platform package of another version is refused with a reinstall hint', () => {
  installPlatformPackage(HOST, '0.0.0-old')
  const result = load()
  expect(result.ok).toBe(false)
  expect(result.code).toBe('ERR_DIGIS_REDIS_VERSION_MISMATCH')
  expect(result.message).toContain(`digis-redis ${version} found ${packageName(HOST)} 0.0.0-old (${path.join(app, 'node_modules', packageName(HOST))})`)
  expect(result.message).toContain('then reinstall digis-redis')
})

test('a supported platform without its package names it, the list and the build command', () => {
  const result = load()
  expect(result).toMatchObject({ ok: false, code: 'ERR_DIGIS_REDIS_NO_BINARY' })
  expect(result.message).toContain(`(${HOST})`)
  expect(result.message).toContain(`${packageName(HOST)} is not installed`)
  for (const { key } of PLATFORMS) expect(result.message).toContain(key)
  expect(result.message).toContain('npx digis-redis build-from-source')
  expect(result.message).not.toContain('npm has a bug')
})

test('platform packages of another platform only are named as such (node_modules copied across)', () => {
  const other = PLATFORMS.find((p) => p.key !== HOST)
  installPlatformPackage(other.key, version)
  const result = load()
  expect(result).toMatchObject({ ok: false, code: 'ERR_DIGIS_REDIS_NO_BINARY' })
  expect(result.message).toContain(`${packageName(HOST)} is not installed, but ${packageName(other.key)} is`)
})

test('an installed binary that does not load says which, what this platform needs, and the way out', () => {
  installPlatformPackage(HOST, version)
  fs.writeFileSync(path.join(app, 'node_modules', packageName(HOST), binaryFile(HOST)), 'not a shared object')
  const result = load()
  expect(result).toMatchObject({ ok: false, code: 'ERR_DIGIS_REDIS_BINARY_UNLOADABLE' })
  expect(result.message).toContain(`from ${packageName(HOST)} ${version}`)
  expect(result.message).toContain(`on ${HOST}`)
  expect(result.message).toContain('npx digis-redis build-from-source')
})

test('a platform with no prebuilt binary says so, with the list and the build command', () => {
  const result = load('riscv64')
  expect(result).toMatchObject({ ok: false, code: 'ERR_DIGIS_REDIS_NO_BINARY' })
  expect(result.message).toContain(`(${process.platform}-riscv64`)
  expect(result.message).toContain('no prebuilt binary is published for it')
  expect(result.message).toContain(`Prebuilt platforms: ${PLATFORMS.map((p) => p.key).join(', ')}.`)
  expect(result.message).toContain('npx digis-redis build-from-source')
})

test('a local build beside the loader wins over the platform package (a clone)', () => {
  installPlatformPackage(HOST, '0.0.0-old')
  fs.copyFileSync(localBinary, path.join(app, 'node_modules', 'digis-redis', binaryFile(HOST)))
  const result = load()
  expect(result.ok).toBe(true)
  expect(result.from).toEqual([path.join(app, 'node_modules', 'digis-redis', binaryFile(HOST))])
})

test('the loader, the published optionalDependencies and the README list the same platforms', () => {
  const loader = fs.readFileSync(path.join(ROOT, 'binding.js'), 'utf8')
  const cases = [...loader.matchAll(/case '([a-z0-9-]+)':\s+return \[require\('(digis-redis-[a-z0-9-]+)\/package\.json'\), \(\) => require\('(digis-redis-[a-z0-9-]+)'\)\]/g)]
  expect(cases.map((m) => [m[1], m[2], m[3]])).toEqual(PLATFORMS.map((p) => [p.key, packageName(p.key), packageName(p.key)]))
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8')
  const table = [...readme.matchAll(/^\| [^|]+ \| `(digis-redis-[a-z0-9-]+)` \|/gm)].map((m) => m[1])
  expect(table).toEqual(PLATFORMS.map((p) => packageName(p.key)))
})
