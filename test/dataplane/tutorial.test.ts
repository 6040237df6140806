import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import type { Vxmeshd } from '../support/vxmeshd-harness.js';

interface InspectedContainer {
  readonly Id: string;
  readonly State: { readonly Running: boolean };
  readonly NetworkSettings: {
    readonly SandboxKey?: string;
    readonly Networks: Record<string, { readonly IPAddress: string; readonly EndpointID: string }>;
  };
}

/**
 * The seeds' overlay tutorial, for real: daemons in three host namespaces, an attachable overlay,
 * containers on two hosts pinging each other over VXLAN, plus the container life cycle that the
 * dataplane must follow (a --rm container, static addresses across stop/start, disconnect,
 * removing a stale endpoint with -f). A fourth namespace on the underlay plays "the internet".
 */
describe('overlay tutorial across hosts (3 daemons + a stub internet)', () => {
  const cluster = useDaemonCluster({ hosts: 4, daemons: 3, attachableNetworks: ['test-net'] });
  const d = (i: number): Vxmeshd => cluster.daemon(i);

  const inspect = async (i: number, name: string): Promise<InspectedContainer> => {
    const [c] = JSON.parse(await d(i).cliOk(['inspect', name])) as InspectedContainer[];
    if (!c) {
      throw new Error(`no container ${name}`);
    }
    return c;
  };
  const ipOf = (i: number, name: string, network = 'test-net'): Promise<string> => cluster.ipOf(i, name, network);
  const ping = (i: number, name: string, target: string, extra: string[] = []) =>
    d(i).cli(['exec', name, '--', 'ping', '-c', '1', '-W', '1', ...extra, target]);
  /** Pings until one gets through (the peer's FDB entry arrives with the next dispatch batch). */
  const eventuallyPings = async (i: number, name: string, target: string): Promise<void> => {
    await waitFor(async () => (await ping(i, name, target)).code === 0, 10_000, { what: `${name} → ${target}` });
  };

  it('alpine1 on host0 and alpine2 on host1 ping each other over the overlay', async () => {
    await d(0).cliOk(['run', '-d', '--name', 'alpine1', '--network', 'test-net', '--', 'sleep', '600']);
    await d(1).cliOk(['run', '-d', '--name', 'alpine2', '--network', 'test-net', '--', 'sleep', '600']);
    const ip1 = await ipOf(0, 'alpine1');
    const ip2 = await ipOf(1, 'alpine2');
    expect(ip1).toMatch(/^10\.0\.1\.\d+$/);
    await eventuallyPings(0, 'alpine1', ip2);
    await eventuallyPings(1, 'alpine2', ip1);
  });

  it('network inspect shows each serving node with the overlay MTU it programmed', async () => {
    const peers = await waitFor(
      async () => {
        const [net] = JSON.parse(await d(0).cliOk(['network', 'inspect', 'test-net'])) as {
          Peers?: { Name: string; IP: string; MTU?: number }[];
        }[];
        const list = net?.Peers ?? [];
        return list.length === 2 && list.every((p) => p.MTU !== undefined) ? list : undefined;
      },
      15_000,
      { what: 'both peers with their MTU (reported in heartbeats)' },
    );
    expect(peers).toEqual([
      { Name: 'host0', IP: '198.51.100.10', MTU: 1450 },
      { Name: 'host1', IP: '198.51.100.11', MTU: 1450 },
    ]);
  });

  it('a --rm container on host1 reaches alpine1 and is cleaned up when it exits', async () => {
    const ip1 = await ipOf(0, 'alpine1');
    // Containers share the host's filesystem: success leaves a marker the test can see after --rm.
    const marker = join(d(1).dir, 'alpine3-reached-alpine1');
    const id = (
      await d(1).cliOk([
        'run',
        '--rm',
        '--name',
        'alpine3',
        '--network',
        'test-net',
        '--',
        'sh',
        '-c',
        `ping -c 2 -W 2 ${ip1} && touch ${marker}`,
      ])
    ).trim();
    await waitFor(
      async () =>
        await readFile(marker, 'utf8')
          .then(() => true)
          .catch(() => false),
      10_000,
      {
        what: 'alpine3 pinged alpine1',
      },
    );
    await waitFor(async () => !(await d(1).cliOk(['ps', '-a'])).includes('alpine3'), 15_000, {
      what: 'alpine3 removed',
    });
    const namespaces = (await cluster.hosts().exec(0, 'ip', ['netns', 'list'])).stdout;
    expect(namespaces).not.toContain(`c-${id.slice(0, 12)}`);
  });

  it('egress reaches the stub internet through the egress bridge; --internal gets none', async () => {
    const internet = '198.51.100.13';
    await waitFor(async () => (await ping(0, 'alpine1', internet)).code === 0, 10_000, { what: 'egress' });
    await d(0).cliOk(['network', 'create', '-d', 'overlay', '--attachable', '--internal', 'private']);
    await d(0).cliOk(['run', '-d', '--name', 'secluded', '--network', 'private', '--', 'sleep', '600']);
    const routes = await d(0).cliOk(['exec', 'secluded', '--', 'ip', 'route']);
    expect(routes).not.toMatch(/default/);
    expect((await ping(0, 'secluded', internet)).code).not.toBe(0);
  });

  it('containers on different overlays cannot reach each other', async () => {
    await d(0).cliOk(['network', 'create', '-d', 'overlay', '--attachable', 'other-net']);
    await d(1).cliOk(['run', '-d', '--name', 'stranger', '--network', 'other-net', '--', 'sleep', '600']);
    const strangerIp = await ipOf(1, 'stranger', 'other-net');
    expect((await ping(0, 'alpine1', strangerIp)).code).not.toBe(0);
  });

  it('--ip is honoured and kept across stop/start', async () => {
    await d(2).cliOk([
      'run',
      '-d',
      '--name',
      'fixed',
      '--network',
      'test-net',
      '--ip',
      '10.0.1.200',
      '--',
      'sleep',
      '600',
    ]);
    expect(await ipOf(2, 'fixed')).toBe('10.0.1.200');
    await eventuallyPings(0, 'alpine1', '10.0.1.200');
    await d(2).cliOk(['stop', '-t', '1', 'fixed']);
    await d(2).cliOk(['start', 'fixed']);
    expect(await ipOf(2, 'fixed')).toBe('10.0.1.200');
    await eventuallyPings(0, 'alpine1', '10.0.1.200');
  });

  it('after disconnect the ping fails; connect brings it back', async () => {
    const ip2 = await ipOf(1, 'alpine2');
    await d(1).cliOk(['network', 'disconnect', 'test-net', 'alpine2']);
    await waitFor(async () => (await ping(0, 'alpine1', ip2)).code !== 0, 10_000, { what: 'ping stops' });
    await d(1).cliOk(['network', 'connect', 'test-net', 'alpine2']);
    await eventuallyPings(0, 'alpine1', await ipOf(1, 'alpine2'));
  });

  it('disconnect -f removes a stale endpoint whose container is gone', async () => {
    await d(2).cliOk(['run', '-d', '--name', 'ghost', '--network', 'test-net', '--', 'sleep', '600']);
    const id = (await inspect(2, 'ghost')).Id;
    // The daemon dies and the container's record with it: the managers still hold its endpoint.
    await d(2).kill('SIGKILL');
    await rm(join(d(2).dataRoot, 'containers', `${id}.pb`), { force: true });
    await d(2).restart();
    const again = await d(2).cli(['run', '-d', '--name', 'ghost', '--network', 'test-net', '--', 'sleep', '600']);
    expect(again.stderr).toMatch(/already exists in network test-net/);
    await d(2).cliOk(['network', 'disconnect', '-f', 'test-net', 'ghost']);
    await d(2).cliOk(['run', '-d', '--name', 'ghost', '--network', 'test-net', '--', 'sleep', '600']);
  });
});
