/**
 * Service VIPs on a real kernel: a client container and three backend containers on one overlay,
 * the VIP's nft table in the client's namespace (hook output), TCP servers that name themselves.
 * Source ports are fixed, so the jhash spread is the same on every run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import type { CommandRunner, KernelCommand, KernelCommandResult } from '../../src/vxlan/command-runner.js';
import { DataplaneDriver } from '../../src/vxlan/dataplane-driver.js';
import type { LbBackendSpec, NodeDataplaneSpec, OverlaySpec } from '../../src/vxlan/dataplane-spec.js';
import {
  commandCount,
  createDataplaneHosts,
  namespacesWithPrefix,
  networkId,
  overlayFor,
  specFor,
} from './dataplane-hosts.js';
import type { DataplaneHosts, TestEndpoint } from './dataplane-hosts.js';
import { LbClient, killLbProcesses, startNameServer } from './lb-processes.js';

const VIP = '10.50.0.100';
const PORT = 8080;
const CLIENT_IP = '10.50.0.2';
const BACKENDS = ['10.50.0.3', '10.50.0.4', '10.50.0.5'];
const NAMES = ['b1', 'b2', 'b3'];

let env: DataplaneHosts;
let clientNs = '';
let client: LbClient;
let overlay: OverlaySpec;
/** Every command the driver runs, to check that an unchanged pass writes nothing. */
const issued: KernelCommand[] = [];
let driver: DataplaneDriver;

function spec(backends: readonly string[]): NodeDataplaneSpec {
  const node = env.node(0);
  const lbBackends: LbBackendSpec[] = backends.map((addr) => ({ addr, port: PORT }));
  return specFor(node, [node], [overlay], {
    loadBalancing: {
      namespaces: [
        {
          namespace: clientNs,
          hook: 'output',
          frontends: [{ addr: VIP, protocol: 'tcp', port: PORT, backends: lbBackends }],
        },
      ],
      publishedPorts: [],
    },
  });
}

function counts(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) {
    out[n] = (out[n] ?? 0) + 1;
  }
  return out;
}

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 1 });
  const node = env.node(0);
  const recording: CommandRunner = {
    run: (command: KernelCommand, options?: { readonly signal?: AbortSignal }): Promise<KernelCommandResult> => {
      issued.push(command);
      return node.runner.run(command, options);
    },
  };
  driver = new DataplaneDriver({ runner: recording, daemonNamespace: node.host.netns });
  clientNs = await env.addContainer('client');
  const endpoints: TestEndpoint[] = [{ id: 'client000000', node: 0, containerNs: clientNs, ip: CLIENT_IP }];
  for (const [i, name] of NAMES.entries()) {
    endpoints.push({
      id: `${name}backend0000`,
      node: 0,
      containerNs: await env.addContainer(name),
      ip: BACKENDS[i] ?? '',
    });
  }
  overlay = overlayFor(node, [node], { id: networkId('1b'), vni: 5001, third: 50, mtu: 1450 }, endpoints);
  const report = await driver.reconcile(spec(BACKENDS));
  expect(report.errors).toEqual([]);
  for (const [i, name] of NAMES.entries()) {
    await startNameServer(endpoints[i + 1]?.containerNs ?? '', name, PORT);
  }
  client = await LbClient.start(clientNs);
});

