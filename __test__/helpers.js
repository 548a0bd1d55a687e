'use strict'

const crypto = require('node:crypto')

/** A prefix no other test file (or earlier run) uses, so tests can share one server. */
function uniquePrefix(label) {
  return `t:${label}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`
}

/** Collects what the module logs, via configure({ logger }); `restore()` puts console back. */
function captureLogs(mod) {
  const errors = []
  const warnings = []
  mod.configure({
    logger: {
      error: (message) => errors.push(message),
      warn: (message) => warnings.push(message),
    },
  })
  return {
    errors,
    warnings,
    clear() {
      errors.length = 0
      warnings.length = 0
    },
    restore() {
      mod.configure({ logger: console, strict: false })
    },
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

module.exports = { uniquePrefix, captureLogs, sleep }

/**
 * The exact text stored under `key`. The raw client JSON-parses replies (as @upstash/redis
 * does), so append a suffix no JSON text can end with, read, strip it, and put the text back.
 */
async function storedText(redis, key) {
  await redis.append(key, '~')
  const text = String(await redis.get(key)).slice(0, -1)
  await redis.set(key, text, { keepTtl: true })
  return text
}

/** A fresh numeric id, for checking that number and string ids address the same key. */
function uniqueNumber() {
  return Number(`${Date.now() % 1e9}${Math.floor(Math.random() * 1e5)}`)
}

module.exports.storedText = storedText
module.exports.uniqueNumber = uniqueNumber
