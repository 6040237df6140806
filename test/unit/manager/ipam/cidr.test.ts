import { describe, expect, it } from 'vitest';
import {
  cidrContains,
  cidrCovers,
  cidrOverlaps,
  formatAddress,
  formatCidr,
  parseCidr,
  tryParseAddress,
} from '../../../../src/manager/ipam/cidr.js';

describe('parseCidr', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['10.1.2.0/24', '10.1.2.0/24'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['192.168.1.7/32', '192.168.1.7/32'],
    ['fd00::/64', 'fd00::/64'],
    ['FD00:0:0:1::/64', 'fd00:0:0:1::/64'],
    ['2001:db8::/32', '2001:db8::/32'],
    ['::/0', '::/0'],
  ])('accepts %s as %s', (text, canonical) => {
    expect(formatCidr(parseCidr(text, '--subnet'))).toBe(canonical);
  });

  it.each([
    ['10.0.0.0', /not in CIDR notation/],
    ['10.0.0.0/24/1', /not in CIDR notation/],
    ['10.0.0/24', /"10.0.0" is not an IP address/],
    ['010.0.0.0/8', /is not an IP address/],
    ['0xa.0.0.0/8', /is not an IP address/],
    ['10.0.0.256/24', /is not an IP address/],
    ['fe80::1%eth0/64', /is not an IP address/],
    ['10.0.0.0/33', /prefix length "33" is out of range \(0-32 for IPv4\)/],
    ['10.0.0.0/-1', /prefix length "-1" is out of range/],
    ['10.0.0.0/08', /prefix length "08" is out of range/],
    ['10.0.0.0/', /prefix length "" is out of range/],
    ['fd00::/129', /prefix length "129" is out of range \(0-128 for IPv6\)/],
    ['10.0.0.1/24', /10.0.0.1\/24 has host bits set \(the network is 10.0.0.0\/24\)/],
    ['fd00::1/64', /has host bits set \(the network is fd00::\/64\)/],
  ])('refuses %s', (text, pattern) => {
    expect(() => parseCidr(text, '--subnet')).toThrow(pattern);
    expect(() => parseCidr(text, '--subnet')).toThrow(/^invalid --subnet: /);
  });
});

describe('addresses', () => {
  it.each([
    ['10.0.0.1', 4, 0x0a000001n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::1', 6, 1n],
    ['fd00::ffff:ffff:ffff:fffe', 6, (0xfd00n << 112n) + 0xfffffffffffffffen],
  ])('%s round-trips', (text, family, value) => {
    expect(tryParseAddress(text)).toEqual({ family, value });
    expect(formatAddress({ family: family as 4 | 6, value })).toBe(text);
  });

  it('relations', () => {
    const a = parseCidr('10.0.0.0/16', 'x');
    const b = parseCidr('10.0.5.0/24', 'x');
    const c = parseCidr('10.1.0.0/24', 'x');
    const v6 = parseCidr('::/0', 'x');
    expect([cidrCovers(a, b), cidrCovers(b, a), cidrOverlaps(a, b), cidrOverlaps(b, a), cidrOverlaps(a, c)]).toEqual([
      true,
      false,
      true,
      true,
      false,
    ]);
    expect(cidrOverlaps(v6, a)).toBe(false);
    expect(cidrContains(b, { family: 4, value: 0x0a0005ffn })).toBe(true);
    expect(cidrContains(b, { family: 6, value: 0x0a0005ffn })).toBe(false);
  });
});
