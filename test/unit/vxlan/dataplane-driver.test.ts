import { describe, expect, it } from 'vitest';
import { FakeCommandRunner } from '../../../src/vxlan/command-runner-fake.js';
import type { CommandRunner, KernelCommand, KernelCommandResult } from '../../../src/vxlan/command-runner.js';
import { DataplaneDriver } from '../../../src/vxlan/dataplane-driver.js';
import type { NodeDataplaneSpec, ReconcileReport } from '../../../src/vxlan/dataplane-spec.js';
import { FakeKernel } from '../../../src/vxlan/fake-kernel.js';
import { NET_A, NET_B, baseSpec, noEgress, overlay, snapshot } from './fixtures.js';

const OV_A = `vxd-o-${NET_A.slice(0, 12)}`;
const OV_B = `vxd-o-${NET_B.slice(0, 12)}`;

function total(report: ReconcileReport): number {
  return [...report.commands.values()].reduce((a, b) => a + b, 0);
}

function setup(daemonNamespace?: string): { runner: FakeCommandRunner; driver: DataplaneDriver } {
  const runner = new FakeCommandRunner(daemonNamespace === undefined ? {} : { daemonNamespace });
  runner.kernel.addNamespace('c1');
  runner.kernel.addNamespace('c2');
  const driver = new DataplaneDriver({ runner, ...(daemonNamespace === undefined ? {} : { daemonNamespace }) });
  return { runner, driver };
}

async function ip(runner: CommandRunner, ns: string | undefined, line: string): Promise<KernelCommandResult> {
  return runner.run({
    tool: 'ip',
    scope: ns === undefined ? { kind: 'daemon' } : { kind: 'netns', name: ns },
    args: line.split(' '),
  });
}

/** Converges with the spec, then checks that a second pass does nothing. */
async function converge(driver: DataplaneDriver, runner: FakeCommandRunner, spec: NodeDataplaneSpec): Promise<ReconcileReport> {
  const report = await driver.reconcile(spec);
  expect(report.errors).toEqual([]);
  const before = runner.mutations().length;
  const again = await driver.reconcile(spec);
  expect(again.errors).toEqual([]);
  expect(total(again)).toBe(0);
  expect(runner.mutations().length).toBe(before);
  return report;
}

