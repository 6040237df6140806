import { describe, expect, it } from 'vitest';
import { FakeCommandRunner } from '../../../src/vxlan/command-runner-fake.js';
import { DataplaneDriver } from '../../../src/vxlan/dataplane-driver.js';
import type {
  LbNamespaceSpec,
  LoadBalancingSpec,
  NodeDataplaneSpec,
  ReconcileReport,
} from '../../../src/vxlan/dataplane-spec.js';
import { baseSpec } from './fixtures.js';
import { seededRandom } from '../../support/seeded-random.js';

function total(report: ReconcileReport): number {
  return [...report.commands.values()].reduce((a, b) => a + b, 0);
}

const VIP = '10.0.1.200';

function vipNamespace(backends: readonly string[]): LbNamespaceSpec {
  return {
    namespace: 'c1',
    hook: 'output',
    frontends: [
      { addr: VIP, protocol: 'tcp', port: 80, backends: backends.map((addr) => ({ addr, port: 8080 })) },
      { addr: VIP, protocol: 'udp', port: 53, backends: [{ addr: '10.0.1.9', port: 53 }] },
    ],
  };
}

function withLb(lb: LoadBalancingSpec): NodeDataplaneSpec {
  return { ...baseSpec(), loadBalancing: lb };
}

function setup(fullReadEvery = 20): { runner: FakeCommandRunner; driver: DataplaneDriver } {
  const runner = new FakeCommandRunner({ daemonNamespace: 'host-a' });
  runner.kernel.addNamespace('c1');
  return {
    runner,
    driver: new DataplaneDriver({
      runner,
      daemonNamespace: 'host-a',
      lbFirstStamp: 100,
      lbFullReadEvery: fullReadEvery,
    }),
  };
}

/** `nft` commands of the history from `from` on, as "<scope> <args…>". */
function nftCommands(runner: FakeCommandRunner, from: number): string[] {
  return runner.history
    .slice(from)
    .filter((c) => c.tool === 'nft')
    .map((c) => `${c.scope.kind === 'netns' ? c.scope.name : c.scope.kind} ${c.args.join(' ')}`);
}

function slotsOf(runner: FakeCommandRunner, ns: string): Map<string, string> {
  return runner.kernel.get(ns).nftTables.get('ip vxmesh_lb')?.sets.get('backends')?.data ?? new Map<string, string>();
}

