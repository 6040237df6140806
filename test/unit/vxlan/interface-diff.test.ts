import { describe, expect, it } from 'vitest';
import { diffOwnedInterface } from '../../../src/vxlan/interface-diff.js';
import type { OwnedInterfaceSpec } from '../../../src/vxlan/interface-diff.js';
import type { LinkState, RouteState } from '../../../src/vxlan/kernel-state.js';
import { addrs, link } from './state-builders.js';

const SPEC: OwnedInterfaceSpec = {
  name: 'eth0',
  mtu: 1450,
  mac: '02:42:0a:00:01:02',
  addresses: ['10.0.1.2/24', 'fd00:1::2/64'],
  routes: [{ dst: '10.0.2.0/24', gateway: '10.0.1.1' }],
};
const ETH0 = link('eth0', { kind: 'veth', mac: '02:42:0a:00:01:02', addresses: addrs('10.0.1.2/24', 'fd00:1::2/64') });
const ROUTES: RouteState[] = [
  { dst: '10.0.1.0/24', family: 4, gateway: undefined, dev: 'eth0', protocol: 'kernel' },
  { dst: '10.0.2.0/24', family: 4, gateway: '10.0.1.1', dev: 'eth0', protocol: 'boot' },
  { dst: 'fe80::/64', family: 6, gateway: undefined, dev: 'eth0', protocol: 'kernel' },
];

type Case = [string, OwnedInterfaceSpec, LinkState | undefined, RouteState[], string[]];

const cases: Case[] = [
  ['in sync', SPEC, ETH0, ROUTES, []],
  [
    'being created: addresses, up, routes in that order',
    SPEC,
    undefined,
    ROUTES,
    [
      'addr replace 10.0.1.2/24 dev eth0',
      'addr replace fd00:1::2/64 dev eth0 nodad',
      'link set dev eth0 up',
      'route replace 10.0.2.0/24 via 10.0.1.1 dev eth0',
    ],
  ],
  [
    'MTU, MAC and admin state drifted',
    SPEC,
    { ...ETH0, mtu: 1500, mac: '02:00:00:00:00:01', up: false },
    ROUTES,
    ['link set dev eth0 address 02:42:0a:00:01:02 mtu 1450', 'link set dev eth0 up'],
  ],
  [
    'a foreign address is removed, the link-local one kept',
    SPEC,
    { ...ETH0, addresses: [...ETH0.addresses, ...addrs('192.0.2.1/24'), { cidr: 'fe80::1/64', family: 6, scope: 'link' }] },
    ROUTES,
    ['addr del 192.0.2.1/24 dev eth0'],
  ],
  [
    'a route via another gateway is replaced, a foreign one removed, others’ routes left',
    SPEC,
    ETH0,
    [
      { dst: '10.0.2.0/24', family: 4, gateway: '10.0.1.254', dev: 'eth0', protocol: 'boot' },
      { dst: '10.7.0.0/16', family: 4, gateway: '10.0.1.1', dev: 'eth0', protocol: 'static' },
      { dst: 'default', family: 4, gateway: '172.18.0.1', dev: 'eth1', protocol: 'boot' },
    ],
    ['route del 10.7.0.0/16 dev eth0 via 10.0.1.1', 'route replace 10.0.2.0/24 via 10.0.1.1 dev eth0'],
  ],
  [
    'a default route wanted, an IPv6 default to remove',
    { name: 'eth1', mtu: 1500, addresses: ['172.18.0.2/16'], routes: [{ dst: 'default', gateway: '172.18.0.1' }] },
    link('eth1', { kind: 'veth', mtu: 1500, addresses: addrs('172.18.0.2/16') }),
    [{ dst: 'default', family: 6, gateway: 'fd00::1', dev: 'eth1', protocol: 'boot' }],
    ['route del ::/0 dev eth1 via fd00::1', 'route replace default via 172.18.0.1 dev eth1'],
  ],
];

describe('diffOwnedInterface', () => {
  it.each(cases)('%s', (_name, spec, observed, routes, expected) => {
    expect(diffOwnedInterface(spec, observed, routes)).toEqual(expected);
  });
});
