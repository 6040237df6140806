import { describe, expect, it } from 'vitest';
import type { OverlaySpec } from '../../../src/vxlan/dataplane-spec.js';
import type { NamespaceState } from '../../../src/vxlan/kernel-state.js';
import { diffOverlay } from '../../../src/vxlan/overlay-diff.js';
import type { OverlayDiff, OverlayDiffContext } from '../../../src/vxlan/overlay-diff.js';
import { NET_A, overlay } from './fixtures.js';
import { addrs, link, namespace } from './state-builders.js';

const OV = `vxd-o-${NET_A.slice(0, 12)}`;
const VE = 'vec1epaaaa0000';
const VX = { vni: 4097, port: 4789, local: '198.51.100.10', learning: false, proxy: true, l2miss: true, l3miss: true };

/** The kernel exactly as the driver leaves it for `overlay(NET_A, 4097, 1)`. */
function converged(): { ov: NamespaceState; c1: NamespaceState } {
  const ov = namespace(
    [
      link('lo', { kind: undefined }),
      link('br0', { kind: 'bridge', addresses: addrs('10.0.1.1/24') }),
      link('vxlan0', { kind: 'vxlan', master: 'br0', linkNetnsId: 5, vxlan: VX }),
      link(VE, { kind: 'veth', master: 'br0', ifindex: 301, linkIndex: 201, linkNetnsId: 1 }),
    ],
    {
      netnsIds: new Map([['c1', 1]]),
      neighbours: [{ ip: '10.0.1.3', dev: 'vxlan0', lladdr: '02:42:0a:00:01:03', permanent: true }],
      fdb: [
        { mac: '02:42:0a:00:01:03', dev: 'vxlan0', dst: '198.51.100.11', self: true, master: undefined, permanent: true },
        { mac: '0a:00:00:00:00:09', dev: 'vxlan0', dst: undefined, self: false, master: 'br0', permanent: false },
      ],
    },
  );
  const c1 = namespace(
    [
      link('lo'),
      link('eth0', {
        kind: 'veth',
        ifindex: 201,
        linkIndex: 301,
        linkNetnsId: 0,
        mac: '02:42:0a:00:01:02',
        addresses: [...addrs('10.0.1.2/24'), { cidr: 'fe80::1/64', family: 6, scope: 'link' }],
      }),
    ],
    {
      netnsIds: new Map([[OV, 0]]),
      routes: [{ dst: '10.0.1.0/24', family: 4, gateway: undefined, dev: 'eth0', protocol: 'kernel' }],
    },
  );
  return { ov, c1 };
}

function ctx(c1: NamespaceState | undefined): OverlayDiffContext {
  return {
    dataPathAddr: '198.51.100.10',
    dataPathPort: 4789,
    daemonNamespace: undefined,
    namespaces: new Set(c1 === undefined ? [OV] : [OV, 'c1']),
    containers: new Map(c1 === undefined ? [] : [['c1', c1]]),
  };
}

function withLink(ns: NamespaceState, name: string, fields: Parameters<typeof link>[1]): NamespaceState {
  const old = ns.links.get(name);
  return { ...ns, links: new Map([...ns.links, [name, link(name, { ...old, ...fields })]]) };
}

/** Everything the diff emits, flattened for compact expectations. */
function lines(d: OverlayDiff): Record<string, unknown> {
  return {
    create: d.createNamespace,
    del: d.deletions.map((x) => `${x.name}${x.hoist ? ' (hoist)' : ''}`),
    daemon: d.daemonLines,
    overlay: d.overlayLines,
    fdb: d.fdbLines,
    container: Object.fromEntries(d.containerLines),
    claims: d.claims.map((c) => `${c.namespace}/${c.name}`),
    sysctls: d.sysctls,
    errors: d.errors,
  };
}

const NOTHING = { create: false, del: [], daemon: [], overlay: [], fdb: [], container: {}, claims: [], sysctls: [], errors: [] };

/** A recreated VXLAN device: deleted first (hoisted), created from the daemon namespace, refilled. */
const RECREATED = {
  del: ['vxlan0 (hoist)'],
  daemon: [
    'link add name vxlan0 netns vxd-o-aaaaaaaaaaaa mtu 1450 type vxlan id 4097 dstport 4789 local 198.51.100.10 nolearning proxy l2miss l3miss',
  ],
  overlay: ['link set dev vxlan0 master br0 up', 'neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:03 dev vxlan0 nud permanent'],
  fdb: ['fdb replace 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.11 self permanent'],
};

