'use strict'

module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/__test__/**/*.test.js'],
  // Loading the addon prints the embedded-store warning once per test file; keep it quiet.
  setupFiles: ['<rootDir>/__test__/setup.js'],
  testTimeout: 20000,
}
