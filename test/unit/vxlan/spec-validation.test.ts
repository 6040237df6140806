import { describe, expect, it } from 'vitest';
import type { NodeDataplaneSpec } from '../../../src/vxlan/dataplane-spec.js';
import { validateDataplaneSpec } from '../../../src/vxlan/spec-validation.js';
import { NET_A, NET_B, baseSpec, overlay } from './fixtures.js';

function withOverlay(change: (o: ReturnType<typeof overlay>) => object): NodeDataplaneSpec {
  return { ...baseSpec(), overlays: [{ ...overlay(NET_A, 4097, 1), ...change(overlay(NET_A, 4097, 1)) }] };
}

describe('validateDataplaneSpec', () => {
  it('accepts the base spec', () => {
    expect(validateDataplaneSpec(baseSpec())).toEqual([]);
  });

  it.each<[string, NodeDataplaneSpec, RegExp]>([
    ['bad data-path address', { ...baseSpec(), dataPathAddr: '198.51.100' }, /dataPathAddr/],
    ['bad port', { ...baseSpec(), dataPathPort: 0 }, /dataPathPort/],
    ['overlay namespace outside the prefix', withOverlay(() => ({ namespace: 'other-o-x' })), /must be a valid name starting with vxd-o-/],
    ['MTU too small', withOverlay(() => ({ mtu: 60 })), /mtu 60/],
    ['VNI out of range', withOverlay((o) => ({ subnets: o.subnets.map((s) => ({ ...s, vni: 1 << 24 })) })), /vni/],
    ['gateway without prefix', withOverlay((o) => ({ subnets: o.subnets.map((s) => ({ ...s, gatewayCidr: '10.0.1.1' })) })), /prefix length/],
    ['endpoint on a missing subnet', withOverlay((o) => ({ localEndpoints: o.localEndpoints.map((e) => ({ ...e, subnetIndex: 3 })) })), /no subnet 3/],
    ['interface name too long', withOverlay((o) => ({ localEndpoints: o.localEndpoints.map((e) => ({ ...e, ifName: 'eth0123456789012' })) })), /interface name/],
    ['bad MAC', withOverlay((o) => ({ remoteEndpoints: o.remoteEndpoints.map((e) => ({ ...e, mac: '02:42:0a' })) })), /bad MAC/],
    ['IPv6 subnet without IPv6 gateway', withOverlay((o) => ({ localEndpoints: o.localEndpoints.map((e) => ({ ...e, otherSubnets: ['fd00:2::/64'] })) })), /ipv6Gateway/],
    [
      'container namespace inside the overlay prefix',
      withOverlay((o) => ({ localEndpoints: o.localEndpoints.map((e) => ({ ...e, containerNamespace: 'vxd-o-evil' })) })),
      /bad container namespace/,
    ],
    [
      'two overlays with one VNI',
      { ...baseSpec(), overlays: [overlay(NET_A, 4097, 1), overlay(NET_B, 4097, 2, 'c2')] },
      /vni 4097 also used/,
    ],
    [
      'one container interface claimed twice',
      { ...baseSpec(), overlays: [overlay(NET_A, 4097, 1, 'c1', 'eth1')] },
      /eth1 in c1 is already used/,
    ],
    ['egress gateway not IPv4', { ...baseSpec(), egress: { bridge: 'vxgw0', gatewayCidr: 'fd00::1/64', attachments: [] } }, /egress/],
  ])('rejects %s', (_name, spec, pattern) => {
    const problems = validateDataplaneSpec(spec);
    expect(problems.join('\n')).toMatch(pattern);
  });
});
