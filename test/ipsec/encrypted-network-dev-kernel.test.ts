/**
 * Encrypted overlays on a kernel without ESP/GCM (the development and CI kernel), with real
 * daemons: creating an encrypted network works and shows like docker's; attaching a container
 * or a task to it fails closed with a clear error on the container/task and in `node inspect`;
 * no plaintext path is created; unencrypted networks keep working. (The VM test,
 * ipsec-vm.test.ts, covers a kernel that has IPsec.)
 */
import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';

const NODE = process.execPath;

interface InspectedNetwork {
  readonly Id: string;
  readonly Options: Record<string, string>;
}

interface InspectedNode {
  readonly Agent?: { readonly Encryption?: { readonly Supported: boolean; readonly Error: string } };
}

describe('encrypted overlays on a kernel that cannot enforce IPsec', () => {
  const cluster = useDaemonCluster({ hosts: 2, daemons: 2, attachableNetworks: ['plainnet'] });

  it('the network is created and shows "encrypted": "" in its options', async () => {
    await cluster
      .daemon(0)
      .cliOk(['network', 'create', '-d', 'overlay', '--attachable', '--opt', 'encrypted', 'secretnet']);
    const [network] = JSON.parse(
      await cluster.daemon(0).cliOk(['network', 'inspect', 'secretnet']),
    ) as InspectedNetwork[];
    expect(network?.Options).toMatchObject({ encrypted: '' });
  });

  it('attaching a container fails closed with a clear error, and nothing is built for the network', async () => {
    const res = await cluster
      .daemon(1)
      .cli(['run', '-d', '--name', 'spy', '--network', 'secretnet', '--', 'sleep', '3600']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(
      /network secretnet is encrypted .*cannot enforce IPsec \(missing: .*ESP \(esp4\).*\); refusing to carry it in plaintext/,
    );
    expect(await cluster.daemon(1).cliOk(['ps', '-a', '--format', 'json'])).not.toMatch(/"spy"/);
    const [network] = JSON.parse(
      await cluster.daemon(0).cliOk(['network', 'inspect', 'secretnet']),
    ) as InspectedNetwork[];
    const overlays = (await readdir('/run/netns')).filter((n) => n.includes(`o-${(network?.Id ?? 'x').slice(0, 12)}`));
    expect(overlays).toEqual([]);
    // The refused endpoint was given back: the network has no container.
    expect(await cluster.daemon(0).cliOk(['network', 'inspect', 'secretnet'])).not.toMatch(/"spy"/);
  });

  it('node inspect says each node cannot enforce encrypted overlays, and why', async () => {
    for (const ref of ['self', 'host1']) {
      const node = await waitFor(
        async () => {
          const [n] = JSON.parse(await cluster.daemon(0).cliOk(['node', 'inspect', ref])) as InspectedNode[];
          return n?.Agent?.Encryption;
        },
        15_000,
        { what: `the encryption status of ${ref} in node inspect` },
      );
      expect(node.Supported).toBe(false);
      expect(node.Error).toMatch(/cannot enforce IPsec \(missing: .*ESP \(esp4\)/);
    }
  });

  it('a service task on the encrypted network is rejected with the same error', async () => {
    await cluster
      .daemon(0)
      .cliOk([
        'service',
        'create',
        '--detach',
        '--name',
        'secretsvc',
        '--network',
        'secretnet',
        '--',
        NODE,
        '-e',
        'setInterval(() => {}, 1e9)',
      ]);
    const ps = await waitFor(
      async () => {
        const out = await cluster.daemon(0).cliOk(['service', 'ps', '--no-trunc', 'secretsvc']);
        return /refusing to carry it in plaintext/.test(out) ? out : undefined;
      },
      30_000,
      { what: 'the task rejection in service ps' },
    );
    expect(ps).toMatch(/Rejected/i);
    await cluster.daemon(0).cliOk(['service', 'rm', 'secretsvc']);
  });

  it('unencrypted networks keep working across nodes', async () => {
    await cluster.daemon(0).cliOk(['run', '-d', '--name', 'a', '--network', 'plainnet', '--', 'sleep', '3600']);
    await cluster.daemon(1).cliOk(['run', '-d', '--name', 'b', '--network', 'plainnet', '--', 'sleep', '3600']);
    const ip = await cluster.ipOf(1, 'b', 'plainnet');
    await waitFor(
      async () => (await cluster.daemon(0).cli(['exec', 'a', '--', 'ping', '-c', '1', '-W', '1', ip])).code === 0,
      15_000,
      {
        what: 'a ping across the plain overlay',
      },
    );
  });
});