type Case = [string, (s: { ov: NamespaceState; c1: NamespaceState; spec: OverlaySpec }) => void, Record<string, unknown>];

const cases: Case[] = [
  ['converged: nothing to do', () => {}, {}],
  ['wrong VNI: VXLAN device recreated from the daemon namespace, its deletion hoisted', (s) => (s.ov = withLink(s.ov, 'vxlan0', { vxlan: { ...VX, vni: 9 } })), RECREATED],
  [
    'VXLAN socket inside the overlay namespace (created there): recreated',
    (s) => (s.ov = withLink(s.ov, 'vxlan0', { linkNetnsId: undefined })),
    RECREATED,
  ],
  ['VXLAN socket in a container namespace: recreated', (s) => (s.ov = withLink(s.ov, 'vxlan0', { linkNetnsId: 1 })), RECREATED],
  ['learning on: recreated', (s) => (s.ov = withLink(s.ov, 'vxlan0', { vxlan: { ...VX, learning: true } })), RECREATED],
  [
    'VXLAN device detached and down: re-attached',
    (s) => (s.ov = withLink(s.ov, 'vxlan0', { master: undefined, up: false })),
    { overlay: ['link set dev vxlan0 mtu 1450 master br0 up'] },
  ],
  [
    'neighbour with another MAC, a stale one, a non-permanent one',
    (s) =>
      (s.ov = {
        ...s.ov,
        neighbours: [
          { ip: '10.0.1.3', dev: 'vxlan0', lladdr: '02:00:00:00:00:99', permanent: true },
          { ip: '10.0.1.9', dev: 'vxlan0', lladdr: '02:00:00:00:00:09', permanent: true },
          { ip: '10.0.1.3', dev: 'br0', lladdr: '02:42:0a:00:01:03', permanent: false },
        ],
      }),
    {
      overlay: ['neigh del 10.0.1.9 dev vxlan0', 'neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:03 dev vxlan0 nud permanent'],
    },
  ],
  [
    'FDB entry pointing at another VTEP, and a departed peer',
    (s) =>
      (s.ov = {
        ...s.ov,
        fdb: [
          { mac: '02:42:0a:00:01:03', dev: 'vxlan0', dst: '198.51.100.99', self: true, master: undefined, permanent: true },
          { mac: '02:42:0a:00:01:77', dev: 'vxlan0', dst: '198.51.100.11', self: true, master: undefined, permanent: true },
        ],
      }),
    {
      fdb: ['fdb del 02:42:0a:00:01:77 dev vxlan0 self', 'fdb replace 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.11 self permanent'],
    },
  ],
  [
    'a departed remote endpoint in the spec: entries removed',
    (s) => (s.spec = { ...s.spec, remoteEndpoints: [] }),
    { overlay: ['neigh del 10.0.1.3 dev vxlan0'], fdb: ['fdb del 02:42:0a:00:01:03 dev vxlan0 self'] },
  ],
  [
    'a new MTU: ports first, then the bridge, then the container side',
    (s) => (s.spec = { ...s.spec, mtu: 1400 }),
    {
      overlay: ['link set dev vxlan0 mtu 1400 master br0 up', `link set dev ${VE} mtu 1400 master br0 up`, 'link set dev br0 mtu 1400 up'],
      container: { c1: ['link set dev eth0 mtu 1400'] },
    },
  ],
  [
    'veth whose peer is not the container’s eth0: replaced, container name claimed',
    (s) => (s.ov = withLink(s.ov, VE, { linkIndex: 999 })),
    {
      del: [VE],
      claims: ['c1/eth0'],
      overlay: [
        `link add name ${VE} mtu 1450 type veth peer name eth0 netns c1 mtu 1450 address 02:42:0a:00:01:02`,
        `link set dev ${VE} master br0 up`,
      ],
      container: { c1: ['addr replace 10.0.1.2/24 dev eth0', 'link set dev eth0 up'] },
    },
  ],
  [
    'container lost its address and MAC',
    (s) => (s.c1 = withLink(s.c1, 'eth0', { addresses: addrs('10.0.1.99/24'), mac: '02:00:00:00:00:01', up: false })),
    {
      container: {
        c1: [
          'addr del 10.0.1.99/24 dev eth0',
          'link set dev eth0 address 02:42:0a:00:01:02',
          'addr replace 10.0.1.2/24 dev eth0',
          'link set dev eth0 up',
        ],
      },
    },
  ],
  [
    'an extra address on the bridge, a stray dummy and a stray VXLAN device',
    (s) => {
      s.ov = withLink(s.ov, 'br0', { addresses: addrs('10.0.1.1/24', '10.9.9.9/8') });
      s.ov = withLink(s.ov, 'dummy0', { kind: 'dummy' });
      s.ov = withLink(s.ov, 'vxlan7', { kind: 'vxlan', vxlan: VX });
    },
    { del: ['dummy0', 'vxlan7 (hoist)'], overlay: ['addr del 10.9.9.9/8 dev br0'] },
  ],
];

