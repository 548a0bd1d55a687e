'use strict'

// Checks a built addon before it is packed: the object format and CPU its platform needs, on Linux
// the libc it links (the newest glibc symbol version within the promised floor; musl, not glibc)
// and no static TLS, and, for the platform this machine runs, that Node loads it and sees the
// binding's exports.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { hostKey } = require('../lib/platforms')

const ELF_MACHINE = { x64: 0x3e, arm64: 0xb7 }
const MACHO_CPU = { x64: 0x01000007, arm64: 0x0100000c }
const PE_MACHINE = { x64: 0x8664, arm64: 0xaa64 }

/** "ELF x64", "Mach-O arm64", "PE x64", from the file's header. */
function objectFormat(buffer) {
  if (buffer.readUInt32BE(0) === 0x7f454c46) {
    const machine = buffer.readUInt16LE(18)
    return `ELF ${Object.keys(ELF_MACHINE).find((cpu) => ELF_MACHINE[cpu] === machine) || machine}`
  }
  if (buffer.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buffer.readUInt32LE(4)
    return `Mach-O ${Object.keys(MACHO_CPU).find((name) => MACHO_CPU[name] === cpu) || cpu}`
  }
  if (buffer.toString('latin1', 0, 2) === 'MZ') {
    const pe = buffer.readUInt32LE(0x3c)
    const machine = buffer.readUInt16LE(pe + 4)
    return `PE ${Object.keys(PE_MACHINE).find((cpu) => PE_MACHINE[cpu] === machine) || machine}`
  }
  return 'unknown'
}

/** 2.3.4 → 2003004, 2.17 → 2017000: comparable whatever the number of parts. */
const versionKey = (v) => [...v.split('.').map(Number), 0, 0].slice(0, 3).reduce((acc, n) => acc * 1000 + n, 0)

function readelf(args, file) {
  const result = spawnSync('readelf', [...args, file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  if (result.error || result.status !== 0) throw new Error(`readelf ${args.join(' ')} ${file} failed: ${result.stderr || result.error}`)
  return result.stdout
}

/**
 * The libc a Linux binary links: its needed libraries and the newest GLIBC_x.y it references; and
 * whether it needs static TLS (DF_STATIC_TLS: initial-exec thread-locals, which a dlopen()ed
 * addon may fail to load with once the loader's spare static TLS is used up).
 */
function linuxLibc(file) {
  const dynamic = readelf(['-d', '-W'], file)
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
  const staticTls = /\(FLAGS\)\s+.*\bSTATIC_TLS\b/.test(dynamic)
  const versions = [...new Set([...readelf(['--dyn-syms', '-W'], file).matchAll(/@GLIBC_(\d+(?:\.\d+)+)/g)].map((m) => m[1]))]
  versions.sort((a, b) => versionKey(a) - versionKey(b))
  return { needed, newestGlibc: versions[versions.length - 1], staticTls }
}

/**
 * Where musl-gcc is at hand (Debian's musl-tools) and the CPU matches: dlopen()s a musl binary
 * with musl's own dynamic linker, from a small C program that stands in for Node's napi_*
 * exports, and finds its module entry point. No musl Node.js is needed; undefined is "not tried".
 */
function loadsUnderMusl(file, platform) {
  if (platform.cpu !== process.arch || spawnSync('musl-gcc', ['--version']).status !== 0) return undefined
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'digis-redis-musl-'))
  try {
    const undefinedSymbols = [...readelf(['--dyn-syms', '-W'], file).matchAll(/\sUND\s+((?:napi|node_api|uv)_\w+)/g)].map((m) => m[1])
    const stubs = [...new Set(undefinedSymbols)].map((name) => `int ${name}(void) { return 0; }`).join('\n')
    fs.writeFileSync(
      path.join(dir, 'harness.c'),
      `#include <dlfcn.h>
#include <stdio.h>
${stubs}
int main(int argc, char **argv) {
  void *handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!handle) { fprintf(stderr, "%s\\n", dlerror()); return 1; }
  if (!dlsym(handle, "napi_register_module_v1")) { fprintf(stderr, "no napi_register_module_v1\\n"); return 2; }
  return 0;
}
`,
    )
    const compile = spawnSync('musl-gcc', ['-rdynamic', '-o', path.join(dir, 'harness'), path.join(dir, 'harness.c'), '-ldl'], { encoding: 'utf8' })
    if (compile.status !== 0) throw new Error(`musl-gcc failed: ${compile.stderr}`)
    const run = spawnSync(path.join(dir, 'harness'), [file], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`${platform.key}: musl's dynamic linker could not load ${file}: ${run.stderr}`)
    return true
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** Throws when the binary does not fit the platform; returns a one-line description. */
function checkBinary(file, platform) {
  const buffer = fs.readFileSync(file)
  const format = objectFormat(buffer)
  const expected = { linux: 'ELF', darwin: 'Mach-O', win32: 'PE' }[platform.os]
  if (format !== `${expected} ${platform.cpu}`) {
    throw new Error(`${platform.key}: ${file} is ${format}, expected ${expected} ${platform.cpu}`)
  }
  let detail = format
  if (platform.os === 'linux') {
    const { needed, newestGlibc, staticTls } = linuxLibc(file)
    if (staticTls) throw new Error(`${platform.key}: ${file} needs static TLS (initial-exec thread-locals): dlopen() may refuse it`)
    if (platform.libc === 'glibc') {
      if (!newestGlibc || versionKey(newestGlibc) > versionKey(platform.glibc)) {
        throw new Error(`${platform.key}: needs glibc ${newestGlibc}, above the promised ${platform.glibc}`)
      }
      detail += `, needs glibc >= ${newestGlibc}`
    } else {
      if (newestGlibc || needed.includes('libc.so.6')) {
        throw new Error(`${platform.key}: links glibc (${needed.join(', ')}), not musl`)
      }
      detail += `, musl (${needed.join(', ') || 'static'})`
      if (loadsUnderMusl(file, platform)) detail += ', loads under musl'
    }
  }
  if (platform.key === hostKey()) {
    const probe = spawnSync(process.execPath, ['-e', 'const m = { exports: {} }; process.dlopen(m, process.argv[1]); if (typeof m.exports.NativeClient !== "function") process.exit(3)', file], { encoding: 'utf8' })
    if (probe.status !== 0) throw new Error(`${platform.key}: Node could not load ${file}: ${probe.stderr}`)
    detail += ', loads in this Node'
  }
  return detail
}

module.exports = { checkBinary, objectFormat }
