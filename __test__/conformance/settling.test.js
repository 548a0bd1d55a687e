'use strict'

// Calls that wait on the backend settle through one shared completion queue per Node
// environment (src/completion.rs). These hold on every backend; on the embedded store the
// mget of more than 256 keys takes that path (smaller batches answer on the calling thread).
const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { cache } = require('../..')
const { uniquePrefix, runNode, backendEnv } = require('../helpers')

const ROOT = path.resolve(__dirname, '..', '..')
const P = uniquePrefix('settling')
afterAll(() => cache.delPattern(`${P}*`))

describe('settling calls through the shared completion queue', () => {
  test('thousands of concurrent calls each settle with their own value, hits and misses mixed', async () => {
    const n = 600
    for (let i = 0; i < n; i += 2) await cache.set(`${P}:k${i}`, { i })
    const singles = Array.from({ length: n }, (_, i) => cache.get(`${P}:k${i}`))
    const batch = cache.mget(Array.from({ length: n }, (_, i) => `${P}:k${i}`))
    const got = await Promise.all(singles)
    got.forEach((value, i) => expect(value).toEqual(i % 2 === 0 ? { i } : null))
    const values = await batch
    expect(values).toHaveLength(n)
    values.forEach((value, i) => expect(value).toEqual(i % 2 === 0 ? { i } : null))
  })

  test('a call in flight keeps the process alive; an idle client does not', async () => {
    const script = `
      const { cache } = require(${JSON.stringify(ROOT)})
      const keys = Array.from({ length: 300 }, (_, i) => ${JSON.stringify(P)} + ':alive' + i)
      cache.set(keys[0], 'first').then(() => cache.mget(keys)).then((v) => console.log(JSON.stringify(v[0])))
    `
    const { code, stdout, stderr } = await runNode(script, { env: backendEnv(), timeoutMs: 20000 })
    expect(stderr).not.toMatch(/panic|Error/)
    expect(code).toBe(0)
    expect(stdout.trim()).toBe('"first"')
  })

  test('a worker thread uses the module and is terminated with calls in flight; this thread carries on', async () => {
    const worker = new Worker(
      `
      const { parentPort, workerData } = require('node:worker_threads')
      const { cache } = require(workerData.root)
      const keys = Array.from({ length: 300 }, (_, i) => workerData.prefix + ':w' + i)
      cache.set(keys[0], 'from worker').then(() => cache.mget(keys)).then((v) => {
        parentPort.postMessage(v[0])
        for (;;) cache.mget(keys) && cache.get(keys[0])
      })
      `,
      { eval: true, workerData: { root: ROOT, prefix: P }, env: { ...process.env, ...backendEnv() } },
    )
    const first = await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    expect(first).toBe('from worker')
    await worker.terminate()
    await cache.set(`${P}:after`, 'still here')
    const keys = Array.from({ length: 300 }, (_, i) => `${P}:after${i === 0 ? '' : i}`)
    await expect(cache.mget(keys)).resolves.toEqual(['still here', ...Array(299).fill(null)])
  })
})