describe('diffOverlay', () => {
  it.each(cases)('%s', (_name, mutate, expected) => {
    const s = { ...converged(), spec: overlay(NET_A, 4097, 1) };
    mutate(s);
    expect(lines(diffOverlay(s.spec, s.ov, ctx(s.c1)))).toEqual({ ...NOTHING, ...expected });
  });

  it('builds everything in a namespace that does not exist yet', () => {
    const d = diffOverlay(overlay(NET_A, 4097, 1), undefined, ctx(namespace([link('lo')])));
    expect(lines(d)).toEqual({
      ...NOTHING,
      create: true,
      daemon: [
        'link add name vxlan0 netns vxd-o-aaaaaaaaaaaa mtu 1450 type vxlan id 4097 dstport 4789 local 198.51.100.10 nolearning proxy l2miss l3miss',
      ],
      overlay: [
        'link add name br0 mtu 1450 type bridge',
        'link set dev vxlan0 master br0 up',
        `link add name ${VE} mtu 1450 type veth peer name eth0 netns c1 mtu 1450 address 02:42:0a:00:01:02`,
        `link set dev ${VE} master br0 up`,
        'link set dev br0 up',
        'addr replace 10.0.1.1/24 dev br0',
        'neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:03 dev vxlan0 nud permanent',
      ],
      fdb: ['fdb replace 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.11 self permanent'],
      claims: ['c1/eth0'],
      container: { c1: ['addr replace 10.0.1.2/24 dev eth0', 'link set dev eth0 up'] },
    });
  });

  it('reports a missing container namespace and keeps the endpoint’s veth', () => {
    const { ov } = converged();
    const d = diffOverlay(overlay(NET_A, 4097, 1), ov, ctx(undefined));
    expect(d.errors).toEqual([expect.stringContaining('container namespace c1 does not exist')]);
    expect(d.deletions).toEqual([]);
  });

  it('checks the VXLAN socket namespace exactly when the daemon namespace is named', () => {
    const { ov, c1 } = converged();
    const named = { ...ctx(c1), daemonNamespace: 'host' };
    const withHostId = { ...ov, netnsIds: new Map([...ov.netnsIds, ['host', 5]]) };
    expect(diffOverlay(overlay(NET_A, 4097, 1), withHostId, named).deletions).toEqual([]);
    const otherId = { ...ov, netnsIds: new Map([...ov.netnsIds, ['host', 6]]) };
    expect(diffOverlay(overlay(NET_A, 4097, 1), otherId, named).deletions.map((d) => d.name)).toEqual(['vxlan0']);
  });

  it('turns forwarding on in a multi-subnet overlay until it reads back as 1', () => {
    const base = overlay(NET_A, 4097, 1);
    const spec: OverlaySpec = { ...base, subnets: [...base.subnets, { index: 1, vni: 4098, gatewayCidr: '10.0.2.1/24' }] };
    const { ov, c1 } = converged();
    expect(diffOverlay(spec, ov, ctx(c1)).sysctls).toEqual(['net.ipv4.ip_forward=1']);
    const on = { ...ov, sysctls: new Map([['net.ipv4.ip_forward', '1']]) };
    expect(diffOverlay(spec, on, ctx(c1)).sysctls).toEqual([]);
  });
});
