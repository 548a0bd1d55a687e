'use strict'

const mod = require('../..')
const { otp, redis, TTL } = mod
const { uniquePrefix, storedText } = require('../helpers')

const P = uniquePrefix('otp')
const created = []
const id = (name) => {
  const value = `${P}-${name}@example.com`
  created.push(value)
  return value
}
afterAll(async () => {
  for (const value of created) await redis.del(`otp:${value}`, `{otp:${value}}:tries`, `otp:${value}:tries`)
})

describe('otp', () => {
  test('store keeps the code raw under otp:<identifier> with TTL.SHORT by default', async () => {
    const who = id('store')
    await expect(otp.store(who, '123456')).resolves.toBe(true)
    expect(await storedText(redis, `otp:${who}`)).toBe('123456')
    const ttl = await redis.ttl(`otp:${who}`)
    expect(ttl).toBeGreaterThan(TTL.SHORT - 5)
    expect(ttl).toBeLessThanOrEqual(TTL.SHORT)
  })

  test('verify with the right numeric-looking code as a string is true, and consumes it (fix 1)', async () => {
    const who = id('verify')
    await otp.store(who, '123456')
    await expect(otp.get(who)).resolves.toBe('123456')
    await expect(otp.verify(who, '123456')).resolves.toBe(true)
    await expect(otp.get(who)).resolves.toBeNull()
    await expect(otp.verify(who, '123456')).resolves.toBe(false)
  })

  test('a wrong code is false and leaves the code in place', async () => {
    const who = id('wrong')
    await otp.store(who, '111111')
    await expect(otp.verify(who, '111112')).resolves.toBe(false)
    await expect(otp.verify(who, '11111')).resolves.toBe(false)
    await expect(otp.verify(who, '1111111')).resolves.toBe(false)
    await expect(otp.verify(who, '111111')).resolves.toBe(true)
  })

  test('numbers and strings compare as strings; leading zeros are kept', async () => {
    const a = id('number')
    await otp.store(a, 654321)
    await expect(otp.verify(a, '654321')).resolves.toBe(true)
    const b = id('number2')
    await otp.store(b, '654321')
    await expect(otp.verify(b, 654321)).resolves.toBe(true)
    const c = id('zero')
    await otp.store(c, '012345')
    await expect(otp.get(c)).resolves.toBe('012345')
    await expect(otp.verify(c, 12345)).resolves.toBe(false)
    await expect(otp.verify(c, '012345')).resolves.toBe(true)
  })

  test('a code written by the original module verifies', async () => {
    const who = id('legacy')
    await redis.setex(`otp:${who}`, 300, '987654')
    await expect(otp.verify(who, '987654')).resolves.toBe(true)
  })

  test('an identifier with a hash tag verifies and counts its guesses (a cluster refused it before)', async () => {
    const who = id('a{b}')
    await otp.store(who, '123456')
    await expect(otp.verify(who, '000000')).resolves.toBe(false)
    expect(await redis.get(`otp:${who}:tries`)).toBe(1)
    await expect(otp.verify(who, '123456')).resolves.toBe(true)
    await expect(otp.get(who)).resolves.toBeNull()
    expect(await redis.exists(`otp:${who}:tries`)).toBe(0)
  })

  test('verify of an unknown identifier is false', async () => {
    await expect(otp.verify(id('nobody'), '000000')).resolves.toBe(false)
  })

  test('1000 concurrent verifications of the right code succeed exactly once (atomic)', async () => {
    const who = id('race')
    await otp.store(who, '424242')
    const results = await Promise.all(Array.from({ length: 1000 }, () => otp.verify(who, '424242')))
    expect(results.filter(Boolean)).toHaveLength(1)
  })

  test('wrong guesses are counted, and the 5th destroys the code', async () => {
    const who = id('guesses')
    await otp.store(who, '777777')
    for (let i = 0; i < 4; i++) await expect(otp.verify(who, `00000${i}`)).resolves.toBe(false)
    await expect(redis.get(`{otp:${who}}:tries`)).resolves.toBe(4)
    const ttl = await redis.pttl(`{otp:${who}}:tries`)
    expect(ttl).toBeGreaterThan(0)
    expect(ttl).toBeLessThanOrEqual(TTL.SHORT * 1000)
    await expect(otp.verify(who, '000009')).resolves.toBe(false)
    await expect(otp.get(who)).resolves.toBeNull()
    await expect(otp.verify(who, '777777')).resolves.toBe(false)
    await expect(redis.exists(`otp:${who}`, `{otp:${who}}:tries`)).resolves.toBe(0)
  })

  test('concurrent wrong guesses cannot exceed the cap', async () => {
    const who = id('guess-storm')
    await otp.store(who, '135790')
    const guesses = Array.from({ length: 200 }, (_, i) => otp.verify(who, String(100000 + i)))
    await Promise.all(guesses)
    await expect(otp.verify(who, '135790')).resolves.toBe(false)
  })

  test('the cap is configurable', async () => {
    const who = id('cap')
    mod.configure({ otpMaxAttempts: 2 })
    try {
      await otp.store(who, '246810')
      await otp.verify(who, '1')
      await expect(otp.get(who)).resolves.toBe('246810')
      await otp.verify(who, '2')
      await expect(otp.get(who)).resolves.toBeNull()
    } finally {
      mod.configure({ otpMaxAttempts: 5 })
    }
  })

  test('a right code consumes the guess count too', async () => {
    const who = id('cleanup')
    await otp.store(who, '112233')
    await otp.verify(who, '000000')
    await expect(otp.verify(who, '112233')).resolves.toBe(true)
    await expect(redis.exists(`{otp:${who}}:tries`)).resolves.toBe(0)
  })

  test('generate draws a fresh code, stores it, and a resend resets the guesses', async () => {
    const who = id('generate')
    const code = await otp.generate(who)
    expect(code).toMatch(/^\d{6}$/)
    await expect(otp.get(who)).resolves.toBe(code)
    const ttl = await redis.ttl(`otp:${who}`)
    expect(ttl).toBeGreaterThan(TTL.SHORT - 5)
    for (let i = 0; i < 4; i++) await otp.verify(who, 'wrong')
    const resent = await otp.generate(who, { digits: 8, ttl: 60 })
    expect(resent).toMatch(/^\d{8}$/)
    await expect(redis.exists(`{otp:${who}}:tries`)).resolves.toBe(0)
    await otp.verify(who, 'wrong') // one guess after the resend does not destroy it
    await expect(otp.verify(who, resent)).resolves.toBe(true)
    expect(await redis.ttl(`otp:${who}`)).toBe(-2)
  })

  test('generated codes are spread over the whole range', async () => {
    const codes = await Promise.all(Array.from({ length: 200 }, (_, i) => otp.generate(id(`spread-${i % 5}`), { digits: 4 })))
    expect(new Set(codes).size).toBeGreaterThan(150)
    expect(codes.some((c) => c.startsWith('0') || c.startsWith('1') || c.startsWith('2'))).toBe(true)
  })
})
