#!/usr/bin/env node
'use strict'

// `npm run release:pack [-- --targets linux-x64-gnu,...] [--artifacts <dir>]`
//
// Builds the native addon for every platform in lib/platforms.js that this machine can build
// (cargo-zigbuild: glibc pinned for the gnu targets) and writes into dist/ the tarballs a release
// publishes: one `digis-redis-<platform>-<version>.tgz` per target and the main
// `digis-redis-<version>.tgz`, whose package.json lists them all as optionalDependencies and has
// no build at install. Binaries of the targets built elsewhere (the release workflow's runners)
// are taken from --artifacts when given. Every tarball is checked: exactly the files it must hold,
// the binary's format and architecture, the gnu binaries' newest glibc symbol, its size printed.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { parseArgs } = require('node:util')
const { PLATFORMS, BINARY_NAME, packageName, binaryFile } = require('../lib/platforms')
const { checkBinary } = require('./binary-check')

const ROOT = path.resolve(__dirname, '..')
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'))
const VERSION = manifest.version
// Apart from the contributor's own build (target/<triple>/release), so neither rebuilds the other.
const TARGET_DIR = path.join(ROOT, 'target', 'release-pack')

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options })
  if (result.error) throw result.error
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status}`)
  return result
}

function have(command) {
  const probe = spawnSync(command, ['--version'], { encoding: 'utf8' })
  return !probe.error && probe.status === 0
}

/** Builds one target with cargo-zigbuild; returns the path of its binary. */
function build(platform) {
  // A `.2.17` suffix makes zig link against that glibc's symbol versions.
  const zigTarget = platform.glibc ? `${platform.triple}.${platform.glibc}` : platform.triple
  console.log(`\n== build ${platform.key} (${zigTarget})`)
  const started = Date.now()
  run('cargo', ['zigbuild', '--release', '--locked', '-p', 'digis-redis', '--target', zigTarget], {
    cwd: ROOT,
    env: { ...process.env, CARGO_TARGET_DIR: TARGET_DIR },
  })
  console.log(`   built in ${((Date.now() - started) / 1000).toFixed(0)} s`)
  const file = platform.os === 'darwin' ? 'libdigis_redis.dylib' : platform.os === 'win32' ? 'digis_redis.dll' : 'libdigis_redis.so'
  return path.join(TARGET_DIR, platform.triple, 'release', file)
}

/** The platform package's manifest: only its binary, selected by os/cpu/libc. */
function platformManifest(platform) {
  const out = {
    name: packageName(platform.key),
    version: VERSION,
    description: `${BINARY_NAME}'s native addon for ${platform.key}`,
    main: binaryFile(platform.key),
    files: [binaryFile(platform.key)],
    license: manifest.license,
    engines: manifest.engines,
    os: [platform.os],
    cpu: [platform.cpu],
  }
  if (platform.libc) out.libc = [platform.libc]
  return out
}

/** The main package's manifest as published: platform packages optional, nothing to build. */
function publishedManifest() {
  const out = { ...manifest }
  delete out.scripts
  delete out.devDependencies
  delete out.napi
  out.optionalDependencies = Object.fromEntries(PLATFORMS.map((p) => [packageName(p.key), VERSION]))
  return out
}

/** `npm pack` of a staged directory into dist/; returns the tarball's path. */
function pack(dir, dist) {
  const result = spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dist], {
    cwd: dir,
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`npm pack in ${dir} failed:\n${result.stderr}`)
  const [info] = JSON.parse(result.stdout)
  return { file: path.join(dist, info.filename), files: info.files.map((f) => f.path).sort(), size: info.size, unpacked: info.unpackedSize }
}

/** The files npm would publish from the repository (its `files` list), as npm computes them. */
function repositoryFiles() {
  const result = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`npm pack --dry-run failed:\n${result.stderr}`)
  return JSON.parse(result.stdout)[0].files.map((f) => f.path)
}

function assertSameFiles(label, actual, expected) {
  const want = [...expected].sort()
  const extra = actual.filter((f) => !want.includes(f))
  const missing = want.filter((f) => !actual.includes(f))
  if (extra.length || missing.length) {
    throw new Error(`${label}: unexpected files ${JSON.stringify(extra)}, missing ${JSON.stringify(missing)}`)
  }
}

