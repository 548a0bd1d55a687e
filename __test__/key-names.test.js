'use strict'

// Key names are built in crates/core/src/keys.rs: the JS layer gets every name from the binding
// and only joins an express store's caller-chosen prefix and id (`recordKey`, a layout the store
// suites pin). These tests pin the names the binding gives to those first stored, and fail
// when lib/ or index.js spells a key itself.

const fs = require('node:fs')
const path = require('node:path')
const binding = require('../binding')
const { ROOT } = require('./helpers')

describe('the binding names keys as they were first stored', () => {
  test('fixed names and default prefixes', () => {
    expect(JSON.parse(binding.keyNamesJson())).toEqual({
      ANALYTICS_TOTALS: 'analytics:totals',
      SESSION_STORE_PREFIX: 'session:',
      RATE_LIMIT_STORE_PREFIX: 'rl:',
    })
    expect(binding.responseKey('GET:/a?b=1')).toBe('response:GET:/a?b=1')
    expect(binding.responseTagKey('users')).toBe('response-tag:users')
    expect(binding.lockFenceKey('jobs')).toBe('{lock:jobs}:fence')
  })

  test('popularity keys print their numbers as JavaScript does', () => {
    // The names the JS layer wrote: `popularity:creators:${halfLifeSeconds}:${epoch}`, over the
    // settings' range (0.01 to 2592000 s) and the epochs of any date.
    const halfLives = [0.01, 0.1, 0.2, 0.3, 1.5, 2.675, 60, 3600, 86400.25, 2592000, 1 / 3]
    for (const halfLife of halfLives) {
      for (const now of [0, Date.now(), 4102444800000]) {
        const epoch = Math.floor(now / (halfLife * 1000 * 16))
        for (const e of [epoch, epoch - 1]) {
          expect(binding.creatorPopularityKey(halfLife, e)).toBe(`popularity:creators:${halfLife}:${e}`)
        }
      }
    }
  })

  test('a prefix pattern escapes glob characters', () => {
    expect(binding.prefixPattern('session:')).toBe('session:*')
    expect(binding.prefixPattern('a*b?[c]\\d')).toBe('a\\*b\\?\\[c\\]\\\\d*')
  })
})

/** The string literals of JavaScript source (template literals whole), comments left out. */
function stringLiterals(source) {
  const literals = []
  let i = 0
  // Whether a `/` here starts a regular expression (after an operator) rather than dividing.
  let regexAllowed = true
  while (i < source.length) {
    const c = source[i]
    if (c === '/' && source[i + 1] === '/') {
      i = source.indexOf('\n', i)
      if (i === -1) break
    } else if (c === '/' && source[i + 1] === '*') {
      i = source.indexOf('*/', i + 2) + 2
    } else if (c === "'" || c === '"' || c === '`' || (c === '/' && regexAllowed)) {
      let j = i + 1
      let inClass = false
      while (j < source.length && (source[j] !== c || inClass)) {
        if (source[j] === '\\') j++
        else if (c === '/' && source[j] === '[') inClass = true
        else if (c === '/' && source[j] === ']') inClass = false
        j++
      }
      if (c !== '/') literals.push(source.slice(i + 1, j))
      i = j + 1
      regexAllowed = false
    } else {
      if (!/\s/.test(c)) regexAllowed = /[(,=:[!&|?{};+\-*%<>~^]/.test(c) || /\b(?:return|typeof|case|of|in)$/.test(source.slice(Math.max(0, i - 6), i + 1))
      i++
    }
  }
  return literals
}

/** The key families keys.rs spells (`user`, `rl`, `response-tag`, …) and its companion suffixes. */
function keyFormats() {
  const rust = fs.readFileSync(path.join(ROOT, 'crates/core/src/keys.rs'), 'utf8').split('#[cfg(test)]')[0]
  const rustStrings = [...rust.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1])
  const families = new Set(rustStrings.map((s) => /^([a-z][a-z-]*):/.exec(s)?.[1]).filter(Boolean))
  const suffixes = new Set([...rust.matchAll(/companion\([^,]+,\s*"([^"]+)"\)/g)].map((m) => m[1]))
  return { families: [...families], suffixes: [...suffixes] }
}

/** The literals of `source` that spell a key: a family's `name:` (not inside a longer word), or `}:suffix`. */
function keySpellings(source, { families, suffixes }) {
  const family = new RegExp(`(?:^|[^A-Za-z0-9_-])(?:${families.join('|')}):`)
  const companion = new RegExp(`\\}:(?:${suffixes.join('|')})\\b`)
  return stringLiterals(source).filter((text) => family.test(text) || companion.test(text))
}

describe('the JS layer spells no key', () => {
  const formats = keyFormats()

  test('the formats come from keys.rs', () => {
    expect(formats.families).toEqual(expect.arrayContaining(['user', 'session', 'token', 'creator', 'stream', 'rate', 'otp', 'lock', 'idempotency', 'analytics', 'popularity', 'response', 'response-tag', 'rl']))
    expect(formats.suffixes).toEqual(expect.arrayContaining(['fence', 'tries', 'tb', 'sw', 'fresh', 'loading', 'viewers', 'status']))
  })

  test('spellings are found in code and not in comments or longer words', () => {
    const code = [
      "const a = 'analytics:totals'",
      'const b = `${prefix}rl:${id}`',
      'const c = `{lock:${name}}:fence`',
      'const d = "{" + key + "}:loading"',
      "const e = x / 2 + 'session:'",
      "const f = /['`]/.test(y) ? 'user:' : null",
    ].join('\n')
    expect(keySpellings(code, formats)).toEqual(['analytics:totals', '${prefix}rl:${id}', '{lock:${name}}:fence', '}:loading', 'session:', 'user:'])
    const harmless = [
      "// 'session:' in a comment",
      "/* 'rate:' */ const message = 'generate: token-bucket'",
      'const p = `${run}-rl:`',
      "const n = 'sessions:'",
    ].join('\n')
    expect(keySpellings(harmless, formats)).toEqual([])
  })

  test('lib/ and index.js hold no key names', () => {
    const files = ['index.js', ...fs.readdirSync(path.join(ROOT, 'lib')).filter((f) => f.endsWith('.js')).map((f) => `lib/${f}`)]
    const found = files.flatMap((file) => keySpellings(fs.readFileSync(path.join(ROOT, file), 'utf8'), formats).map((text) => `${file}: ${text}`))
    expect(found).toEqual([])
  })
})
