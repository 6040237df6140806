import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli-program.js';
import type { DaemonAddress } from '../../../src/cli/daemon-address.js';
import { MANAGER_ID, clusterViews } from '../../cli/node-fixtures.js';
import { APPNET_ID, networkViews } from '../../cli/network-fixtures.js';
import { DB_ID, JOB_ID, WEB_ID, containerViews } from '../../cli/container-fixtures.js';
import { FakeDaemonApi, MemoryOutput } from './fake-daemon-api.js';

// The container commands in-process, against an in-memory daemon: flags to requests, where option
// parsing stops, call sequences, partial failures and exit codes. Rendering is covered by the
// formatting tests; the real process, gRPC and `exec`'s child process by test/cli/container-cli.test.ts.

describe('vxmesh container commands', () => {
  let daemon: FakeDaemonApi;
  let output: MemoryOutput;
  let connectedTo: DaemonAddress[];

  const run = (...argv: string[]): Promise<number> =>
    runCli(argv, {
      output,
      connect: (address) => {
        connectedTo.push(address);
        return daemon;
      },
    });

  beforeEach(() => {
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID, networkViews(), containerViews(Date.now()));
    output = new MemoryOutput();
    connectedTo = [];
  });

  describe('run', () => {
    it('sends every flag, stops parsing options at the command, and prints the full ID', async () => {
      const code = await run(
        'run',
        '-d',
        '--rm',
        '--name',
        'api',
        '--network',
        'appnet',
        '--network',
        'backend2',
        '--ip',
        '10.0.1.50',
        '--network-alias',
        'api-alias',
        '--link',
        'db',
        '-h',
        'api-host',
        '--dns',
        '10.0.0.2',
        '--dns-search',
        'corp.example',
        '--dns-search',
        'example.com.',
        '--dns-option',
        'ndots:2',
        'sh',
        '-c',
        'exec server -d --name x',
        '-H',
        'not-a-host',
      );
      expect(output.stderr).toBe('');
      expect(code).toBe(0);
      expect(output.stdout).toBe(`${Buffer.from('api').toString('hex').padEnd(64, '0')}\n`);
      expect(daemon.runRequests).toEqual([
        {
          name: 'api',
          hostname: 'api-host',
          command: ['sh', '-c', 'exec server -d --name x', '-H', 'not-a-host'],
          networks: [
            { network: 'appnet', ipv4Address: '10.0.1.50', ipv6Address: '', aliases: ['api-alias'], links: ['db:db'] },
            { network: 'backend2', ipv4Address: '', ipv6Address: '', aliases: [], links: [] },
          ],
          dns: ['10.0.0.2'],
          dnsSearch: ['corp.example', 'example.com'],
          dnsOptions: ['ndots:2'],
          autoRemove: true,
          createOnly: false,
        },
      ]);
      expect(connectedTo.map((a) => a.socketPath)).toEqual(['/run/vxmesh/vxmesh.sock']);
      expect(daemon.closed).toBe(true);
    });

    it('accepts "--" before the command, and -H before run', async () => {
      expect(await run('-H', 'unix:///tmp/r.sock', 'run', '--create-only', '--name', 'c1', '--', 'ls', '-l')).toBe(0);
      expect(connectedTo.map((a) => a.socketPath)).toEqual(['/tmp/r.sock']);
      expect(daemon.runRequests[0]).toMatchObject({ command: ['ls', '-l'], createOnly: true });
    });

    it.each([
      [['run', 'sleep', '1'], "Error: required option '--name <NAME>' not specified\n"],
      [
        ['run', '--name', 'web'],
        'Error: invalid command: no command given; write it after the options (vxmesh run --name NAME CMD [ARG...])\n',
      ],
      [
        ['run', '--name', 'w b', 'true'],
        "Error: option '--name <NAME>' argument 'w b' is invalid. Only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, starting with a letter or digit.\n",
      ],
      [
        ['run', '--name', 'w', '--ip', '10.0.1.5', 'true'],
        'Error: invalid --ip: needs a --network to apply to (it applies to the first one)\n',
      ],
      [
        ['run', '--name', 'w', '--network', 'n', '--ip', 'fd00::5', 'true'],
        "Error: option '--ip <IP>' argument 'fd00::5' is invalid. Not an IPv4 address such as 10.0.1.10.\n",
      ],
      [
        ['run', '--name', 'w', '--network', 'n', '--link', 'a:b:c', 'true'],
        "Error: option '--link <NAME:ALIAS>' argument 'a:b:c' is invalid. Expected NAME:ALIAS or NAME, such as db:database.\n",
      ],
    ])('refuses %j before connecting, in one line', async (argv, stderr) => {
      expect(await run(...argv)).toBe(1);
      expect(output.stderr).toBe(stderr);
      expect(output.stdout).toBe('');
      expect(connectedTo).toEqual([]);
    });

    it('passes the daemon’s refusal through', async () => {
      expect(await run('run', '--name', 'web', 'true')).toBe(1);
      expect(output.stderr).toBe('Error: the container name "web" is already in use on this node\n');
    });
  });

  describe('ps', () => {
    it('lists running containers, or all with -a', async () => {
      expect(await run('ps', '-q')).toBe(0);
      expect(output.stdout).toBe(`${WEB_ID.slice(0, 12)}\n${DB_ID.slice(0, 12)}\n`);
      expect(await run('ps', '-a', '-q', '--no-trunc')).toBe(0);
      expect(output.stdout.split('\n')).toContain(JOB_ID);
      expect(daemon.calls).toEqual(['listContainers all=false', 'listContainers all=true']);
    });

    it('prints the table by default and JSON lines with --format json, which wins over -q', async () => {
      expect(await run('ps')).toBe(0);
      expect(output.stdout.split('\n')[0]).toBe(
        'CONTAINER ID   COMMAND                  CREATED       STATUS       NETWORKS          NAMES',
      );
      output.stdout = '';
      expect(await run('ps', '-q', '--format', 'json')).toBe(0);
      const names = output.stdout
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { Names: string }).Names);
      expect(names).toEqual(['web', 'db']);
    });
  });

  describe('inspect', () => {
    it('prints what it found, [] entries for nothing, then one error per unknown container', async () => {
      expect(await run('inspect', 'web', 'ghost', DB_ID.slice(0, 6))).toBe(1);
      const printed = JSON.parse(output.stdout) as { Name: string }[];
      expect(printed.map((c) => c.Name)).toEqual(['/web', '/db']);
      expect(output.stderr).toBe('Error: container ghost not found\n');
      output.stdout = '';
      expect(await run('inspect', '-f', 'json', 'ghost')).toBe(1);
      expect(output.stdout).toBe('[]\n');
    });
  });

  describe('start, stop, rm', () => {
    it('print each ref as given and keep going after failures, one Error line each', async () => {
      expect(await run('stop', '-t', '3', 'web', 'ghost', DB_ID.slice(0, 8), 'nope')).toBe(1);
      expect(output.stdout).toBe(`web\n${DB_ID.slice(0, 8)}\n`);
      expect(output.stderr).toBe('Error: container ghost not found\nError: container nope not found\n');
      expect(daemon.calls).toContain('stopContainer web timeout=3');
      expect(await run('start', 'job')).toBe(0);
      expect(daemon.calls).toContain('startContainer job');
    });

    it('stop without -t asks for the daemon default, and refuses -t 0', async () => {
      expect(await run('stop', 'web')).toBe(0);
      expect(daemon.calls).toEqual(['stopContainer web timeout=0']);
      expect(await run('stop', '-t', '0', 'web')).toBe(1);
      expect(output.stderr).toBe(
        "Error: option '-t, --timeout <seconds>' argument '0' is invalid. Must be a whole number of seconds from 1 to 4294967295.\n",
      );
    });

    it('rm refuses a running container without -f', async () => {
      expect(await run('rm', 'job', 'web')).toBe(1);
      expect(output.stdout).toBe('job\n');
      expect(output.stderr).toBe(
        'Error: cannot remove container "web": container is running: stop the container before removing or force remove\n',
      );
    });

    it('rm -f removes running containers and reports missing ones without failing, as docker does', async () => {
      expect(await run('rm', '-f', 'web', 'ghost')).toBe(0);
      expect(output.stdout).toBe('web\n');
      expect(output.stderr).toBe('Error: container ghost not found\n');
      expect(daemon.calls).toEqual(['removeContainer web force=true', 'removeContainer ghost force=true']);
    });
  });

  describe('exec', () => {
    it('refuses a container that is not running, before running anything', async () => {
      expect(await run('exec', 'job', 'ls')).toBe(1);
      expect(output.stderr).toBe('Error: container job is not running\n');
      expect(daemon.calls).toEqual(['inspectContainer job']);
    });

    it('needs a command, and reports unknown containers', async () => {
      expect(await run('exec', 'web', '--')).toBe(1);
      expect(output.stderr).toBe('Error: invalid command: no command given (vxmesh exec CONTAINER CMD [ARG...])\n');
      expect(connectedTo).toEqual([]);
      output.stderr = '';
      expect(await run('exec', 'ghost', 'ls')).toBe(1);
      expect(output.stderr).toBe('Error: container ghost not found\n');
    });
  });

  describe('network connect and disconnect', () => {
    it('connect sends the endpoint flags and prints nothing', async () => {
      const code = await run(
        'network',
        'connect',
        '--ip',
        '10.0.1.77',
        '--alias',
        'scoped-app',
        '--alias',
        'other',
        '--link',
        'db:c5',
        'appnet',
        'web',
      );
      expect(output.stderr).toBe('');
      expect(code).toBe(0);
      expect(output.stdout).toBe('');
      expect(daemon.connectRequests).toEqual([
        {
          container: 'web',
          network: {
            network: 'appnet',
            ipv4Address: '10.0.1.77',
            ipv6Address: '',
            aliases: ['scoped-app', 'other'],
            links: ['db:c5'],
          },
        },
      ]);
    });

    it('connect of an exited container fails with the daemon’s reason', async () => {
      expect(await run('network', 'connect', 'appnet', 'job')).toBe(1);
      expect(output.stderr).toBe('Error: container job is not running\n');
    });

    it('disconnect passes -f and prints nothing', async () => {
      expect(await run('network', 'disconnect', '-f', APPNET_ID, 'web')).toBe(0);
      expect(output.stdout).toBe('');
      expect(daemon.calls).toEqual([`disconnectNetwork web ${APPNET_ID} force=true`]);
      expect(await run('network', 'disconnect', 'appnet', 'db')).toBe(1);
      expect(output.stderr).toBe('Error: container db is not connected to network appnet\n');
    });
  });
});
