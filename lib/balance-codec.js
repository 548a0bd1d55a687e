'use strict'

const { invalidArgument } = require('./errors')
const { describe } = require('./codec')

const DECIMAL = /^-?\d+(\.\d+)?$/

/**
 * Token balances round-trip exactly: numbers as their text, BigInts as their digits, decimal
 * strings as JSON strings (so '12.50' keeps its zero and stays a string). All three are JSON,
 * so `cache.get('token:<id>')` still reads them.
 */
function encodeBalance(balance) {
  if (typeof balance === 'bigint') return balance.toString()
  if (typeof balance === 'number' && Number.isFinite(balance)) return String(balance)
  if (typeof balance === 'string' && DECIMAL.test(balance)) return JSON.stringify(balance)
  throw invalidArgument(`balance must be a finite number, a BigInt or a decimal string, got ${describe(balance)}`)
}

/** Integers beyond 2^53 come back as BigInt, so no digit is lost. */
function decodeBalance(text) {
  if (text === null || text === undefined) return null
  if (text.startsWith('"')) {
    try {
      return JSON.parse(text)
    } catch {
      return text
    }
  }
  if (/^-?\d+$/.test(text)) {
    const n = Number(text)
    return Number.isSafeInteger(n) ? n : BigInt(text)
  }
  const n = Number(text)
  return text.trim() !== '' && Number.isFinite(n) ? n : text
}

module.exports = { encodeBalance, decodeBalance }
