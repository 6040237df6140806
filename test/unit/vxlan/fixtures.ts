/** Specs and helpers shared by the dataplane unit tests. */
import type { FakeKernel, FakeNamespace } from '../../../src/vxlan/fake-kernel.js';
import type { NodeDataplaneSpec, OverlaySpec } from '../../../src/vxlan/dataplane-spec.js';

export const NET_A = 'aaaaaaaaaaaa0000000000000a';
export const NET_B = 'bbbbbbbbbbbb0000000000000b';

/** An overlay with one local endpoint in `containerNs` and one remote endpoint. */
export function overlay(networkId: string, vni: number, third: number, containerNs = 'c1', ifName = 'eth0'): OverlaySpec {
  return {
    networkId,
    namespace: `vxd-o-${networkId.slice(0, 12)}`,
    mtu: 1450,
    subnets: [{ index: 0, vni, gatewayCidr: `10.0.${third}.1/24` }],
    localEndpoints: [
      {
        endpointId: `${containerNs}ep${networkId.slice(0, 4)}00000000`,
        subnetIndex: 0,
        containerNamespace: containerNs,
        ifName,
        mac: `02:42:0a:00:${third.toString(16).padStart(2, '0')}:02`,
        ipv4Cidr: `10.0.${third}.2/24`,
        gateway: `10.0.${third}.1`,
        otherSubnets: [],
      },
    ],
    remoteEndpoints: [
      {
        endpointId: `remote${networkId.slice(0, 4)}`,
        subnetIndex: 0,
        mac: `02:42:0a:00:${third.toString(16).padStart(2, '0')}:03`,
        ipv4: `10.0.${third}.3`,
        vtep: '198.51.100.11',
      },
    ],
  };
}

/** The base spec: overlay A with container c1, egress for c1 with a default route. */
export function baseSpec(): NodeDataplaneSpec {
  return {
    namespacePrefix: 'vxd-',
    dataPathAddr: '198.51.100.10',
    dataPathPort: 4789,
    memberVteps: ['198.51.100.10', '198.51.100.11'],
    overlays: [overlay(NET_A, 4097, 1)],
    egress: {
      bridge: 'vxgw0',
      gatewayCidr: '172.18.0.1/16',
      attachments: [
        { containerId: 'c1c1c1c1c1c1c1', containerNamespace: 'c1', ifName: 'eth1', ipv4Cidr: '172.18.0.2/16', defaultRoute: true },
      ],
    },
  };
}

function nsSnapshot(kernel: FakeKernel, ns: FakeNamespace): unknown {
  const nameOf = (other: FakeNamespace): string => (other === kernel.host ? '<host>' : other.name);
  const links = [...ns.links.values()]
    .map((l) => ({
      name: l.name,
      kind: l.kind,
      mtu: l.mtu,
      up: l.up,
      master: l.master,
      alias: l.alias,
      isolated: l.isolated,
      // MACs the driver does not set are random on a real kernel.
      mac: l.mac.startsWith('fe:') ? undefined : l.mac,
      peer: l.peer === undefined ? undefined : `${nameOf(l.peer.ns)}/${l.peer.link.name}`,
      vxlan: l.vxlan === undefined ? undefined : { ...l.vxlan, socketNs: nameOf(l.vxlan.socketNs) },
      addresses: l.addresses.map((a) => a.cidr).sort(),
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
  return {
    links,
    neighbours: [...ns.neighbours.values()].map((n) => `${n.dev} ${n.ip} ${n.lladdr} ${n.permanent}`).sort(),
    fdb: [...ns.fdb.values()].map((f) => `${f.dev} ${f.mac} ${f.dsts.join(',')}`).sort(),
    routes: ns.routes.map((r) => `${r.dst} ${r.gateway ?? ''} ${r.dev}`).sort(),
    sysctls: Object.fromEntries(ns.sysctls),
    nft: Object.fromEntries(
      [...ns.nftTables].map(([k, t]) => [
        k,
        {
          sets: Object.fromEntries([...t.sets].map(([n, s]) => [n, [...s.elements].sort()])),
          counters: [...t.counters.keys()].sort(),
          chains: Object.fromEntries([...t.chains].map(([n, c]) => [n, c.rules.map((r) => r.text)])),
        },
      ]),
    ),
  };
}

/** The whole fake kernel without ifindexes and random MACs: equal for equal kernel states. */
export function snapshot(kernel: FakeKernel): unknown {
  return {
    host: nsSnapshot(kernel, kernel.host),
    named: Object.fromEntries(
      kernel
        .names()
        .sort()
        .map((n) => [n, nsSnapshot(kernel, kernel.get(n))]),
    ),
  };
}

/** `spec` without egress, with `changes` applied. */
export function noEgress(spec: NodeDataplaneSpec, changes: Partial<Omit<NodeDataplaneSpec, 'egress'>> = {}): NodeDataplaneSpec {
  const { egress: _egress, ...rest } = spec;
  return { ...rest, ...changes };
}
