import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli-program.js';
import type { DaemonAddress } from '../../../src/cli/daemon-address.js';
import { INGRESS_REMOVAL_WARNING, PRUNE_WARNING } from '../../../src/cli/network-messages.js';
import { UnavailableError } from '../../../src/common/errors.js';
import { MANAGER_ID, clusterViews } from '../../cli/node-fixtures.js';
import { APPNET_ID, BACKEND2_ID, INGRESS_ID, networkViews } from '../../cli/network-fixtures.js';
import { FakeDaemonApi, MemoryOutput } from './fake-daemon-api.js';

// The network commands in-process, against an in-memory manager: flags to requests, call
// sequences, prompts, partial failures and exit codes. Rendering is covered by the formatting
// tests; the real process and gRPC path by test/cli/network-cli.test.ts.

describe('vxmesh network commands', () => {
  let daemon: FakeDaemonApi;
  let output: MemoryOutput;
  let connectedTo: DaemonAddress[];
  /** Lines the "user" types at prompts; undefined entries are end of input. */
  let answers: (string | undefined)[];

  const run = (...argv: string[]): Promise<number> =>
    runCli(argv, {
      output,
      connect: (address) => {
        connectedTo.push(address);
        return daemon;
      },
      readLine: () => Promise.resolve(answers.shift()),
    });

  beforeEach(() => {
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID, networkViews());
    output = new MemoryOutput();
    connectedTo = [];
    answers = [];
  });

  describe('create', () => {
    it('sends every flag as docker parses it and prints the new ID', async () => {
      const code = await run(
        'network',
        'create',
        '--subnet',
        '10.0.9.0/24,fd00:9::/64',
        '--subnet',
        '10.0.10.0/24',
        '--gateway',
        '10.0.9.254',
        '--ip-range',
        '10.0.9.128/25',
        '--aux-address',
        'router=10.0.9.5',
        '--aux-address',
        'dns=10.0.9.6',
        '--ipv6',
        '--internal',
        '--attachable',
        '--label',
        'team=web',
        '--label',
        'frontend',
        '-o',
        'encrypted',
        '--opt',
        'com.docker.network.driver.mtu=1400',
        '--ipam-opt',
        'foo=bar',
        'webnet',
      );
      expect(output.stderr).toBe('');
      expect(code).toBe(0);
      expect(output.stdout).toBe('webnet0000000000000000000\n');
      expect(daemon.createRequests).toEqual([
        {
          name: 'webnet',
          driver: 'overlay',
          subnets: ['10.0.9.0/24', 'fd00:9::/64', '10.0.10.0/24'],
          gateways: ['10.0.9.254'],
          ipRanges: ['10.0.9.128/25'],
          auxAddresses: { router: '10.0.9.5', dns: '10.0.9.6' },
          enableIpv6: true,
          internal: true,
          attachable: true,
          ingress: false,
          labels: { team: 'web', frontend: '' },
          options: { encrypted: '', 'com.docker.network.driver.mtu': '1400' },
          ipamDriver: 'default',
          ipamOptions: { foo: 'bar' },
        },
      ]);
    });

    it('defaults to the overlay driver and empty lists; passes -d and --ingress through', async () => {
      expect(await run('network', 'create', '-d', 'bridge', '--ingress', 'edge')).toBe(0);
      expect(daemon.createRequests[0]).toMatchObject({
        driver: 'bridge',
        ingress: true,
        subnets: [],
        gateways: [],
        labels: {},
        ipamDriver: 'default',
      });
    });

    it('reports the manager’s refusal as one line', async () => {
      expect(await run('network', 'create', 'appnet')).toBe(1);
      expect(output.stderr).toBe('Error: network with name appnet already exists\n');
      expect(output.stdout).toBe('');
    });

    it.each([
      [['--aux-address', 'router'], /^Error: option '--aux-address <NAME=IP>' argument 'router' is invalid\./],
      [['--subnet', '10.0.0.0/33'], /^Error: option '--subnet <CIDR>' argument '10.0.0.0\/33' is invalid\./],
      [['--ip-range', 'x'], /^Error: option '--ip-range <CIDR>' argument 'x' is invalid\./],
      [['--gateway', '10.0.0'], /^Error: option '--gateway <IP>' argument '10.0.0' is invalid\./],
      [['--label', '=x'], /^Error: option '--label <K=V>' argument '=x' is invalid\./],
    ])('refuses bad syntax of %j naming the flag, before connecting', async (flags, message) => {
      expect(await run('network', 'create', ...flags, 'n1')).toBe(1);
      expect(output.stderr).toMatch(message);
      expect(output.stderr.split('\n')).toHaveLength(2);
      expect(connectedTo).toEqual([]);
    });

    it('needs exactly one name', async () => {
      expect(await run('network', 'create')).toBe(1);
      expect(output.stderr).toBe("Error: missing required argument 'name'\n");
      expect(await run('network', 'create', 'a', 'b')).toBe(1);
      expect(connectedTo).toEqual([]);
    });
  });

  describe('ls', () => {
    it('-q --no-trunc prints full IDs sorted by name', async () => {
      expect(await run('network', 'ls', '-q', '--no-trunc', '-f', 'name=backend')).toBe(0);
      expect(output.stdout).toBe(`${BACKEND2_ID}\nk3j9x2m8q1w8aaaa0000bbbb1\n`);
    });

    it('--format json wins over -q, as in docker', async () => {
      expect(await run('network', 'ls', '-q', '--format', 'json', '--filter', 'name=ingress')).toBe(0);
      expect(JSON.parse(output.stdout)).toMatchObject({ ID: INGRESS_ID.slice(0, 12), Name: 'ingress' });
    });

    it('refuses an unknown filter before connecting', async () => {
      expect(await run('network', 'ls', '--filter', 'dangling=true')).toBe(1);
      expect(output.stderr).toBe("Error: invalid filter 'dangling'\n");
      expect(connectedTo).toEqual([]);
    });
  });

  describe('inspect', () => {
    it('resolves names and ID prefixes', async () => {
      expect(await run('network', 'inspect', 'appnet', INGRESS_ID.slice(0, 5))).toBe(0);
      const printed = JSON.parse(output.stdout) as { Id: string }[];
      expect(printed.map((n) => n.Id)).toEqual([APPNET_ID, INGRESS_ID]);
    });

    it('prints what it found, then one Error line per missing network', async () => {
      expect(await run('network', 'inspect', '-f', 'json', 'ghost', 'appnet', 'k3j9x2m8q1w')).toBe(1);
      expect((JSON.parse(output.stdout) as { Name: string }[]).map((n) => n.Name)).toEqual(['appnet']);
      expect(output.stdout.split('\n')).toHaveLength(2);
      expect(output.stderr).toBe('Error: network ghost not found\nError: network k3j9x2m8q1w not found\n');
    });

    it('prints nothing when the daemon fails', async () => {
      daemon.getNetwork = () => Promise.reject(new UnavailableError('the cluster store is unreachable'));
      expect(await run('network', 'inspect', 'appnet')).toBe(1);
      expect(output.stdout).toBe('');
      expect(output.stderr).toBe('Error: the cluster store is unreachable\n');
    });

    it('accepts only json as --format', async () => {
      expect(await run('network', 'inspect', '--format', '{{.Id}}', 'appnet')).toBe(1);
      expect(output.stderr).toMatch(/^Error: option '-f, --format <format>' argument '\{\{\.Id\}\}' is invalid/);
    });
  });

  describe('rm', () => {
    it('removes each network, prints each ref, and keeps going after a failure', async () => {
      expect(await run('network', 'rm', 'appnet', 'ghost', BACKEND2_ID.slice(0, 12))).toBe(1);
      expect(output.stdout).toBe(`appnet\n${BACKEND2_ID.slice(0, 12)}\n`);
      expect(output.stderr).toBe('Error: network ghost not found\n');
      expect([...daemon.networks.keys()].sort()).toEqual(['k3j9x2m8q1w8aaaa0000bbbb1', INGRESS_ID]);
    });

    it('asks before removing ingress and removes it on "y"', async () => {
      answers = [' Y '];
      expect(await run('network', 'rm', 'ingress')).toBe(0);
      expect(output.stdout).toBe(`${INGRESS_REMOVAL_WARNING} [y/N] ingress\n`);
      expect(daemon.networks.has(INGRESS_ID)).toBe(false);
    });

    it('skips ingress silently on anything but y, or at end of input, and goes on', async () => {
      answers = ['n'];
      expect(await run('network', 'rm', 'ingress', 'appnet')).toBe(0);
      expect(output.stdout).toBe(`${INGRESS_REMOVAL_WARNING} [y/N] appnet\n`);
      expect(daemon.networks.has(INGRESS_ID)).toBe(true);
      expect(daemon.calls).not.toContain('removeNetwork ingress');

      output = new MemoryOutput();
      answers = [undefined];
      expect(await run('network', 'rm', INGRESS_ID)).toBe(0);
      expect(daemon.networks.has(INGRESS_ID)).toBe(true);
    });

    it('-f skips the question and ignores networks that do not exist', async () => {
      expect(await run('network', 'rm', '-f', 'ingress', 'ghost')).toBe(0);
      expect(output.stdout).toBe('ingress\n');
      expect(output.stderr).toBe('');
      expect(daemon.calls).toEqual(['removeNetwork ingress', 'removeNetwork ghost']);
    });
  });

  describe('prune', () => {
    it('asks first, then prints what was removed', async () => {
      answers = ['y'];
      expect(await run('network', 'prune', '--filter', 'label!=keep', '--filter', 'until=2026-08-01T00:00:00Z')).toBe(
        0,
      );
      expect(output.stdout).toBe(`${PRUNE_WARNING} [y/N] Deleted Networks:\nbackend10\nappnet\nbackend2\n\n`);
      expect(daemon.pruneRequests).toEqual([
        { labelFilters: [], labelNotFilters: ['keep'], until: BigInt(Date.UTC(2026, 7, 1)) },
      ]);
    });

    it('does nothing, successfully, when the answer is no', async () => {
      answers = [''];
      expect(await run('network', 'prune')).toBe(0);
      expect(output.stdout).toBe(`${PRUNE_WARNING} [y/N] `);
      expect(connectedTo).toEqual([]);
    });

    it('-f does not ask; an empty result prints nothing', async () => {
      daemon.networks.clear();
      expect(await run('network', 'prune', '-f')).toBe(0);
      expect(output.stdout).toBe('');
      expect(daemon.calls).toEqual(['pruneNetworks']);
    });

    it('until=0 asks, then deletes nothing without asking the manager', async () => {
      answers = ['y'];
      expect(await run('network', 'prune', '--filter', 'until=0')).toBe(0);
      expect(output.stdout).toBe(`${PRUNE_WARNING} [y/N] `);
      expect(daemon.calls).toEqual([]);
    });

    it('checks filters before asking', async () => {
      expect(await run('network', 'prune', '--filter', 'until=soon')).toBe(1);
      expect(output.stdout).toBe('');
      expect(output.stderr).toBe('Error: invalid until filter: failed to parse value as time or duration: "soon"\n');
    });
  });
});