describe('load balancing through the driver (fake kernel)', () => {
  it('creates the VIP table, then a pass over an unchanged spec issues nothing and lists only the stamp', async () => {
    const { runner, driver } = setup();
    const spec = withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6', '10.0.1.7'])], publishedPorts: [] });
    const first = await driver.reconcile(spec);
    expect(first.errors).toEqual([]);
    const slots = slotsOf(runner, 'c1');
    expect(slots.size).toBe(24);
    expect(slots.get(`${VIP} . tcp . 80 . 0`)).toBe('10.0.1.5 . 8080');
    expect(slots.get(`${VIP} . tcp . 80 . 4`)).toBe('10.0.1.6 . 8080');
    expect(slots.get(`${VIP} . tcp . 80 . 11`)).toBe('10.0.1.7 . 8080');
    expect([...(runner.kernel.get('c1').nftTables.get('ip vxmesh_lb')?.chains.keys() ?? [])]).toEqual(['output']);

    const mark = runner.history.length;
    const mutations = runner.mutations().length;
    const again = await driver.reconcile(spec);
    expect(again.errors).toEqual([]);
    expect(total(again)).toBe(0);
    expect(runner.mutations().length).toBe(mutations);
    // No published port: the publish table, known absent, is not even listed.
    expect(nftCommands(runner, mark).sort()).toEqual([
      'c1 -j list set ip vxmesh_lb stamp',
      'daemon -j list table inet vxmesh',
    ]);
  });

  it('moves one backend with one transaction holding only the moved slots and a compare-and-swap of the stamp', async () => {
    const { runner, driver } = setup();
    await driver.reconcile(
      withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6', '10.0.1.7'])], publishedPorts: [] }),
    );
    const before = runner.mutations().length;
    const mark = runner.history.length;
    const report = await driver.reconcile(
      withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6', '10.0.1.8'])], publishedPorts: [] }),
    );
    expect(report.errors).toEqual([]);
    const writes = runner.mutations().slice(before);
    expect(writes.map((c) => [c.tool, c.scope])).toEqual([['nft', { kind: 'netns', name: 'c1' }]]);
    expect(writes[0]?.input?.trim().split('\n')).toEqual([
      'delete element ip vxmesh_lb stamp { 100 }',
      `delete element ip vxmesh_lb backends { ${[2, 5, 8, 11].map((s) => `${VIP} . tcp . 80 . ${s}`).join(', ')} }`,
      `add element ip vxmesh_lb backends { ${[2, 5, 8, 11].map((s) => `${VIP} . tcp . 80 . ${s} : 10.0.1.8 . 8080`).join(', ')} }`,
      'add element ip vxmesh_lb stamp { 101 }',
    ]);
    // The write checks the stamp itself: it was not listed.
    expect(nftCommands(runner, mark).filter((c) => c.startsWith('c1 '))).toEqual(['c1 -f -']);
    expect(slotsOf(runner, 'c1').get(`${VIP} . tcp . 80 . 2`)).toBe('10.0.1.8 . 8080');
  });

  it('a compare-and-swap write meeting another stamp changes nothing, and the same reconcile converges', async () => {
    const { runner, driver } = setup();
    await driver.reconcile(withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6'])], publishedPorts: [] }));
    // Out of band: the table is rebuilt by someone else (another stamp, one slot elsewhere).
    const table = runner.kernel.get('c1').nftTables.get('ip vxmesh_lb');
    table?.sets.get('stamp')?.elements.clear();
    table?.sets.get('stamp')?.elements.add('7');
    table?.sets.get('backends')?.data.set(`${VIP} . tcp . 80 . 0`, '10.0.1.99 . 8080');
    const mark = runner.history.length;
    const report = await driver.reconcile(
      withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.7'])], publishedPorts: [] }),
    );
    expect(report.errors).toEqual([]);
    // The refused transaction, then a full read and the repair.
    expect(nftCommands(runner, mark).filter((c) => c.startsWith('c1 '))).toEqual([
      'c1 -f -',
      'c1 -j list table ip vxmesh_lb',
      'c1 -f -',
    ]);
    const slots = slotsOf(runner, 'c1');
    expect(slots.get(`${VIP} . tcp . 80 . 0`)).toBe('10.0.1.5 . 8080');
    expect(slots.get(`${VIP} . tcp . 80 . 1`)).toBe('10.0.1.7 . 8080');
    const fresh = new DataplaneDriver({ runner, daemonNamespace: 'host-a', lbFirstStamp: 1 });
    expect(
      total(
        await fresh.reconcile(withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.7'])], publishedPorts: [] })),
      ),
    ).toBe(0);
  });

  it('a restarted driver (empty cache) reads everything and issues nothing for the same spec', async () => {
    const { runner, driver } = setup();
    const spec = withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6'])], publishedPorts: [] });
    await driver.reconcile(spec);
    const restarted = new DataplaneDriver({ runner, daemonNamespace: 'host-a', lbFirstStamp: 5000 });
    const mark = runner.history.length;
    const mutations = runner.mutations().length;
    const report = await restarted.reconcile(spec);
    expect(report.errors).toEqual([]);
    expect(total(report)).toBe(0);
    expect(runner.mutations().length).toBe(mutations);
    expect(nftCommands(runner, mark)).toContain('c1 -j list table ip vxmesh_lb');
  });

  it('repairs an out-of-band element change at the next full read, and a deleted table at once', async () => {
    const { runner, driver } = setup(3);
    const spec = withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6'])], publishedPorts: [] });
    await driver.reconcile(spec);
    const table = runner.kernel.get('c1').nftTables.get('ip vxmesh_lb');
    table?.sets.get('backends')?.elements.delete(`${VIP} . tcp . 80 . 3`);
    table?.sets.get('backends')?.data.delete(`${VIP} . tcp . 80 . 3`);
    // Passes 2 and 3 trust the stamp; pass 4 is a full read (every 3rd) and repairs.
    expect(total(await driver.reconcile(spec))).toBe(0);
    expect(total(await driver.reconcile(spec))).toBe(0);
    const repair = await driver.reconcile(spec);
    expect(repair.errors).toEqual([]);
    expect(repair.commands.get('c1')).toBe(3);
    expect(slotsOf(runner, 'c1').get(`${VIP} . tcp . 80 . 3`)).toBe('10.0.1.6 . 8080');

    runner.kernel.get('c1').nftTables.delete('ip vxmesh_lb');
    const recreated = await driver.reconcile(spec);
    expect(recreated.errors).toEqual([]);
    expect(slotsOf(runner, 'c1').size).toBe(24);
  });

  it('a table created out of band where none is wanted goes at the next full read', async () => {
    const { runner, driver } = setup(3);
    const spec = withLb({ namespaces: [], publishedPorts: [] });
    await driver.reconcile(spec);
    await runner.run({
      tool: 'nft',
      scope: { kind: 'netns', name: 'c1' },
      args: ['-f', '-'],
      input: 'add table ip vxmesh_lb\n',
    });
    expect(total(await driver.reconcile(spec))).toBe(0);
    expect(total(await driver.reconcile(spec))).toBe(0);
    const report = await driver.reconcile(spec);
    expect(report.commands.get('c1')).toBe(1);
    expect(runner.kernel.get('c1').nftTables.has('ip vxmesh_lb')).toBe(false);
  });

  it('a compare-and-swap transaction refused because the cache was stale is retried at once with a full read', async () => {
    const { runner, driver } = setup();
    await driver.reconcile(withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.6'])], publishedPorts: [] }));
    // Out of band, without the stamp: the element the next change deletes is already gone.
    const table = runner.kernel.get('c1').nftTables.get('ip vxmesh_lb');
    table?.sets.get('backends')?.elements.delete(`${VIP} . tcp . 80 . 1`);
    table?.sets.get('backends')?.data.delete(`${VIP} . tcp . 80 . 1`);
    const next = withLb({ namespaces: [vipNamespace(['10.0.1.5', '10.0.1.7'])], publishedPorts: [] });
    const fixed = await driver.reconcile(next);
    expect(fixed.errors).toEqual([]);
    expect(slotsOf(runner, 'c1').get(`${VIP} . tcp . 80 . 1`)).toBe('10.0.1.7 . 8080');
    expect(total(await driver.reconcile(next))).toBe(0);
  });

  it('programs the ingress sandbox, published ports and their sysctls; removes what is no longer wanted', async () => {
    const { runner, driver } = setup();
    runner.kernel.addNamespace('vxd-ingress-sbox');
    const lb: LoadBalancingSpec = {
      namespaces: [
        vipNamespace(['10.0.1.5']),
        {
          namespace: 'vxd-ingress-sbox',
          hook: 'prerouting',
          masqueradeOut: 'eth0',
          frontends: [
            { addr: '172.18.255.254', protocol: 'tcp', port: 8080, backends: [{ addr: '10.255.0.5', port: 80 }] },
          ],
        },
      ],
      publishedPorts: [
        { protocol: 'tcp', port: 8080, target: { addr: '172.18.255.254', port: 8080 }, mode: 'ingress' },
        { protocol: 'tcp', port: 9000, target: { addr: '172.18.0.2', port: 80 }, mode: 'host' },
      ],
      ingressSandbox: { namespace: 'vxd-ingress-sbox', egressAddr: '172.18.255.254' },
    };
    const report = await driver.reconcile(withLb(lb));
    expect(report.errors).toEqual([]);
    const sandbox = runner.kernel.get('vxd-ingress-sbox');
    expect([...(sandbox.nftTables.get('ip vxmesh_lb')?.chains.keys() ?? [])]).toEqual(['prerouting', 'postrouting']);
    expect(sandbox.sysctls.get('net.ipv4.ip_forward')).toBe('1');
    const publish = runner.daemon.nftTables.get('ip vxmesh_publish');
    expect(publish?.sets.get('ports')?.data).toEqual(
      new Map([
        ['tcp . 8080', '172.18.255.254 . 8080'],
        ['tcp . 9000', '172.18.0.2 . 80'],
      ]),
    );
    expect([...(publish?.chains.keys() ?? [])]).toEqual(['prerouting', 'output', 'postrouting']);
    expect(runner.daemon.sysctls.get('net.ipv4.conf.vxgw0.route_localnet')).toBe('1');
    // The guard table is untouched by the LB.
    expect([...(runner.daemon.nftTables.get('inet vxmesh')?.chains.keys() ?? [])]).toEqual([
      'input',
      'forward',
      'postrouting',
    ]);
    expect(total(await driver.reconcile(withLb(lb)))).toBe(0);

    // c1 leaves the LB, no port is published any more: both tables go.
    const fewer = { ...lb, namespaces: lb.namespaces.slice(1), publishedPorts: [] };
    const removed = await driver.reconcile(withLb(fewer));
    expect(removed.errors).toEqual([]);
    expect(runner.kernel.get('c1').nftTables.has('ip vxmesh_lb')).toBe(false);
    expect(runner.daemon.nftTables.has('ip vxmesh_publish')).toBe(false);
    expect(total(await driver.reconcile(withLb(fewer)))).toBe(0);

    // Without an LB section the driver leaves LB tables alone.
    const mark = runner.history.length;
    expect(total(await driver.reconcile(baseSpec()))).toBe(0);
    expect(sandbox.nftTables.has('ip vxmesh_lb')).toBe(true);
    expect(nftCommands(runner, mark)).toEqual(['daemon -j list table inet vxmesh']);
  });

  it('refuses an invalid LB section before touching anything', async () => {
    const { runner, driver } = setup();
    const bad = withLb({
      namespaces: [
        { namespace: 'c1', hook: 'output', frontends: [{ addr: 'fd00::1', protocol: 'tcp', port: 80, backends: [] }] },
      ],
      publishedPorts: [{ protocol: 'udp', port: 4789, target: { addr: '172.18.0.2', port: 4789 }, mode: 'host' }],
    });
    await expect(driver.reconcile(bad)).rejects.toThrow(/not an IPv4 address.*VXLAN port/s);
    expect(runner.mutations()).toEqual([]);
  });

  it('reports a namespace of the LB section that does not exist', async () => {
    const { driver } = setup();
    const report = await driver.reconcile(
      withLb({ namespaces: [{ ...vipNamespace(['10.0.1.5']), namespace: 'ghost' }], publishedPorts: [] }),
    );
    expect(report.errors).toEqual(['load balancing: namespace ghost does not exist']);
  });
});

describe('incremental LB passes (lb-delta.ts)', () => {

  type Frontend = LbNamespaceSpec['frontends'][number];

  function mutate(frontends: readonly Frontend[], next: () => number): Frontend[] {
    const out = frontends.map((f) => ({ ...f, backends: [...f.backends] }));
    const pick = (): number => Math.floor(next() * out.length);
    const edits = 1 + Math.floor(next() * 3);
    for (let e = 0; e < edits; e++) {
      const i = pick();
      const f = out[i];
      if (f === undefined) {
        continue;
      }
      const r = next();
      if (r < 0.3) {
        // Move, add or drop a backend (possibly to none).
        const backends = f.backends.filter(() => next() < 0.7);
        if (next() < 0.6) {
          backends.push({ addr: `10.9.${Math.floor(next() * 4)}.${1 + Math.floor(next() * 200)}`, port: 8080 });
        }
        out[i] = { ...f, backends };
      } else if (r < 0.45) {
        // Reordered backends: same table.
        out[i] = { ...f, backends: [...f.backends].reverse() };
      } else if (r < 0.75) {
        // Another VIP (a new key, the old one gone).
        out[i] = { ...f, addr: `10.8.${Math.floor(next() * 4)}.${1 + Math.floor(next() * 250)}` };
      } else if (r < 0.78) {
        // A duplicate key (the first one wins): the full diff handles it.
        const j = pick();
        const g = out[j];
        if (g !== undefined) {
          out[i] = { ...f, addr: g.addr, protocol: g.protocol, port: g.port };
        }
      } else if (r < 0.84) {
        out.splice(i, 1);
      } else if (r < 0.9) {
        out.push({
          addr: `10.7.0.${1 + Math.floor(next() * 250)}`,
          protocol: 'udp',
          port: 53,
          backends: [{ addr: '10.9.9.9', port: 53 }],
        });
      } else {
        out[i] = { ...f, port: f.port + 1 };
      }
    }
    return out;
  }

  it('leaves the same table as a full diff over a random sequence of changes', async () => {
    const { runner, driver } = setup(1_000_000);
    const next = seededRandom(7);
    let frontends: Frontend[] = Array.from({ length: 40 }, (_, i) => ({
      addr: `10.8.0.${i + 1}`,
      protocol: 'tcp' as const,
      port: 80,
      backends: [0, 1, 2].map((b) => ({ addr: `10.9.0.${i * 3 + b + 1}`, port: 8080 })),
    }));
    const spec = (): NodeDataplaneSpec =>
      withLb({ namespaces: [{ namespace: 'c1', hook: 'output', frontends }], publishedPorts: [] });
    expect((await driver.reconcile(spec())).errors).toEqual([]);
    for (let step = 0; step < 100; step++) {
      frontends = mutate(frontends, next);
      const report = await driver.reconcile(spec());
      expect(report.errors).toEqual([]);
      // A driver with an empty cache reads the whole table and finds nothing to change.
      const fresh = new DataplaneDriver({ runner, daemonNamespace: 'host-a', lbFirstStamp: 1 });
      const check = await fresh.reconcile(spec());
      expect(check.errors).toEqual([]);
      expect(total(check)).toBe(0);
    }
  });

  it('diffs only what changed, without the caller keeping its objects', async () => {
    const { runner, driver } = setup(1_000_000);
    const frontends = (third: string): LbNamespaceSpec['frontends'] =>
      Array.from({ length: 20 }, (_, i) => ({
        addr: `10.8.0.${i + 1}`,
        protocol: 'tcp' as const,
        port: 80,
        backends: [
          { addr: '10.9.0.1', port: 8080 },
          { addr: '10.9.0.2', port: 8080 },
          { addr: i === 4 ? third : '10.9.0.3', port: 8080 },
        ],
      }));
    const spec = (third: string): NodeDataplaneSpec =>
      withLb({ namespaces: [{ namespace: 'c1', hook: 'output', frontends: frontends(third) }], publishedPorts: [] });
    await driver.reconcile(spec('10.9.0.3'));
    const mark = runner.history.length;
    const before = runner.mutations().length;
    const report = await driver.reconcile(spec('10.9.0.4'));
    expect(report.errors).toEqual([]);
    expect(nftCommands(runner, mark)).not.toContain('c1 -j list table ip vxmesh_lb');
    expect(runner.mutations().slice(before)[0]?.input?.trim().split('\n')).toEqual([
      'delete element ip vxmesh_lb stamp { 100 }',
      `delete element ip vxmesh_lb backends { ${[2, 5, 8, 11].map((s) => `10.8.0.5 . tcp . 80 . ${s}`).join(', ')} }`,
      `add element ip vxmesh_lb backends { ${[2, 5, 8, 11].map((s) => `10.8.0.5 . tcp . 80 . ${s} : 10.9.0.4 . 8080`).join(', ')} }`,
      'add element ip vxmesh_lb stamp { 101 }',
    ]);
    // Equal but new objects: nothing to do.
    expect(total(await driver.reconcile(spec('10.9.0.4')))).toBe(0);
  });
});

describe('ingress ports balanced in the daemon namespace', () => {
  const SBOX = 'vxd-ingress-sbox';
  const lb = (local: { addr: string; egressAddr: string }[]): LoadBalancingSpec => ({
    namespaces: [
      {
        namespace: SBOX,
        hook: 'prerouting',
        masqueradeOut: 'eth0',
        frontends: [
          {
            addr: '172.18.255.254',
            protocol: 'tcp',
            port: 8080,
            backends: ['10.255.0.11', '10.255.0.12', '10.255.0.13'].map((addr) => ({ addr, port: 80 })),
          },
        ],
      },
    ],
    publishedPorts: [{ protocol: 'tcp', port: 8080, target: { addr: '172.18.255.254', port: 8080 }, mode: 'ingress' }],
    ingressSandbox: { namespace: SBOX, egressAddr: '172.18.255.254', localBackends: local },
  });

  it('DNATs the local backends’ slots to the task and the rest to the sandbox; follows changes', async () => {
    const { runner, driver } = setup();
    runner.kernel.addNamespace(SBOX);
    const none = await driver.reconcile(withLb(lb([])));
    expect(none.errors).toEqual([]);
    const publish = (): { ports: Map<string, string> | undefined; rules: string[] } => {
      const t = runner.daemon.nftTables.get('ip vxmesh_publish');
      return {
        ports: t?.sets.get('ports')?.data,
        rules: t?.chains.get('prerouting')?.rules.map((r) => r.text) ?? [],
      };
    };
    expect(publish().ports).toEqual(new Map([['tcp . 8080', '172.18.255.254 . 8080']]));

    const split = await driver.reconcile(withLb(lb([{ addr: '10.255.0.12', egressAddr: '172.18.0.7' }])));
    expect(split.errors).toEqual([]);
    const { ports, rules } = publish();
    // Still in the map: hairpin connections (from the egress bridge) skip the split rule.
    expect(ports).toEqual(new Map([['tcp . 8080', '172.18.255.254 . 8080']]));
    expect(rules).toHaveLength(2);
    expect(rules[0]).toMatch(/^iifname != "vxgw0" fib daddr type local /);
    const slots = Array.from({ length: 12 }, (_, k) =>
      k % 3 === 1 ? `${k} : 172.18.0.7 . 80` : `${k} : 172.18.255.254 . 8080`,
    );
    expect(rules[0]).toContain(
      `fib daddr type local meta l4proto tcp th dport 8080 dnat ip to jhash ip saddr . th sport mod 12 seed 0x766d7368 map { ${slots.join(', ')} }`,
    );
    const output = runner.daemon.nftTables.get('ip vxmesh_publish')?.chains.get('output')?.rules ?? [];
    expect(output).toHaveLength(2);
    // Locally generated packets have no input interface: no iifname in the output chain.
    expect(output[0]?.text).toMatch(/^fib daddr type local /);
    expect(total(await driver.reconcile(withLb(lb([{ addr: '10.255.0.12', egressAddr: '172.18.0.7' }]))))).toBe(0);

    // Another local task: the rule is rewritten (its comment carries a digest of the slots).
    const two = [
      { addr: '10.255.0.11', egressAddr: '172.18.0.6' },
      { addr: '10.255.0.12', egressAddr: '172.18.0.7' },
    ];
    expect((await driver.reconcile(withLb(lb(two)))).errors).toEqual([]);
    expect(publish().rules[0]).toContain('0 : 172.18.0.6 . 80, 1 : 172.18.0.7 . 80, 2 : 172.18.255.254 . 8080');
    // A fresh driver agrees.
    const fresh = new DataplaneDriver({ runner, daemonNamespace: 'host-a', lbFirstStamp: 1 });
    expect(total(await fresh.reconcile(withLb(lb(two))))).toBe(0);

    // No local task any more: back to the port map.
    expect((await driver.reconcile(withLb(lb([])))).errors).toEqual([]);
    expect(publish().ports).toEqual(new Map([['tcp . 8080', '172.18.255.254 . 8080']]));
    expect(publish().rules).toHaveLength(1);
  });
});

describe('the ingress sandbox’s egress port and br_netfilter', () => {
  const SBOX = 'vxd-ingress-sbox';
  const withSandbox = (): NodeDataplaneSpec => {
    const base = baseSpec();
    const egress = base.egress;
    if (egress === undefined) {
      throw new Error('baseSpec has egress');
    }
    return {
      ...base,
      egress: {
        ...egress,
        attachments: [
          ...egress.attachments,
          { containerId: 'ingress-sbox', containerNamespace: SBOX, ifName: 'eth1', ipv4Cidr: '172.18.255.254/16', defaultRoute: true },
        ],
      },
      loadBalancing: {
        namespaces: [],
        publishedPorts: [{ protocol: 'tcp', port: 8080, target: { addr: '172.18.255.254', port: 8080 }, mode: 'ingress' }],
        ingressSandbox: { namespace: SBOX, egressAddr: '172.18.255.254' },
      },
    };
  };

  it('is isolated without br_netfilter, open with bridge-nf-call-iptables=1, and follows a change', async () => {
    const { runner, driver } = setup();
    runner.kernel.addNamespace(SBOX);
    // No such sysctl at all: br_netfilter not loaded.
    expect((await driver.reconcile(withSandbox())).errors).toEqual([]);
    expect(runner.daemon.links.get('gwingress-sbox')?.isolated).toBe(true);
    expect(runner.daemon.links.get('gwc1c1c1c1c1c1')?.isolated).toBe(true);

    runner.daemon.sysctls.set('net.bridge.bridge-nf-call-iptables', '1');
    expect((await driver.reconcile(withSandbox())).errors).toEqual([]);
    expect(runner.daemon.links.get('gwingress-sbox')?.isolated).toBe(false);
    expect(runner.daemon.links.get('gwc1c1c1c1c1c1')?.isolated).toBe(true);
    expect(total(await driver.reconcile(withSandbox()))).toBe(0);

    runner.daemon.sysctls.set('net.bridge.bridge-nf-call-iptables', '0');
    expect((await driver.reconcile(withSandbox())).errors).toEqual([]);
    expect(runner.daemon.links.get('gwingress-sbox')?.isolated).toBe(true);
  });
});