afterAll(async () => {
  client?.close();
  await killLbProcesses();
  await env?.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

describe('service VIP', () => {
  it('spreads 60 connections over the three backends, at least 10 each', async () => {
    const names = await client.call<string[]>({
      op: 'burst',
      host: VIP,
      port: PORT,
      localAddress: CLIENT_IP,
      fromPort: 40000,
      count: 60,
    });
    const spread = counts(names);
    expect(Object.keys(spread).sort()).toEqual(NAMES);
    for (const name of NAMES) {
      expect(spread[name]).toBeGreaterThanOrEqual(10);
    }
  });

  it('a reconcile with an unchanged spec issues no command; its nft reads list only the stamps', async () => {
    issued.length = 0;
    const report = await driver.reconcile(spec(BACKENDS));
    expect(report.errors).toEqual([]);
    expect(commandCount(report)).toBe(0);
    const nft = issued.filter((c) => c.tool === 'nft');
    expect(nft.every((c) => c.args[0] === '-j' && c.args[1] === 'list')).toBe(true);
    // Only the client's table is listed, and only its stamp (the backends' tables are known
    // absent and unwanted: listed only at the periodic full read).
    expect(nft.filter((c) => c.scope.kind === 'netns').map((c) => c.args.join(' '))).toEqual([
      '-j list set ip vxmesh_lb stamp',
    ]);
  });

  it('a removed backend gets no new connections; an established one to it keeps working', async () => {
    // Find a kept connection that lands on b3 (bounded: the source ports hash to fixed slots).
    let keptKey = '';
    for (let port = 42000; port < 42030 && keptKey === ''; port++) {
      const name = await client.call<string>({
        op: 'open',
        key: `k${port}`,
        host: VIP,
        port: PORT,
        localAddress: CLIENT_IP,
        localPort: port,
      });
      if (name === 'b3') {
        keptKey = `k${port}`;
      } else {
        await client.call({ op: 'close', key: `k${port}` });
      }
    }
    expect(keptKey).not.toBe('');

    const report = await driver.reconcile(spec(BACKENDS.slice(0, 2)));
    expect(report.errors).toEqual([]);
    expect(report.commands.get(clientNs)).toBe(4); // delete + add of the moved slots, and the stamp

    const names = await client.call<string[]>({
      op: 'burst',
      host: VIP,
      port: PORT,
      localAddress: CLIENT_IP,
      fromPort: 43000,
      count: 30,
    });
    expect(Object.keys(counts(names)).sort()).toEqual(['b1', 'b2']);
    expect(await client.call<string>({ op: 'send', key: keptKey })).toBe('b3');
    await client.call({ op: 'close', key: keptKey });
    expect((await driver.reconcile(spec(BACKENDS))).errors).toEqual([]);
  });

  it('an idle connection survives the expiry of its conntrack entry (same backend after)', async () => {
    // The client namespace's TCP established timeout is lowered to 2 s for this test (kernel
    // default: 5 days); after 4 s idle the entry is gone, and the next packet is NATed afresh.
    await runCommand('ip', [
      'netns',
      'exec',
      clientNs,
      'sysctl',
      '-q',
      '-w',
      'net.netfilter.nf_conntrack_tcp_timeout_established=2',
    ]);
    try {
      const first = await client.call<string>({
        op: 'open',
        key: 'idle',
        host: VIP,
        port: PORT,
        localAddress: CLIENT_IP,
        localPort: 44000,
      });
      const entries = async (): Promise<string> =>
        (await runCommand('ip', ['netns', 'exec', clientNs, 'cat', '/proc/net/nf_conntrack'], { check: false })).stdout;
      expect(await entries()).toContain('sport=44000 ');
      await new Promise((resolve) => setTimeout(resolve, 4000));
      expect(await entries()).not.toContain('sport=44000 ');
      expect(await client.call<string>({ op: 'send', key: 'idle' })).toBe(first);
      expect(await client.call<string>({ op: 'send', key: 'idle' })).toBe(first);
      await client.call({ op: 'close', key: 'idle' });
    } finally {
      await runCommand('ip', [
        'netns',
        'exec',
        clientNs,
        'sysctl',
        '-q',
        '-w',
        'net.netfilter.nf_conntrack_tcp_timeout_established=432000',
      ]);
    }
  });

  it('a deleted LB table comes back on the next pass', async () => {
    await runCommand('ip', ['netns', 'exec', clientNs, 'nft', 'delete', 'table', 'ip', 'vxmesh_lb']);
    const report = await driver.reconcile(spec(BACKENDS));
    expect(report.errors).toEqual([]);
    const names = await client.call<string[]>({
      op: 'burst',
      host: VIP,
      port: PORT,
      localAddress: CLIENT_IP,
      fromPort: 45000,
      count: 12,
    });
    expect(names.every((n) => NAMES.includes(n))).toBe(true);
  });
});
