import { describe, expect, it } from 'vitest';
import type { EgressSpec } from '../../../src/vxlan/dataplane-spec.js';
import { diffEgress } from '../../../src/vxlan/egress-diff.js';
import type { NamespaceState } from '../../../src/vxlan/kernel-state.js';
import { addrs, link, namespace } from './state-builders.js';

const ALIAS = 'vxmesh:vxd-';
const EGRESS: EgressSpec = {
  bridge: 'vxgw0',
  gatewayCidr: '172.18.0.1/16',
  attachments: [{ containerId: 'c1c1c1c1c1c1c1', containerNamespace: 'c1', ifName: 'eth1', ipv4Cidr: '172.18.0.2/16', defaultRoute: true }],
};

function converged(): { daemon: NamespaceState; c1: NamespaceState } {
  const daemon = namespace(
    [
      link('lo'),
      link('eth0', { kind: 'veth', mtu: 1500, addresses: addrs('198.51.100.10/24') }),
      link('vxgw0', { kind: 'bridge', mtu: 1500, alias: ALIAS, addresses: addrs('172.18.0.1/16') }),
      link('gwc1c1c1c1c1c1', { kind: 'veth', mtu: 1500, alias: ALIAS, master: 'vxgw0', isolated: true, ifindex: 50, linkIndex: 7, linkNetnsId: 2 }),
    ],
    { netnsIds: new Map([['c1', 2]]), sysctls: new Map([['net.ipv4.ip_forward', '1']]) },
  );
  const c1 = namespace([link('lo'), link('eth1', { kind: 'veth', mtu: 1500, ifindex: 7, linkIndex: 50, linkNetnsId: 0, addresses: addrs('172.18.0.2/16') })], {
    routes: [{ dst: 'default', family: 4, gateway: '172.18.0.1', dev: 'eth1', protocol: 'boot' }],
  });
  return { daemon, c1 };
}

function run(
  egress: EgressSpec | undefined,
  daemon: NamespaceState,
  c1: NamespaceState | undefined,
  unisolatedNamespaces?: ReadonlySet<string>,
) {
  const d = diffEgress(egress, daemon, {
    namespacePrefix: 'vxd-',
    namespaces: new Set(c1 === undefined ? [] : ['c1']),
    containers: new Map(c1 === undefined ? [] : [['c1', c1]]),
    ...(unisolatedNamespaces === undefined ? {} : { unisolatedNamespaces }),
  });
  return {
    del: d.deletions.map((x) => `${x.name}${x.frees === undefined ? '' : ` frees ${x.frees.namespace}/${x.frees.name}`}`),
    daemon: d.daemonLines,
    sysctls: d.sysctls,
    container: Object.fromEntries(d.containerLines),
    claims: d.claims.map((c) => `${c.namespace}/${c.name}`),
    errors: d.errors,
  };
}

const NONE = { del: [], daemon: [], sysctls: [], container: {}, claims: [], errors: [] };

describe('diffEgress', () => {
  it('does nothing when in sync', () => {
    const { daemon, c1 } = converged();
    expect(run(EGRESS, daemon, c1)).toEqual(NONE);
  });

  it('builds bridge, isolated port, container side and forwarding from scratch', () => {
    expect(run(EGRESS, namespace([link('lo')]), namespace([link('lo')]))).toEqual({
      ...NONE,
      daemon: [
        'link add name vxgw0 mtu 1500 type bridge',
        `link set dev vxgw0 alias ${ALIAS} up`,
        'addr replace 172.18.0.1/16 dev vxgw0',
        'link add name gwc1c1c1c1c1c1 mtu 1500 type veth peer name eth1 netns c1 mtu 1500',
        `link set dev gwc1c1c1c1c1c1 master vxgw0 alias ${ALIAS} up`,
        'link set dev gwc1c1c1c1c1c1 type bridge_slave isolated on',
      ],
      sysctls: ['net.ipv4.ip_forward=1'],
      claims: ['c1/eth1'],
      container: { c1: ['addr replace 172.18.0.2/16 dev eth1', 'link set dev eth1 up', 'route replace default via 172.18.0.1 dev eth1'] },
    });
  });

  it('re-isolates a port and removes the default route when it is no longer wanted', () => {
    const { daemon, c1 } = converged();
    const port = daemon.links.get('gwc1c1c1c1c1c1');
    const loose = namespace([...daemon.links.values()].map((l) => (l === port ? { ...l, isolated: false } : l)), daemon);
    const noDefault: EgressSpec = { ...EGRESS, attachments: EGRESS.attachments.map((a) => ({ ...a, defaultRoute: false })) };
    expect(run(noDefault, loose, c1)).toEqual({
      ...NONE,
      daemon: ['link set dev gwc1c1c1c1c1c1 type bridge_slave isolated on'],
      container: { c1: ['route del default dev eth1 via 172.18.0.1'] },
    });
  });

  it('leaves an unisolated namespace’s port open, creating it or fixing it', () => {
    const { daemon, c1 } = converged();
    expect(run(EGRESS, daemon, c1, new Set(['c1']))).toEqual({
      ...NONE,
      daemon: ['link set dev gwc1c1c1c1c1c1 type bridge_slave isolated off'],
    });
    const fresh = run(EGRESS, namespace([link('lo')]), namespace([link('lo')]), new Set(['c1']));
    expect(fresh.daemon.filter((l) => l.includes('isolated'))).toEqual([]);
  });

  it('removes only links carrying its alias when egress goes', () => {
    const { daemon, c1 } = converged();
    const withForeign = namespace([...daemon.links.values(), link('docker0', { kind: 'bridge' })], daemon);
    expect(run(undefined, withForeign, c1).del).toEqual(['vxgw0', 'gwc1c1c1c1c1c1 frees c1/eth1']);
  });

  it('refuses to use a non-bridge of the bridge’s name', () => {
    const d = run(EGRESS, namespace([link('vxgw0', { kind: 'veth' })]), converged().c1);
    expect(d.daemon).toEqual([]);
    expect(d.errors).toEqual([expect.stringContaining('not a bridge')]);
  });
});
