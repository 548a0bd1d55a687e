'use strict'

const { guarded, trueWhenDone, inBackground } = require('./public-call')
const { toKey, toPositiveInteger, describe } = require('./codec')
const { invalidArgument } = require('./errors')

/**
 * Headers replayed on a hit. Anything else (Set-Cookie above all, Date, Connection, framing)
 * belongs to one answer, not to the resource.
 */
const DEFAULT_HEADERS = ['content-type', 'content-encoding', 'content-language', 'content-disposition', 'cache-control', 'etag', 'last-modified', 'vary']
const DEFAULT_MAX_BYTES = 1024 * 1024

// `private` and `no-store` forbid a shared cache; `no-cache` forbids answering without revalidation,
// which this cache cannot do, so it is not stored either.
const UNCACHEABLE_DIRECTIVE = /(?:^|[\s,])(?:private|no-store|no-cache)(?:$|[\s,=])/i

/** Whether a finished response may be stored. */
function cacheable(res) {
  const { statusCode: status } = res
  const header = (name) => [res.getHeader(name) ?? ''].flat().join(',')
  // 206 answers one range of the resource, not the resource.
  if (status < 200 || status > 299 || status === 206 || res.getHeader('set-cookie') !== undefined) return false
  return !UNCACHEABLE_DIRECTIVE.test(header('cache-control')) && !/(?:^|,)\s*\*\s*(?:$|,)/.test(header('vary'))
}

/**
 * Wraps `res.write` / `res.end` to keep a copy of the body (up to `maxBytes`, past which the
 * response is simply not stored); `onEnd(body)` runs once, after the answer went out.
 */
function captureBody(res, maxBytes, onEnd) {
  const chunks = []
  let size = 0
  let overflow = false
  let ended = false
  const collect = (chunk, encoding) => {
    if (overflow || chunk === undefined || chunk === null || typeof chunk === 'function') return
    const buf =
      typeof chunk === 'string'
        ? Buffer.from(chunk, typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8')
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    size += buf.length
    if (size > maxBytes) {
      overflow = true
      chunks.length = 0
    } else {
      chunks.push(buf)
    }
  }
  const { write, end } = res
  res.write = function (chunk, encoding, callback) {
    collect(chunk, encoding)
    return write.call(this, chunk, encoding, callback)
  }
  res.end = function (chunk, encoding, callback) {
    if (ended) return end.call(this, chunk, encoding, callback)
    ended = true
    collect(chunk, encoding)
    const result = end.call(this, chunk, encoding, callback)
    // Copied before the caller can reuse its buffers; the status and headers are final now.
    if (!overflow) onEnd(Buffer.concat(chunks, size))
    return result
  }
}

function createResponseCache(native, TTL) {
  /**
   * Deletes every response cached under `tag`, in one call (features/response_cache.rs).
   * Resolves with the number of responses removed; 0 on failure.
   */
  const invalidateTag = (tag) => guarded('cache.invalidateTag', 0, () => native.responseInvalidateTag(toKey(tag, 'tag')))

  /**
   * Express middleware caching successful GET answers: status, allow-listed headers and body
   * under `response:<key>` for `ttl` seconds. Hits answer `X-Cache: HIT` (with `Age`) without
   * running the route; misses add `X-Cache: MISS`. A backend failure is a miss, never an error.
   * Bad options throw at setup.
   */
  function cacheResponse(options = {}) {
    const { ttl = TTL.SHORT, key, tags = [], headers = DEFAULT_HEADERS, maxBytes = DEFAULT_MAX_BYTES } = options ?? {}
    const seconds = toPositiveInteger(ttl, 'ttl')
    if (key !== undefined && typeof key !== 'function') throw invalidArgument('key must be a function (req) => string')
    if (typeof tags !== 'function' && !(Array.isArray(tags) && tags.every((t) => typeof t === 'string' && t.length > 0))) {
      throw invalidArgument('tags must be an array of non-empty strings or a function (req, res) => string[]')
    }
    if (!Array.isArray(headers) || !headers.every((h) => typeof h === 'string')) throw invalidArgument('headers must be an array of header names')
    const kept = headers.map((h) => h.toLowerCase())
    const byteLimit = toPositiveInteger(maxBytes, 'maxBytes')

    const remember = async (req, res, name, body) => {
      if (!cacheable(res)) return
      const list = (typeof tags === 'function' ? await tags(req, res) : tags) ?? []
      if (!Array.isArray(list)) throw invalidArgument(`tags(req, res) must return an array, got ${describe(list)}`)
      const stored = {}
      for (const name of kept) {
        const value = res.getHeader(name)
        if (value !== undefined) stored[name] = value
      }
      const tagKeys = list.map((t) => toKey(t, 'tag'))
      // The answer with its TTL and its tag entries, in one call; the record format is the core's.
      await trueWhenDone('responses.set', () => native.responseStore(name, { status: res.statusCode, headersJson: JSON.stringify(stored), body }, seconds, tagKeys))
    }

    return async function digisCacheResponse(req, res, next) {
      // Only GET; and without a key function, never a request carrying credentials: the default
      // key (method + URL) would hand one caller's answer to another (RFC 9111 §3.5).
      if (req.method !== 'GET' || (key === undefined && req.headers.authorization !== undefined)) return next()
      let name
      try {
        name = key ? await key(req) : `${req.method}:${req.originalUrl ?? req.url}`
        // A key function may opt a request out by answering null or undefined.
        if (name === null || name === undefined) return next()
        name = toKey(name, 'key')
      } catch (err) {
        return next(err)
      }
      let record
      try {
        record = await guarded('responses.get', null, () => native.responseLookup(name))
      } catch (err) {
        // Strict mode only: the failure goes to Express's error handling, as with rateLimiter.
        return next(err)
      }
      if (record !== null && !res.headersSent) return replay(res, record)
      res.setHeader('X-Cache', 'MISS')
      captureBody(res, byteLimit, (body) => {
        inBackground('responses.set', remember(req, res, name, body))
      })
      next()
    }
  }

  return { cacheResponse, invalidateTag }
}

function replay(res, { status, headersJson, body, storedAt }) {
  const headers = JSON.parse(headersJson)
  res.statusCode = status
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value)
  res.setHeader('X-Cache', 'HIT')
  res.setHeader('Age', String(Math.max(0, Math.floor((Date.now() - storedAt) / 1000))))
  // Express's send() answers conditional requests (304) as the route itself would have.
  if (typeof res.send === 'function' && headers['content-type'] !== undefined) return res.send(body)
  res.setHeader('Content-Length', String(body.length))
  res.end(body)
}

module.exports = { createResponseCache, DEFAULT_HEADERS }
