import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli-program.js';
import type { DaemonAddress } from '../../../src/cli/daemon-address.js';
import { VxmeshError } from '../../../src/common/errors.js';
import { NodeAvailability, NodeRole } from '../../../src/gen/vxmesh/v1/node.js';
import { MANAGER_ID, WORKER1_ID, WORKER2_ID, clusterViews } from '../../cli/node-fixtures.js';
import { FakeDaemonApi, MemoryOutput } from './fake-daemon-api.js';

// The command layer in-process, against an in-memory daemon: argument handling, call sequences,
// partial failures and exit codes. Rendering is covered by the formatting tests; the real
// process and gRPC path by test/cli.

describe('vxmesh commands', () => {
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
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID);
    output = new MemoryOutput();
    connectedTo = [];
  });

  it('connects to -H and closes the client afterwards', async () => {
    expect(await run('-H', 'unix:///tmp/x.sock', 'swarm', 'leave', '--force')).toBe(0);
    expect(connectedTo.map((a) => a.socketPath)).toEqual(['/tmp/x.sock']);
    expect(daemon.calls).toEqual(['swarmLeave force=true']);
    expect(daemon.closed).toBe(true);
    expect(output.stdout).toBe('Node left the swarm.\n');
  });

  it('accepts -H after the subcommand too', async () => {
    expect(await run('node', 'ls', '-q', '-H', 'unix:///tmp/y.sock')).toBe(0);
    expect(connectedTo.map((a) => a.socketPath)).toEqual(['/tmp/y.sock']);
    expect(output.stdout).toBe(`${MANAGER_ID}\n${WORKER1_ID}\n${WORKER2_ID}\n`);
  });

  it('promotes by hostname, and reports nodes that already have the role', async () => {
    expect(await run('node', 'promote', 'worker1', 'manager1')).toBe(0);
    expect(output.stdout).toBe(
      'Node worker1 promoted to a manager in the swarm.\nNode manager1 is already a manager.\n',
    );
    expect(daemon.calls).toContain(`updateNode ${WORKER1_ID} role=${NodeRole.NODE_ROLE_MANAGER} availability=0`);
    expect(daemon.calls.filter((c) => c.startsWith('updateNode'))).toHaveLength(1);
  });

  it('demotes self as the local node ID', async () => {
    expect(await run('node', 'demote', 'self')).toBe(0);
    expect(output.stdout).toBe(`Manager ${MANAGER_ID} demoted in the swarm.\n`);
  });

  it('keeps going after a failing node and prints one Error line per failure', async () => {
    expect(await run('node', 'rm', 'ghost', 'worker2', 'manager1')).toBe(1);
    expect(output.stdout).toBe('worker2\n');
    expect(output.stderr).toBe(`Error: node ghost not found\nError: node ${MANAGER_ID} is a cluster manager\n`);
    expect(daemon.calls).toContain('removeNode worker2 force=false');
  });

  it('node update sends only the fields given and prints the ref', async () => {
    expect(await run('node', 'update', '--availability', 'drain', WORKER1_ID.slice(0, 6))).toBe(0);
    expect(output.stdout).toBe(`${WORKER1_ID.slice(0, 6)}\n`);
    expect(daemon.calls).toEqual([
      `updateNode ${WORKER1_ID.slice(0, 6)} role=0 availability=${NodeAvailability.NODE_AVAILABILITY_DRAIN}`,
    ]);
  });

  it('node update without a change is a usage error, before any connection', async () => {
    expect(await run('node', 'update', 'worker1')).toBe(1);
    expect(output.stderr).toBe('Error: nothing to update: pass --availability or --role\n');
    expect(connectedTo).toEqual([]);
  });

  it('rejects a bad --availability with the allowed values', async () => {
    expect(await run('node', 'update', '--availability', 'paused', 'worker1')).toBe(1);
    expect(output.stderr).toMatch(
      /^Error: option '--availability <state>' argument 'paused' is invalid\. .*active, pause, drain\.?\n$/,
    );
  });

  it('node inspect --pretty separates nodes with a blank line', async () => {
    expect(await run('node', 'inspect', '--pretty', 'worker1', 'worker2')).toBe(0);
    expect(output.stdout).toMatch(/Hostname: +worker1\n[\s\S]*\n\nID: +1bcef6utixb0l0ca7gxuivsj0\n/);
  });

  it('join-token -q --rotate prints only the new token', async () => {
    expect(await run('swarm', 'join-token', '-q', '--rotate', 'worker')).toBe(0);
    expect(output.stdout).toBe('SWMTKN-1-w\n');
    expect(daemon.calls).toEqual([`rotateJoinToken ${NodeRole.NODE_ROLE_WORKER}`]);
  });

  it('join-token fails clearly when the daemon knows no manager address', async () => {
    daemon.infoResponse = { ...daemon.infoResponse, managerAddrs: [] };
    expect(await run('swarm', 'join-token', 'worker')).toBe(1);
    expect(output.stderr).toBe('Error: the daemon reports no manager address to join through\n');
  });

  it('swarm join prints the role the daemon reports', async () => {
    expect(await run('swarm', 'join', '--token', 'T', '10.0.0.10')).toBe(0);
    expect(output.stdout).toBe('This node joined a swarm as a manager.\n');
  });

  it('swarm join requires --token', async () => {
    expect(await run('swarm', 'join', '10.0.0.10')).toBe(1);
    expect(output.stderr).toBe("Error: required option '--token <token>' not specified\n");
  });

  it('rejects a pool mask shorter than a pool prefix, naming the flag', async () => {
    expect(
      await run('swarm', 'init', '--default-addr-pool', '10.20.0.0/16', '--default-addr-pool-mask-length', '12'),
    ).toBe(1);
    expect(output.stderr).toBe(
      'Error: invalid --default-addr-pool-mask-length: 12 is shorter than the prefix of --default-addr-pool 10.20.0.0/16\n',
    );
    expect(connectedTo).toEqual([]);
  });

  it('rejects a -H that is not a unix socket', async () => {
    expect(await run('-H', 'tcp://10.0.0.1:2375', 'node', 'ls')).toBe(1);
    expect(output.stderr).toMatch(/^Error: invalid -H\/--host: "tcp:\/\/10.0.0.1:2375" is not a unix socket address/);
  });

  it('prints help on stdout and succeeds', async () => {
    expect(await run('swarm', 'join', '--help')).toBe(0);
    expect(output.stdout).toContain('Usage: vxmesh swarm join [options] <manager-addr>');
    expect(output.stderr).toBe('');
  });
});