describe('DataplaneDriver on the fake kernel', () => {
  for (const daemonNamespace of [undefined, 'host-a']) {
    it(`builds the overlay, endpoints, egress and guard, then is idempotent (daemon ${daemonNamespace ?? 'host'})`, async () => {
      const { runner, driver } = setup(daemonNamespace);
      const report = await converge(driver, runner, baseSpec());
      expect(report.commands.get(OV_A)).toBeGreaterThan(0);

      const ov = runner.kernel.get(OV_A);
      const vx = ov.link('vxlan0');
      expect(vx.vxlan).toMatchObject({ vni: 4097, port: 4789, local: '198.51.100.10', learning: false, proxy: true });
      expect(vx.vxlan?.socketNs).toBe(runner.daemon);
      expect(vx.master).toBe('br0');
      expect(ov.link('br0').addresses.map((a) => a.cidr)).toEqual(['10.0.1.1/24']);
      expect([...ov.fdb.values()]).toEqual([{ mac: '02:42:0a:00:01:03', dev: 'vxlan0', dsts: ['198.51.100.11'] }]);
      expect([...ov.neighbours.values()]).toEqual([
        { ip: '10.0.1.3', dev: 'vxlan0', lladdr: '02:42:0a:00:01:03', permanent: true },
      ]);
      const c1 = runner.kernel.get('c1');
      expect(c1.link('eth0')).toMatchObject({ mac: '02:42:0a:00:01:02', mtu: 1450, up: true });
      expect(c1.link('eth0').peer?.ns).toBe(ov);
      expect(c1.link('eth1').addresses.map((a) => a.cidr)).toEqual(['172.18.0.2/16']);
      expect(c1.routes).toEqual([{ dst: 'default', family: 4, gateway: '172.18.0.1', dev: 'eth1', protocol: 'boot' }]);
      const daemon = runner.daemon;
      expect(daemon.link('vxgw0').addresses.map((a) => a.cidr)).toEqual(['172.18.0.1/16']);
      expect(daemon.link('gwc1c1c1c1c1c1')).toMatchObject({ master: 'vxgw0', isolated: true, up: true });
      expect(daemon.sysctls.get('net.ipv4.ip_forward')).toBe('1');
      const table = daemon.nftTables.get('inet vxmesh');
      expect([...(table?.sets.get('member_vteps4')?.elements ?? [])].sort()).toEqual(['198.51.100.10', '198.51.100.11']);
      expect([...(table?.chains.keys() ?? [])]).toEqual(['input', 'forward', 'postrouting']);
    });
  }

  it('repairs tampering: deleted links, flushed FDB, changed neighbour, MTU, deleted nft table', async () => {
    const { runner, driver } = setup('host-a');
    const spec = baseSpec();
    await converge(driver, runner, spec);
    const clean = snapshot(runner.kernel);

    await ip(runner, OV_A, 'link del dev vxlan0');
    await ip(runner, OV_A, 'link set dev br0 mtu 1300');
    await ip(runner, 'c1', 'link del dev eth1');
    await ip(runner, 'c1', 'addr del 10.0.1.2/24 dev eth0');
    await runner.run({ tool: 'nft', scope: { kind: 'daemon' }, args: ['-f', '-'], input: 'delete table inet vxmesh\n' });
    await converge(driver, runner, spec);
    expect(snapshot(runner.kernel)).toEqual(clean);

    runner.kernel.get(OV_A).fdb.clear();
    await ip(runner, OV_A, 'neigh replace 10.0.1.3 lladdr 02:00:00:00:00:99 dev vxlan0 nud permanent');
    await ip(runner, OV_A, 'neigh replace 10.0.1.77 lladdr 02:00:00:00:00:77 dev vxlan0 nud permanent');
    await ip(runner, 'c1', 'link set dev eth0 mtu 1500 address 02:00:00:00:00:01');
    await converge(driver, runner, spec);
    expect(snapshot(runner.kernel)).toEqual(clean);
  });

  it('removes departed peers, endpoints, overlays and egress', async () => {
    const { runner, driver } = setup();
    const spec = baseSpec();
    const two: NodeDataplaneSpec = { ...spec, overlays: [...spec.overlays, overlay(NET_B, 4098, 2, 'c2')] };
    await converge(driver, runner, two);
    expect(runner.kernel.find(OV_B)).toBeDefined();

    // Peer leaves overlay A.
    const a = two.overlays[0];
    const b = two.overlays[1];
    if (a === undefined || b === undefined) {
      throw new Error('fixture');
    }
    await converge(driver, runner, { ...two, overlays: [{ ...a, remoteEndpoints: [] }, b] });
    expect(runner.kernel.get(OV_A).fdb.size).toBe(0);
    expect(runner.kernel.get(OV_A).neighbours.size).toBe(0);

    // Overlay B goes: its namespace and c2's eth0 with it.
    const report = await converge(driver, runner, { ...two, overlays: [{ ...a, remoteEndpoints: [] }] });
    expect(report.removedNamespaces).toEqual([OV_B]);
    expect(runner.kernel.find(OV_B)).toBeUndefined();
    expect(runner.kernel.get('c2').links.has('eth0')).toBe(false);

    // Local endpoint leaves A; then egress goes.
    await converge(driver, runner, { ...two, overlays: [{ ...a, localEndpoints: [] }], egress: { bridge: 'vxgw0', gatewayCidr: '172.18.0.1/16', attachments: [] } });
    expect(runner.kernel.get(OV_A).links.has(`vec1epaaaa0000`)).toBe(false);
    expect(runner.kernel.get('c1').links.has('eth0')).toBe(false);
    expect(runner.kernel.get('c1').links.has('eth1')).toBe(false);
    await converge(driver, runner, noEgress(two, { overlays: [] }));
    expect(runner.kernel.host.links.has('vxgw0')).toBe(false);
    expect([...(runner.kernel.host.nftTables.get('inet vxmesh')?.chains.keys() ?? [])]).toEqual(['input']);
    expect(runner.kernel.names().filter((n) => n.startsWith('vxd-'))).toEqual([]);
  });

  it('moves eth0 from one overlay to another in one pass', async () => {
    const { runner, driver } = setup();
    const spec = baseSpec();
    await converge(driver, runner, spec);
    await converge(driver, runner, { ...spec, overlays: [overlay(NET_B, 4098, 2, 'c1', 'eth0')] });
    expect(runner.kernel.get('c1').link('eth0').peer?.ns.name).toBe(OV_B);
  });

  it('takes over the VNI of a stale namespace left by a predecessor', async () => {
    const { runner, driver } = setup();
    runner.kernel.addNamespace('vxd-o-zzzzzzzzzzzz');
    await ip(runner, undefined, 'link add name vxlan0 netns vxd-o-zzzzzzzzzzzz type vxlan id 4097 dstport 4789 local 198.51.100.10 nolearning');
    // And a foreign eth0 in the container (not paired with anything of ours).
    await ip(runner, 'c1', 'link add name eth0 type dummy');
    const report = await converge(driver, runner, baseSpec());
    expect(report.removedNamespaces).toEqual(['vxd-o-zzzzzzzzzzzz']);
    expect(runner.kernel.get('c1').link('eth0').kind).toBe('veth');
  });

  it('repairs registry entries left by a killed `ip netns add`', async () => {
    const { runner, driver } = setup();
    runner.kernel.addBrokenEntry(OV_A);
    runner.kernel.addBrokenEntry('vxd-o-stalestale00');
    const report = await converge(driver, runner, baseSpec());
    expect(report.removedNamespaces).toEqual(['vxd-o-stalestale00']);
    expect(runner.kernel.get(OV_A).links.has('vxlan0')).toBe(true);
  });

  it('never touches namespaces or daemon links that are not its own', async () => {
    const { runner, driver } = setup();
    runner.kernel.addNamespace('other-o-aaaaaaaaaaaa');
    await ip(runner, undefined, 'link add name docker0 type bridge');
    await converge(driver, runner, noEgress(baseSpec(), { overlays: [] }));
    expect(runner.kernel.find('other-o-aaaaaaaaaaaa')).toBeDefined();
    expect(runner.kernel.host.links.has('docker0')).toBe(true);
  });

  it('converges after being killed at any point of a pass', async () => {
    const reference = setup();
    await converge(reference.driver, reference.runner, baseSpec());
    const clean = snapshot(reference.runner.kernel);

    for (let killAt = 1; killAt <= 12; killAt++) {
      const kernel = new FakeKernel();
      kernel.addNamespace('c1');
      kernel.addNamespace('c2');
      const inner = new FakeCommandRunner({ kernel });
      let mutations = 0;
      const dying: CommandRunner = {
        run: (command: KernelCommand, options) => {
          const mutating = !(command.args.includes('-j') || (command.tool === 'sysctl' && command.args.includes('-n')));
          if (mutating && ++mutations >= killAt) {
            // Apply this batch only halfway: the first half of its lines, then "SIGKILL".
            const lines = (command.input ?? '').split('\n');
            const half = { ...command, input: lines.slice(0, Math.ceil(lines.length / 2)).join('\n') };
            return inner.run(command.tool === 'nft' || command.tool === 'sysctl' ? command : half, options).then(() => {
              throw new Error('killed');
            });
          }
          return inner.run(command, options);
        },
      };
      await new DataplaneDriver({ runner: dying }).reconcile(baseSpec()).catch(() => undefined);
      const fresh = new DataplaneDriver({ runner: inner });
      const report = await fresh.reconcile(baseSpec());
      expect(report.errors, `killed at mutation ${killAt}`).toEqual([]);
      const again = await fresh.reconcile(baseSpec());
      expect(total(again), `killed at mutation ${killAt}`).toBe(0);
      expect(snapshot(kernel), `killed at mutation ${killAt}`).toEqual(clean);
    }
  });

  it('snapshots what it owns, independent of ifindexes and kernel-chosen MACs', async () => {
    const { runner, driver } = setup('host-a');
    await converge(driver, runner, baseSpec());
    const snap = await driver.snapshot(baseSpec());
    const ov = snap.overlays[OV_A];
    expect(ov?.links.find((l) => l.name === 'vxlan0')).toMatchObject({
      master: 'br0',
      vxlan: 'id 4097 port 4789 local 198.51.100.10 learning false proxy true l2miss true l3miss true socket host-a',
    });
    expect(ov?.links.find((l) => l.name === 'vec1epaaaa0000')?.peer).toBe('c1/eth0');
    expect(ov?.fdb).toEqual(['vxlan0 02:42:0a:00:01:03 198.51.100.11 permanent']);
    expect(snap.containers['c1']?.routes).toEqual(['default via 172.18.0.1 dev eth1']);
    expect(snap.daemonLinks.map((l) => `${l.name} ${l.peer ?? ''}`)).toEqual(['gwc1c1c1c1c1c1 c1/eth1', 'vxgw0 ']);
    expect(snap.nft?.chains['input']).toEqual(['vxmesh guard4 udp 4789', 'vxmesh guard6 udp 4789']);

    // The same dataplane built on another kernel (other ifindexes, ids, MACs) snapshots equal.
    const other = setup('host-a');
    await ip(other.runner, undefined, 'link add name dummy7 type dummy');
    await converge(other.driver, other.runner, baseSpec());
    expect(await other.driver.snapshot(baseSpec())).toEqual(snap);
  });

  it('rejects an invalid spec before touching anything', async () => {
    const { runner, driver } = setup();
    const bad = { ...baseSpec(), overlays: [{ ...overlay(NET_A, 4097, 1), namespace: 'elsewhere' }] };
    await expect(driver.reconcile(bad)).rejects.toThrow(/namespace/);
    expect(runner.mutations()).toEqual([]);
  });

  it('reports a missing container namespace and programs the rest', async () => {
    const { runner, driver } = setup();
    runner.kernel.deleteNamespace('c1');
    const report = await driver.reconcile(baseSpec());
    expect(report.errors.some((e) => e.includes('c1'))).toBe(true);
    expect(runner.kernel.get(OV_A).fdb.size).toBe(1);
  });
});
