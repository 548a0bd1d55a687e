'use strict'

// The package by name, as an application loads it: `import` from an ES module and `require` from
// CommonJS, in child processes (self-reference: the working directory is inside the package).
const { spawnSync } = require('node:child_process')
const { ROOT } = require('./helpers')

const BACKEND_VARIABLES = ['UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'KV_REST_API_URL', 'KV_REST_API_TOKEN', 'REDIS_URL']

/** Runs `source` (an ES module when `esm`) on the embedded store; its last stdout line as JSON. */
function run(source, { esm = false } = {}) {
  const env = { ...process.env }
  for (const name of BACKEND_VARIABLES) delete env[name]
  const args = esm ? ['--input-type=module', '-e', source] : ['-e', source]
  const r = spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 15000 })
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

test("import { cache, TTL } from 'digis-redis' works, with every export by name and the object as default", () => {
  const out = run(
    `
    import { cache, TTL } from 'digis-redis'
    import digisRedis from 'digis-redis'
    import * as namespace from 'digis-redis'
    import { createRequire } from 'node:module'
    const required = createRequire(import.meta.url)('digis-redis')
    await cache.set('esm-key', { a: 1 }, 60)
    console.log(JSON.stringify({
      ttl: TTL,
      value: await required.cache.get('esm-key'),
      sameObject: digisRedis === required,
      named: Object.keys(namespace).filter((n) => n !== 'default').sort(),
      requiredKeys: Object.keys(required).sort(),
      sameFunctions: Object.keys(required).every((n) => namespace[n] === required[n]),
    }))
    `,
    { esm: true },
  )
  expect(out.ttl).toEqual({ SHORT: 300, MEDIUM: 1800, LONG: 3600, DAY: 86400, WEEK: 604800 })
  // One module instance whichever way it is loaded: one backend, one store.
  expect(out.value).toEqual({ a: 1 })
  expect(out.sameObject).toBe(true)
  // index.mjs names every CommonJS export (an export added to index.js must be added there too).
  expect(out.named).toEqual(out.requiredKeys)
  expect(out.sameFunctions).toBe(true)
})

test("require('digis-redis') from CommonJS, and the subpaths the exports map allows", () => {
  const out = run(`
    const r = require('digis-redis')
    const binding = require('digis-redis/binding')
    const pkg = require('digis-redis/package.json')
    let deep
    try { require('digis-redis/lib/codec') } catch (err) { deep = err.code }
    console.log(JSON.stringify({
      cache: typeof r.cache.get,
      noDefault: !('default' in r),
      binding: typeof binding.NativeClient,
      bin: pkg.bin['digis-redis'],
      deep,
    }))
  `)
  expect(out).toEqual({ cache: 'function', noDefault: true, binding: 'function', bin: 'bin/digis-redis.js', deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
})
