import { describe, expect, it } from 'vitest';
import { formatAddress, formatCidr } from '../../../../src/manager/ipam/cidr.js';
import { defaultGateway, pairIpamConfig } from '../../../../src/manager/ipam/ipam-config.js';
import type { IpamFlags } from '../../../../src/manager/ipam/ipam-config.js';

const flags = (f: Partial<IpamFlags>): IpamFlags => ({
  subnets: [],
  gateways: [],
  ipRanges: [],
  auxAddresses: {},
  enableIpv6: false,
  ...f,
});

describe('pairIpamConfig', () => {
  it.each([
    ['no flags: one automatic IPv4 subnet', flags({}), [], true, false],
    ['--ipv6 alone: automatic IPv4 and IPv6', flags({ enableIpv6: true }), [], true, true],
    [
      'gateways and ranges pair by containment, not position',
      flags({
        subnets: ['10.1.0.0/24', '10.2.0.0/24'],
        gateways: ['10.2.0.9', '10.1.0.9'],
        ipRanges: ['10.2.0.128/25'],
      }),
      [
        ['10.1.0.0/24', '10.1.0.9', '', ''],
        ['10.2.0.0/24', '10.2.0.9', '10.2.0.128/25', ''],
      ],
      false,
      false,
    ],
    [
      'IPv4 subnets come first; aux addresses join their subnet',
      flags({ subnets: ['fd00::/64', '10.1.0.0/24'], auxAddresses: { a: 'fd00::5', b: '10.1.0.5' }, enableIpv6: true }),
      [
        ['10.1.0.0/24', '', '', 'b=10.1.0.5'],
        ['fd00::/64', '', '', 'a=fd00::5'],
      ],
      false,
      false,
    ],
    [
      'only IPv6 given with --ipv6: IPv4 still automatic',
      flags({ subnets: ['fd00::/64'], enableIpv6: true }),
      [['fd00::/64', '', '', '']],
      true,
      false,
    ],
  ] as [string, IpamFlags, string[][], boolean, boolean][])('%s', (_what, input, explicit, autoV4, autoV6) => {
    const got = pairIpamConfig(input);
    expect(
      got.explicit.map((s) => [
        formatCidr(s.cidr),
        s.gateway ? formatAddress(s.gateway) : '',
        s.ipRange ? formatCidr(s.ipRange) : '',
        [...s.aux].map(([k, v]) => `${k}=${formatAddress(v)}`).join(','),
      ]),
    ).toEqual(explicit);
    expect([got.autoV4, got.autoV6]).toEqual([autoV4, autoV6]);
  });

  it.each([
    [flags({ subnets: ['10.1.0.0/31'] }), /invalid --subnet: .*\/31 is out of range/],
    [flags({ subnets: ['10.0.0.0/7'] }), /invalid --subnet: .*\/7 is out of range/],
    [flags({ subnets: ['fd00::/64'] }), /add --ipv6/],
    [flags({ subnets: ['10.1.0.0/24', '10.1.0.0/24'] }), /overlaps 10.1.0.0\/24, also given/],
    [flags({ gateways: ['10.0.0.1'] }), /invalid --gateway: --gateway needs an explicit --subnet/],
    [flags({ subnets: ['10.1.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] }), /2 given for 1 subnet/],
    [flags({ subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/25', '10.1.0.128/25'] }), /2 given for 1 subnet/],
    [
      flags({ subnets: ['10.1.0.0/24', '10.2.0.0/24'], ipRanges: ['10.1.0.0/25', '10.1.0.128/25'] }),
      /both inside subnet 10.1.0.0\/24/,
    ],
    [flags({ subnets: ['10.1.0.0/24'], gateways: ['10.1.1.1'] }), /10.1.1.1 is outside every --subnet/],
    [flags({ subnets: ['10.1.0.0/24'], gateways: ['10.1.0.255'] }), /broadcast address/],
    [flags({ subnets: ['10.1.0.0/24'], auxAddresses: { x: '10.1.0.0' } }), /x=10.1.0.0 is the network address/],
    [
      flags({ subnets: ['10.1.0.0/24'], auxAddresses: { x: 'nope' } }),
      /invalid --aux-address: "nope" is not an IP address/,
    ],
    [
      flags({ subnets: ['10.1.0.0/30'], auxAddresses: { a: '10.1.0.1', b: '10.1.0.2' } }),
      /leave no address for the gateway/,
    ],
  ] as [IpamFlags, RegExp][])('refuses %j', (input, pattern) => {
    expect(() => {
      const got = pairIpamConfig(input);
      got.explicit.forEach((s) => defaultGateway(s));
    }).toThrow(pattern);
  });

  it('default gateway is the first usable address that is not an aux address', () => {
    const [s] = pairIpamConfig(flags({ subnets: ['10.1.0.0/24'], auxAddresses: { r: '10.1.0.1' } })).explicit;
    expect(s && formatAddress({ family: 4, value: defaultGateway(s) })).toBe('10.1.0.2');
  });
});
