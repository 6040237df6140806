import { writeFile } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import { PODMAN_ULIMITS, createTestPodman, podmanMissing } from './podman-support.js';
import type { TestPodman } from './podman-support.js';

const SERVER = fileURLToPath(new URL('../support/bin/task-http-server.mjs', import.meta.url));

/**
 * Debian's Podman (CNI backend, runc, a busybox root filesystem) runs containers attached by
 * vxmesh-cni through the daemon of "its" host: one conflist per host (`vxmesh network
 * cni-config`), each naming that daemon's socket. Podman containers on two hosts, `vxmesh run`
 * containers on both, reach each other by name and address across the overlay, and `podman rm`
 * cleans up (DEL).
 */
describe('Podman containers on a vxmesh overlay (2 hosts, CNI backend)', () => {
  const missing = podmanMissing();
  if (missing) {
    // .ci/run installs the packages; say why instead of passing silently.
    it('needs podman, runc and busybox-static', () => {
      throw new Error(missing);
    });
    return;
  }
  const cluster = useDaemonCluster({ hosts: 2, daemons: 2, attachableNetworks: ['test-net'] });
  let pm: TestPodman | undefined;
  const podman = (): TestPodman => {
    if (!pm) {
      throw new Error('podman is not set up');
    }
    return pm;
  };
  const run = (name: string, network: string, extra: readonly string[] = []): Promise<string> =>
    podman().podmanOk([
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      ...extra,
      ...PODMAN_ULIMITS,
      '--rootfs',
      podman().rootfs,
      '/bin/sleep',
      '600',
    ]);
  const podmanPings = (name: string, target: string) => async () =>
    (await podman().podman(['exec', name, 'ping', '-c', '1', '-W', '1', target])).exitCode === 0;
  const vxmeshPings = (host: number, name: string, target: string) => async () =>
    (await cluster.daemon(host).cli(['exec', name, '--', 'ping', '-c', '1', '-W', '1', target])).code === 0;
  const eventually = (check: () => Promise<boolean>, what: string): Promise<true> =>
    waitFor(async () => (await check()) || undefined, 20_000, { what });
  const endpointNames = async (): Promise<string[]> => {
    const [net] = JSON.parse(await cluster.daemon(0).cliOk(['network', 'inspect', 'test-net'])) as {
      Containers: Record<string, { Name: string }>;
    }[];
    return Object.values(net?.Containers ?? {})
      .map((c) => c.Name)
      .sort();
  };

  beforeAll(async () => {
    pm = await createTestPodman();
    for (const i of [0, 1]) {
      const conflist = await cluster.daemon(i).cliOk(['network', 'cni-config', 'test-net', '--name', `vxnet-h${i}`]);
      await writeFile(join(pm.networkConfigDir, `vxnet-h${i}.conflist`), conflist);
    }
  });

  afterAll(async () => {
    // Before the daemons stop (hooks run in reverse order): podman rm runs the plugin's DEL.
    await pm?.destroy();
  });

  it('podman and vxmesh run containers on two hosts reach each other by name and address; podman rm cleans up', async () => {
    await cluster.daemon(0).cliOk(['run', '-d', '--name', 'alpine1', '--network', 'test-net', '--', 'sleep', '600']);
    await cluster.daemon(1).cliOk(['run', '-d', '--name', 'alpine2', '--network', 'test-net', '--', 'sleep', '600']);
    let started = Date.now();
    await run('p0', 'vxnet-h0');
    console.log(`podman run p0 (host0) took ${Date.now() - started} ms`);
    started = Date.now();
    await run('p1', 'vxnet-h1', ['--network-alias', 'pod-one', '--ip', '10.0.1.77']);
    console.log(`podman run p1 (host1, --ip, alias) took ${Date.now() - started} ms`);

    const resolvConf = await podman().podmanOk(['exec', 'p0', 'cat', '/etc/resolv.conf']);
    expect(resolvConf.split('\n').find((l) => l.startsWith('nameserver'))).toBe('nameserver 127.0.0.11');
    expect(await podman().podmanOk(['exec', 'p1', 'ip', '-4', '-o', 'addr', 'show', 'eth0'])).toContain('10.0.1.77/');
    const p0ip =
      /inet (\d+\.\d+\.\d+\.\d+)\//.exec(
        await podman().podmanOk(['exec', 'p0', 'ip', '-4', '-o', 'addr', 'show', 'eth0']),
      )?.[1] ?? '';
    expect(await endpointNames()).toEqual(['alpine1', 'alpine2', 'p0', 'p1']);

    await eventually(podmanPings('p0', '10.0.1.77'), 'p0 (host0) pings p1 (host1) by address');
    await eventually(podmanPings('p1', p0ip), 'p1 pings p0 by address');
    await eventually(podmanPings('p0', 'p1'), 'p0 pings p1 by name');
    await eventually(podmanPings('p0', 'pod-one'), 'p0 pings p1 by its alias');
    await eventually(podmanPings('p0', 'alpine2'), 'p0 pings alpine2 (vxmesh run, host1) by name');
    await eventually(podmanPings('p1', 'alpine1'), 'p1 pings alpine1 (vxmesh run, host0) by name');
    await eventually(vxmeshPings(0, 'alpine1', 'p1'), 'alpine1 pings p1 by name');
    await eventually(vxmeshPings(1, 'alpine2', 'p0'), 'alpine2 pings p0 by name');

    started = Date.now();
    await podman().podmanOk(['rm', '-f', '-t', '0', 'p0', 'p1']);
    console.log(`podman rm -f p0 p1 took ${Date.now() - started} ms`);
    expect(await endpointNames()).toEqual(['alpine1', 'alpine2']);
    expect(
      (await readdir('/run/netns')).filter((n) => n.startsWith(cluster.hosts().prefix) && n.includes('-x-')),
    ).toEqual([]);
    await eventually(async () => !(await vxmeshPings(1, 'alpine2', 'p0')()), 'p0 no longer answers on host1');
    await cluster.daemon(0).cliOk(['rm', '-f', 'alpine1']);
    await cluster.daemon(1).cliOk(['rm', '-f', 'alpine2']);
  });

  it('a service on the overlay: Podman resolves <name> to its VIP and tasks.<name> to its tasks, and reaches the tasks', async () => {
    await cluster
      .daemon(0)
      .cliOk(
        [
          'service',
          'create',
          '--name',
          'web',
          '--replicas',
          '2',
          '--network',
          'test-net',
          '--',
          process.execPath,
          SERVER,
          '80',
        ],
        {
          timeoutMs: 60_000,
        },
      );
    const [web] = JSON.parse(await cluster.daemon(0).cliOk(['service', 'inspect', 'web'])) as {
      Endpoint: { VirtualIPs?: { Addr: string }[] };
    }[];
    const vip = web?.Endpoint.VirtualIPs?.[0]?.Addr.split('/')[0];
    expect(vip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    await run('p2', 'vxnet-h1');
    const lookup = async (name: string): Promise<string[]> => {
      const out = (await podman().podman(['exec', 'p2', 'nslookup', name, '127.0.0.11'])).stdout;
      // The first Address line is the server's.
      return [...out.matchAll(/^Address: (\d+\.\d+\.\d+\.\d+)$/gm)].map((m) => m[1] ?? '').sort();
    };
    const tasks = await waitFor(
      async () => {
        const addrs = await lookup('tasks.web');
        return addrs.length === 2 ? addrs : undefined;
      },
      30_000,
      { what: 'tasks.web resolves to 2 task addresses in p2' },
    );
    expect(await lookup('web')).toEqual([vip]);
    for (const task of tasks) {
      // Each task answers with its own address. (Not wget -T: Debian's static busybox wget crashes with it.)
      await waitFor(
        async () =>
          (
            await podman().podman(['exec', 'p2', 'timeout', '3', 'wget', '-q', '-O', '-', `http://${task}/`])
          ).stdout.trim() === task,
        20_000,
        { what: `task ${task} answers p2 over HTTP` },
      );
    }
    await podman().podmanOk(['rm', '-f', '-t', '0', 'p2']);
    await cluster.daemon(0).cliOk(['service', 'rm', 'web']);
  });
});