describe('the daemon address', () => {
  it('comes from VXMESH_HOST when -H is absent, and an empty one means the default', async () => {
    const seen: string[] = [];
    const saved = process.env['VXMESH_HOST'];
    try {
      for (const value of ['unix:///tmp/env.sock', '']) {
        process.env['VXMESH_HOST'] = value;
        await runCli(['swarm', 'leave'], {
          output: new MemoryOutput(),
          connect: (address) => {
            seen.push(address.display);
            return new FakeDaemonApi([], '');
          },
        });
      }
    } finally {
      if (saved === undefined) {
        delete process.env['VXMESH_HOST'];
      } else {
        process.env['VXMESH_HOST'] = saved;
      }
    }
    expect(seen).toEqual(['unix:///tmp/env.sock', 'unix:///run/vxmesh/vxmesh.sock']);
  });
});

describe('node inspect failures', () => {
  it('prints nothing but the error when the daemon fails before finding any node', async () => {
    const output = new MemoryOutput();
    const daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID);
    daemon.getNode = () => Promise.reject(new VxmeshError('FAILED_PRECONDITION', 'not a manager'));
    expect(await runCli(['node', 'inspect', 'worker1'], { output, connect: () => daemon })).toBe(1);
    expect(output).toMatchObject({ stdout: '', stderr: 'Error: not a manager\n' });
  });

  it('prints the nodes found and an Error line for each missing one', async () => {
    const output = new MemoryOutput();
    const daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID);
    expect(await runCli(['node', 'inspect', 'ghost', 'worker1', 'spook'], { output, connect: () => daemon })).toBe(1);
    expect((JSON.parse(output.stdout) as { ID: string }[]).map((n) => n.ID)).toEqual([WORKER1_ID]);
    expect(output.stderr).toBe('Error: node ghost not found\nError: node spook not found\n');
  });
});