/** Nothing built, secret or untracked: every file of the main package is one git knows. */
function checkMainFiles(files) {
  const forbidden = files.filter((f) => /\.node$|(^|\/)\.env|^target\/|^__test__\/|^node_modules\/|^dist\//.test(f))
  if (forbidden.length) throw new Error(`main package holds files it must not: ${forbidden.join(', ')}`)
  const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  if (tracked.status !== 0) return
  const known = new Set(tracked.stdout.split('\0'))
  const untracked = files.filter((f) => !known.has(f))
  if (untracked.length) throw new Error(`main package would publish files git does not track: ${untracked.join(', ')}`)
}

/** The commit packed, and whether the working tree differed from it. */
function sourceRevision() {
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' })
  const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' })
  return { commit: head.status === 0 ? head.stdout.trim() : null, dirty: status.status !== 0 || status.stdout.trim() !== '' }
}

const kib = (n) => `${(n / 1024).toFixed(0)} KiB`

function main() {
  const { values } = parseArgs({
    options: {
      targets: { type: 'string' },
      artifacts: { type: 'string' },
      out: { type: 'string', default: path.join(ROOT, 'dist') },
    },
  })
  const wanted = values.targets ? values.targets.split(',').map((t) => t.trim()) : PLATFORMS.map((p) => p.key)
  const unknown = wanted.filter((key) => !PLATFORMS.some((p) => p.key === key))
  if (unknown.length) throw new Error(`unknown target ${unknown.join(', ')}; known: ${PLATFORMS.map((p) => p.key).join(', ')}`)
  if (!have('cargo-zigbuild') || !have('python3') && !have('zig')) {
    throw new Error('release:pack needs zig and cargo-zigbuild: pip install ziglang cargo-zigbuild')
  }

  const dist = path.resolve(values.out)
  fs.rmSync(dist, { recursive: true, force: true })
  fs.mkdirSync(dist, { recursive: true })
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-release-'))
  const rows = []
  const notBuilt = []
  const packed = []
  try {
    for (const platform of PLATFORMS.filter((p) => wanted.includes(p.key))) {
      let binary
      const artifact = values.artifacts && path.join(values.artifacts, binaryFile(platform.key))
      if (artifact && fs.existsSync(artifact)) binary = artifact
      else if (platform.builtHere) binary = build(platform)
      else {
        notBuilt.push(platform.key)
        continue
      }
      const detail = checkBinary(binary, platform)
      const dir = path.join(stage, platform.key)
      fs.mkdirSync(dir)
      fs.copyFileSync(binary, path.join(dir, binaryFile(platform.key)))
      fs.writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify(platformManifest(platform), null, 2)}\n`)
      fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(dir, 'LICENSE'))
      const tarball = pack(dir, dist)
      assertSameFiles(packageName(platform.key), tarball.files, ['package.json', 'LICENSE', binaryFile(platform.key)])
      packed.push(platform.key)
      rows.push([path.basename(tarball.file), tarball.size, tarball.unpacked, detail])
    }

    const mainDir = path.join(stage, 'main')
    const files = repositoryFiles().filter((f) => f !== 'package.json')
    checkMainFiles(files)
    for (const file of files) {
      fs.mkdirSync(path.dirname(path.join(mainDir, file)), { recursive: true })
      fs.copyFileSync(path.join(ROOT, file), path.join(mainDir, file))
    }
    const published = publishedManifest()
    fs.writeFileSync(path.join(mainDir, 'package.json'), `${JSON.stringify(published, null, 2)}\n`)
    const tarball = pack(mainDir, dist)
    assertSameFiles(BINARY_NAME, tarball.files, [...files, 'package.json'])
    rows.push([path.basename(tarball.file), tarball.size, tarball.unpacked, `${Object.keys(published.optionalDependencies).length} optionalDependencies, no install script`])
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }

  // What the publish step checks: a release needs every platform, from one clean commit.
  const missing = PLATFORMS.map((p) => p.key).filter((key) => !packed.includes(key))
  const release = { version: VERSION, ...sourceRevision(), packed, missing }
  release.publishable = missing.length === 0 && !release.dirty && release.commit !== null
  fs.writeFileSync(path.join(dist, 'release.json'), `${JSON.stringify(release, null, 2)}\n`)

  console.log(`\n== dist/ (${dist})`)
  for (const [name, size, unpacked, detail] of rows) {
    console.log(`  ${name.padEnd(40)} ${kib(size).padStart(9)} packed ${kib(unpacked).padStart(9)} unpacked  ${detail}`)
  }
  if (notBuilt.length) {
    console.log(`\nNot built here (the release workflow builds them on their own runners): ${notBuilt.join(', ')}`)
  }
  console.log(
    release.publishable
      ? `\nPublishable: every platform, commit ${release.commit}.`
      : `\nNOT publishable (dist/release.json): ${[missing.length && `missing ${missing.join(', ')}`, release.dirty && 'uncommitted changes'].filter(Boolean).join('; ')}. ` +
          'The main package lists every platform; publishing it without them breaks npm ci for those users.',
  )
}

if (require.main === module) {
  try {
    main()
  } catch (err) {
    console.error(`release:pack: ${err.message}`)
    process.exitCode = 1
  }
}

module.exports = { platformManifest }
