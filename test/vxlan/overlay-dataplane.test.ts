/**
 * The driver on real kernel objects: two hosts (namespaces on a shared underlay), overlays with a
 * container on each, pings across, idempotence, repair after tampering, removal, isolation of two
 * overlays, and restart after a pass killed halfway.
 */
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import type { CommandRunner, KernelCommand } from '../../src/vxlan/command-runner.js';
import { DataplaneDriver } from '../../src/vxlan/dataplane-driver.js';
import type { NodeDataplaneSpec } from '../../src/vxlan/dataplane-spec.js';
import { overlayNamespaceName } from '../../src/vxlan/dataplane-names.js';
import {
  commandCount,
  createDataplaneHosts,
  macOf,
  namespacesWithPrefix,
  networkId,
  overlayFor,
  specFor,
} from './dataplane-hosts.js';
import type { DataplaneHosts, TestEndpoint } from './dataplane-hosts.js';

const NET_A = { id: networkId('aaaa01'), vni: 4101, third: 1, mtu: 1450 };
const NET_B = { id: networkId('bbbb02'), vni: 4102, third: 2, mtu: 1450 };

let env: DataplaneHosts;
let a0: TestEndpoint;
let a1: TestEndpoint;
let b0: TestEndpoint;
let b1: TestEndpoint;

async function canPing(fromNs: string, ip: string, attempts = 3): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    const r = await env.execIn(fromNs, 'ping', ['-c', '1', '-W', '1', ip], false);
    if (r.exitCode === 0) {
      return true;
    }
  }
  return false;
}

/** Specs of both nodes for the given overlays and endpoints. */
function specs(nets: readonly { net: typeof NET_A; endpoints: readonly TestEndpoint[] }[]): NodeDataplaneSpec[] {
  return env.nodes.map((node) =>
    specFor(
      node,
      env.nodes,
      nets.map((n) => overlayFor(node, env.nodes, n.net, n.endpoints)),
    ),
  );
}

async function reconcileAll(all: readonly NodeDataplaneSpec[]): Promise<number> {
  const reports = await Promise.all(env.nodes.map((n, i) => n.driver.reconcile(all[i] as NodeDataplaneSpec)));
  for (const r of reports) {
    expect(r.errors).toEqual([]);
  }
  return reports.reduce((sum, r) => sum + commandCount(r), 0);
}

/** Reconciles, then checks that a second pass issues nothing. */
async function converge(all: readonly NodeDataplaneSpec[]): Promise<void> {
  await reconcileAll(all);
  expect(await reconcileAll(all)).toBe(0);
}

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 2 });
  const [ca0, ca1, cb0, cb1] = await Promise.all(['a0', 'a1', 'b0', 'b1'].map((n) => env.addContainer(n)));
  a0 = { id: 'a0'.padEnd(16, '0'), node: 0, containerNs: ca0 ?? '', ip: '10.1.0.2' };
  a1 = { id: 'a1'.padEnd(16, '0'), node: 1, containerNs: ca1 ?? '', ip: '10.1.0.3' };
  b0 = { id: 'b0'.padEnd(16, '0'), node: 0, containerNs: cb0 ?? '', ip: '10.2.0.2' };
  b1 = { id: 'b1'.padEnd(16, '0'), node: 1, containerNs: cb1 ?? '', ip: '10.2.0.3' };
});

