'use strict'

const { execFile } = require('node:child_process')
const path = require('node:path')

const SCRIPT = path.join(__dirname, '..', 'examples', 'testRedis.js')

test('examples/testRedis.js passes every check on the selected backend', async () => {
  // Inherits process.env: the script runs against whatever backend the environment selects.
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(process.execPath, [SCRIPT], { env: process.env, timeout: 30000 }, (err, out, errOut) =>
      resolve({ code: err ? (err.code ?? err.signal) : 0, stdout: out, stderr: errOut }),
    )
  })
  const context = `${stdout}\n${stderr}`

  expect({ code, context }).toEqual({ code: 0, context })
  expect(stdout).toContain('✅ OTP stored and verified: true')
  expect(stdout).not.toContain('❌')
  const lines = stdout.trim().split('\n')
  const match = /^All (\d+) checks passed$/.exec(lines[lines.length - 1])
  expect(match).not.toBeNull()
  expect(Number(match[1])).toBeGreaterThanOrEqual(10)
  // One line per check, all of them passing.
  expect(lines.filter((line) => line.startsWith('✅ '))).toHaveLength(Number(match[1]))
}, 40000)
