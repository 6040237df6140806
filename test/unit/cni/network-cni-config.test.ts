import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli-program.js';
import { VxmeshError } from '../../../src/common/errors.js';
import { parseCniConfig } from '../../../src/cni/index.js';
import { MANAGER_ID, clusterViews } from '../../cli/node-fixtures.js';
import { APPNET_ID, networkViews } from '../../cli/network-fixtures.js';
import { FakeDaemonApi, MemoryOutput } from '../cli/fake-daemon-api.js';

describe('vxmesh network cni-config', () => {
  let daemon: FakeDaemonApi;
  let output: MemoryOutput;
  const run = (...argv: string[]): Promise<number> => runCli(argv, { output, connect: () => daemon });

  beforeEach(() => {
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID, networkViews());
    output = new MemoryOutput();
  });

  it('prints a conflist for an attachable network, by name, with the -H socket', async () => {
    expect(await run('-H', 'unix:///tmp/h0/vxmesh.sock', 'network', 'cni-config', APPNET_ID.slice(0, 6))).toBe(0);
    const conflist = JSON.parse(output.stdout) as {
      cniVersion: string;
      name: string;
      plugins: Record<string, unknown>[];
    };
    expect(conflist).toEqual({
      cniVersion: '1.0.0',
      name: 'appnet',
      plugins: [
        {
          type: 'vxmesh-cni',
          network: 'appnet',
          socket: '/tmp/h0/vxmesh.sock',
          embeddedDns: true,
          capabilities: { ips: true, aliases: true },
        },
      ],
    });
    // What a runtime hands the plugin (the conflist's name and version injected) parses back.
    const plugin = { ...conflist.plugins[0], name: conflist.name, cniVersion: conflist.cniVersion };
    expect(parseCniConfig(JSON.stringify(plugin))).toMatchObject({
      network: 'appnet',
      socket: '/tmp/h0/vxmesh.sock',
      embeddedDns: true,
    });
  });

  it('--name, --socket, --cni-version, --no-dns', async () => {
    expect(
      await run(
        'network',
        'cni-config',
        'appnet',
        '--name',
        'podnet',
        '--socket',
        '/run/x.sock',
        '--cni-version',
        '0.4.0',
        '--no-dns',
      ),
    ).toBe(0);
    expect(JSON.parse(output.stdout)).toMatchObject({
      cniVersion: '0.4.0',
      name: 'podnet',
      plugins: [{ network: 'appnet', socket: '/run/x.sock', embeddedDns: false }],
    });
    expect(await run('network', 'cni-config', 'appnet', '--cni-version', '0.2.0')).toBe(1);
  });

  it('refuses a network that is not attachable or does not exist', async () => {
    expect(await run('network', 'cni-config', 'backend2')).toBe(1);
    expect(output.stderr).toMatch(/not attachable/);
    expect(await run('network', 'cni-config', 'nope')).toBe(1);
    expect(output.stdout).toBe('');
  });

  it('on a worker (no network lookups) the argument is written as given', async () => {
    daemon.getNetwork = () =>
      Promise.reject(new VxmeshError('FAILED_PRECONDITION', 'This node is not a swarm manager.'));
    expect(await run('network', 'cni-config', 'some-net')).toBe(0);
    expect(JSON.parse(output.stdout)).toMatchObject({
      name: 'some-net',
      plugins: [{ network: 'some-net', socket: '/run/vxmesh/vxmesh.sock' }],
    });
  });
});