afterAll(async () => {
  await env.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

describe('overlay dataplane on two hosts', () => {
  it('pings across hosts both ways; a second pass issues no command', async () => {
    const all = specs([{ net: NET_A, endpoints: [a0, a1] }]);
    await converge(all);
    expect(await canPing(a0.containerNs, a1.ip)).toBe(true);
    expect(await canPing(a1.containerNs, a0.ip)).toBe(true);
    // A fresh driver (a restarted daemon) finds nothing to do either.
    const fresh = new DataplaneDriver({ runner: env.node(0).runner, daemonNamespace: env.node(0).host.netns });
    expect(commandCount(await fresh.reconcile(all[0] as NodeDataplaneSpec))).toBe(0);
  });

  it('repairs a deleted VXLAN device, a flushed FDB, a deleted container interface and nft table', async () => {
    const all = specs([{ net: NET_A, endpoints: [a0, a1] }]);
    const ov0 = all[0]?.overlays[0]?.namespace ?? '';
    const ov1 = all[1]?.overlays[0]?.namespace ?? '';
    await runCommand('ip', ['-n', ov0, 'link', 'del', 'dev', 'vxlan0']);
    await runCommand('bridge', ['-n', ov1, 'fdb', 'flush', 'dev', 'vxlan0', 'self']);
    await runCommand('ip', ['-n', ov1, 'neigh', 'flush', 'dev', 'vxlan0', 'nud', 'permanent']);
    await runCommand('ip', ['-n', a1.containerNs, 'addr', 'flush', 'dev', 'eth0']);
    await env.hosts.exec(0, 'nft', ['delete', 'table', 'inet', 'vxmesh']);
    expect(await canPing(a0.containerNs, a1.ip, 1)).toBe(false);

    await converge(all);
    expect(await canPing(a0.containerNs, a1.ip)).toBe(true);
    expect(await canPing(a1.containerNs, a0.ip)).toBe(true);
    const table = await env.hosts.exec(0, 'nft', ['-j', 'list', 'table', 'inet', 'vxmesh']);
    expect(table.stdout).toContain('member_vteps4');
  });

  it('keeps two overlays apart', async () => {
    const all = specs([
      { net: NET_A, endpoints: [a0, a1] },
      { net: NET_B, endpoints: [b0, b1] },
    ]);
    await converge(all);
    expect(await canPing(b0.containerNs, b1.ip)).toBe(true);
    // Even with an on-link route into the other overlay's subnet, nothing answers.
    await runCommand('ip', ['-n', a0.containerNs, 'route', 'add', '10.2.0.0/24', 'dev', 'eth0']);
    expect(await canPing(a0.containerNs, b1.ip, 1)).toBe(false);
    expect(await canPing(a0.containerNs, b0.ip, 1)).toBe(false);
    // The driver owns eth0, so the foreign route is removed on the next pass.
    await reconcileAll(all);
    const routes = await runCommand('ip', ['-n', a0.containerNs, '-j', 'route', 'show', '10.2.0.0/24']);
    expect(JSON.parse(routes.stdout)).toEqual([]);
  });

  it('removes departed endpoints, peers and overlays', async () => {
    // b1 leaves: host1 has no local endpoint on B any more, so its overlay namespace goes;
    // host0 drops b1's FDB and neighbour entries.
    const withoutB1 = specs([
      { net: NET_A, endpoints: [a0, a1] },
      { net: NET_B, endpoints: [b0] },
    ]);
    const ovB0 = withoutB1[0]?.overlays[1]?.namespace ?? '';
    const ovB1 = specs([{ net: NET_B, endpoints: [b0, b1] }])[1]?.overlays[0]?.namespace ?? '';
    const reports = await Promise.all(env.nodes.map((n, i) => n.driver.reconcile(withoutB1[i] as NodeDataplaneSpec)));
    expect(reports[1]?.removedNamespaces).toEqual([ovB1]);
    expect(await namespacesWithPrefix(ovB1)).toEqual([]);
    const fdb = JSON.parse((await runCommand('bridge', ['-n', ovB0, '-j', 'fdb', 'show', 'dev', 'vxlan0'])).stdout) as {
      dst?: string;
    }[];
    expect(fdb.filter((f) => f.dst !== undefined)).toEqual([]);
    const links = await runCommand('ip', ['-n', b1.containerNs, '-j', 'link', 'show']);
    expect((JSON.parse(links.stdout) as { ifname: string }[]).map((l) => l.ifname)).toEqual(['lo']);
    expect(await reconcileAll(withoutB1)).toBe(0);

    // Overlay B goes entirely.
    const onlyA = specs([{ net: NET_A, endpoints: [a0, a1] }]);
    await converge(onlyA);
    expect(await namespacesWithPrefix(ovB0)).toEqual([]);
    expect(await canPing(a0.containerNs, a1.ip)).toBe(true);
  });

  it('routes between the subnets of a multi-subnet overlay across hosts', async () => {
    const id = networkId('cccc03');
    const x = { ns: await env.addContainer('x'), ip: '10.3.0.2' };
    const y = { ns: await env.addContainer('y'), ip: '10.4.0.2' };
    const subnets = [
      { index: 0, vni: 4111, gatewayCidr: '10.3.0.1/24' },
      { index: 1, vni: 4112, gatewayCidr: '10.4.0.1/24' },
    ];
    const specOf = (i: number): NodeDataplaneSpec => {
      const node = env.node(i);
      const [mine, theirs, mySubnet, theirSubnet] = i === 0 ? [x, y, 0, 1] : [y, x, 1, 0];
      return specFor(node, env.nodes, [
        {
          networkId: id,
          namespace: overlayNamespaceName(node.prefix, id),
          mtu: 1450,
          subnets,
          localEndpoints: [
            {
              endpointId: `${i}`.padEnd(16, 'e'),
              subnetIndex: mySubnet,
              containerNamespace: mine.ns,
              ifName: 'eth0',
              mac: macOf(mine.ip),
              ipv4Cidr: `${mine.ip}/24`,
              gateway: mySubnet === 0 ? '10.3.0.1' : '10.4.0.1',
              otherSubnets: [mySubnet === 0 ? '10.4.0.0/24' : '10.3.0.0/24'],
            },
          ],
          remoteEndpoints: [
            { endpointId: `${1 - i}`, subnetIndex: theirSubnet, mac: macOf(theirs.ip), ipv4: theirs.ip, vtep: env.node(1 - i).host.underlayIp },
          ],
        },
      ]);
    };
    const both = [specOf(0), specOf(1)];
    // Only this overlay on these specs: A and B of the other tests are torn down and rebuilt after.
    await converge(both);
    expect(await canPing(x.ns, y.ip)).toBe(true);
    expect(await canPing(y.ns, x.ip)).toBe(true);
    await converge(specs([{ net: NET_A, endpoints: [a0, a1] }]));
  });

  it('converges without errors after a pass killed at any point', async () => {
    const all = specs([{ net: NET_A, endpoints: [a0, a1] }]);
    const node = env.node(0);
    const empty = specFor(node, env.nodes, []);
    const clean = await node.driver.snapshot(all[0] as NodeDataplaneSpec);
    expect(Object.keys(clean.overlays)).toHaveLength(1);
    for (let killAt = 1; killAt <= 6; killAt++) {
      await node.driver.reconcile(empty);
      let mutations = 0;
      const dying: CommandRunner = {
        run: async (command: KernelCommand, options) => {
          const read = command.args.includes('-j') || command.args.includes('-n');
          if (!read && ++mutations >= killAt) {
            // Half of this batch reaches the kernel, then the daemon "dies".
            const lines = (command.input ?? '').split('\n');
            const half = lines.slice(0, Math.ceil(lines.length / 2)).join('\n');
            await node.runner.run(command.tool === 'ip' || command.tool === 'bridge' ? { ...command, input: half } : command, options);
            throw new Error('killed');
          }
          return node.runner.run(command, options);
        },
      };
      await new DataplaneDriver({ runner: dying, daemonNamespace: node.host.netns })
        .reconcile(all[0] as NodeDataplaneSpec)
        .catch(() => undefined);
      const restarted = new DataplaneDriver({ runner: node.runner, daemonNamespace: node.host.netns });
      const report = await restarted.reconcile(all[0] as NodeDataplaneSpec);
      expect(report.errors, `killed at mutation ${killAt}`).toEqual([]);
      expect(commandCount(await restarted.reconcile(all[0] as NodeDataplaneSpec)), `killed at ${killAt}`).toBe(0);
      expect(await restarted.snapshot(all[0] as NodeDataplaneSpec), `killed at ${killAt}`).toEqual(clean);
    }
    expect(await canPing(a0.containerNs, a1.ip)).toBe(true);
  });

  it('repairs the /run/netns entry of an `ip netns add` killed before its mount', async () => {
    const all = specs([{ net: NET_A, endpoints: [a0, a1] }]);
    const node = env.node(0);
    const ov = all[0]?.overlays[0]?.namespace ?? '';
    await node.driver.reconcile(specFor(node, env.nodes, []));
    await writeFile(`/run/netns/${ov}`, '');
    const report = await node.driver.reconcile(all[0] as NodeDataplaneSpec);
    expect(report.errors).toEqual([]);
    expect(report.removedNamespaces).toEqual([]);
    expect(await canPing(a0.containerNs, a1.ip)).toBe(true);
  });
});
