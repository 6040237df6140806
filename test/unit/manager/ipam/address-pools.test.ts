import { describe, expect, it } from 'vitest';
import { defaultPools, firstFreeSubnet } from '../../../../src/manager/ipam/address-pools.js';
import { formatCidr, parseCidr } from '../../../../src/manager/ipam/cidr.js';

describe('firstFreeSubnet', () => {
  it.each([
    [['10.0.0.0/8'], 24, [], '10.0.0.0/24'],
    [['10.0.0.0/8'], 24, ['10.0.0.0/24', '10.0.1.0/24'], '10.0.2.0/24'],
    [['10.0.0.0/8'], 24, ['10.0.1.0/24'], '10.0.0.0/24'],
    [['10.0.0.0/8'], 24, ['10.0.0.0/16'], '10.1.0.0/24'],
    [['10.0.0.0/8'], 24, ['10.0.0.128/25'], '10.0.1.0/24'],
    [['10.0.0.0/8'], 16, ['10.0.5.0/24'], '10.1.0.0/16'],
    [['10.0.0.0/30', '10.1.0.0/16'], 30, ['10.0.0.0/30'], '10.1.0.0/30'],
    [['10.0.0.0/24'], 25, ['10.0.0.0/25', '10.0.0.128/25'], undefined],
    [['10.0.0.0/8'], 24, ['192.168.0.0/16'], '10.0.0.0/24'],
  ] as [string[], number, string[], string | undefined][])(
    'pools %j /%i taken %j → %s',
    (pools, mask, taken, expected) => {
      const p = defaultPools({ defaultAddrPools: pools, defaultAddrPoolMaskLength: mask });
      const got = firstFreeSubnet(
        p,
        4,
        taken.map((t) => parseCidr(t, 'x')),
      );
      expect(got ? formatCidr(got) : undefined).toBe(expected);
    },
  );

  it('splits IPv6 pools into /64s and finds none when there is no IPv6 pool', () => {
    const p = defaultPools({ defaultAddrPools: ['10.0.0.0/8', 'fd00:1::/48'], defaultAddrPoolMaskLength: 24 });
    const got = firstFreeSubnet(p, 6, [parseCidr('fd00:1::/64', 'x')]);
    expect(got && formatCidr(got)).toBe('fd00:1:0:1::/64');
    expect(
      firstFreeSubnet(defaultPools({ defaultAddrPools: [], defaultAddrPoolMaskLength: 0 }), 6, []),
    ).toBeUndefined();
  });

  it('defaults to 10.0.0.0/8 split into /24', () => {
    const got = firstFreeSubnet(defaultPools({ defaultAddrPools: [], defaultAddrPoolMaskLength: 0 }), 4, []);
    expect(got && formatCidr(got)).toBe('10.0.0.0/24');
  });
});
