'use strict'

const { clientAddressKey } = require('../lib/client-ip')

describe('clientAddressKey (rate-limit key of a client address)', () => {
  test.each([
    ['203.0.113.7', '203.0.113.7'],
    ['::ffff:203.0.113.7', '203.0.113.7'],
    ['::FFFF:10.0.0.1', '10.0.0.1'],
    ['2001:db8:abcd:1234:5678:9abc:def0:1', '2001:db8:abcd:1200::/56'],
    ['2001:db8:abcd:12ff::1', '2001:db8:abcd:1200::/56'],
    ['2001:db8:abcd:13ff::1', '2001:db8:abcd:1300::/56'],
    ['2001:db8::', '2001:db8:0:0::/56'],
    ['::1', '0:0:0:0::/56'],
    ['fe80::1%eth0', 'fe80:0:0:0::/56'],
    ['64:ff9b::192.0.2.33', '64:ff9b:0:0::/56'],
    ['', 'unknown'],
    [undefined, 'unknown'],
    ['not an ip', 'unknown'],
  ])('%p → %p', (address, expected) => {
    expect(clientAddressKey(address)).toBe(expected)
  })

  test('every address of one /56 shares a key; the next /56 does not', () => {
    const a = clientAddressKey('2a02:1234:5600:1::a')
    expect(clientAddressKey('2a02:1234:5600:ff:ffff:ffff:ffff:ffff')).toBe(a)
    expect(clientAddressKey('2a02:1234:5600:100::')).not.toBe(a)
  })
})
