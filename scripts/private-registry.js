'use strict'

// A private npm registry on 127.0.0.1 for the install test: verdaccio in a temporary directory,
// serving digis-redis and its platform packages from its own storage only (never the public
// copies, if any) and proxying the configured registry for everything else.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { freePort } = require('../__test__/helpers')

const VERDACCIO_VERSION = '6.8.0'

/** Installs verdaccio (and the given extra tools) into `dir` from the configured registry. */
function installTools(dir, extra = {}) {
  fs.mkdirSync(dir, { recursive: true })
  const manifest = {
    name: 'digis-redis-install-test-tools',
    private: true,
    dependencies: { verdaccio: VERDACCIO_VERSION, ...extra },
    // verdaccio 6.8.0 runs on Node 20 with node-fetch 2.
    overrides: { 'node-fetch': '2.7.0' },
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
  const result = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
    cwd: dir,
    stdio: 'inherit',
  })
  if (result.status !== 0) throw new Error('installing verdaccio failed')
}

function configuredRegistry() {
  const result = spawnSync('npm', ['config', 'get', 'registry'], { encoding: 'utf8' })
  return (result.stdout || '').trim() || 'https://registry.npmjs.org/'
}

async function waitUntilUp(url, child, deadlineMs) {
  const until = Date.now() + deadlineMs
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`verdaccio exited with ${child.exitCode}`)
    try {
      const response = await fetch(`${url}-/ping`)
      if (response.ok) return
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`verdaccio did not answer at ${url}`)
}

/**
 * Starts verdaccio from `toolsDir` with its storage under `workDir`; resolves with
 * { url, npmrc, stop() }, where npmrc is a user config file that points at the registry and holds
 * a publish token.
 */
async function startRegistry(toolsDir, workDir, packagePatterns) {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/`
  const local = packagePatterns.map((pattern) => `  '${pattern}':\n    access: $all\n    publish: $authenticated\n`).join('')
  const config = [
    `storage: ${JSON.stringify(path.join(workDir, 'storage'))}`,
    'auth:',
    '  htpasswd:',
    `    file: ${JSON.stringify(path.join(workDir, 'htpasswd'))}`,
    'uplinks:',
    '  upstream:',
    `    url: ${JSON.stringify(configuredRegistry())}`,
    '    timeout: 60s',
    'packages:',
    local.trimEnd(),
    "  '**':",
    '    access: $all',
    '    proxy: upstream',
    'log: { type: stdout, format: pretty, level: error }',
    '',
  ].join('\n')
  const configFile = path.join(workDir, 'verdaccio.yaml')
  fs.writeFileSync(configFile, config)
  const bin = path.join(toolsDir, 'node_modules', 'verdaccio', 'bin', 'verdaccio')
  const child = spawn(process.execPath, [bin, '--config', configFile, '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  })
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', resolve)
      child.kill('SIGTERM')
    })
  try {
    await waitUntilUp(url, child, 30000)
    const response = await fetch(`${url}-/user/org.couchdb.user:ci`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci', password: `ci-${process.pid}-${Date.now()}` }),
    })
    const { token } = await response.json()
    if (!token) throw new Error(`verdaccio gave no token (${response.status})`)
    const npmrc = path.join(workDir, 'npmrc')
    fs.writeFileSync(npmrc, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`)
    return { url, npmrc, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

module.exports = { installTools, startRegistry }
