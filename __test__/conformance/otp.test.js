'use strict'

const { otp, redis, TTL } = require('../..')
const { uniquePrefix, storedText } = require('../helpers')

const P = uniquePrefix('otp')
const created = []
const id = (name) => {
  const value = `${P}-${name}@example.com`
  created.push(value)
  return value
}
afterAll(async () => {
  for (const value of created) await redis.del(`otp:${value}`)
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

  test('verify of an unknown identifier is false', async () => {
    await expect(otp.verify(id('nobody'), '000000')).resolves.toBe(false)
  })

  test('concurrent verifications of the right code succeed exactly once (atomic)', async () => {
    const who = id('race')
    await otp.store(who, '424242')
    const results = await Promise.all(Array.from({ length: 200 }, () => otp.verify(who, '424242')))
    expect(results.filter(Boolean)).toHaveLength(1)
  })
})
