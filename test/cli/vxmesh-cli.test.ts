import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError, VxmeshError } from '../../src/common/errors.js';
import type { SwarmInitRequest } from '../../src/gen/vxmesh/v1/control.js';
import { NodeAvailability, NodeRole } from '../../src/gen/vxmesh/v1/node.js';
import { FakeDaemon } from './fake-daemon.js';
import { MANAGER_ID, WORKER1_ID, clusterViews } from './node-fixtures.js';

// Runs the real CLI as a child process (through tsx, so no build is needed) against a fake daemon
// on a unix socket: what is checked is exactly what a user sees, stdout, stderr and exit status.

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

function vxmesh(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const inherited = { ...process.env };
    delete inherited['VXMESH_HOST'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/vxmesh.ts', ...args], {
      env: { ...inherited, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ stdout, stderr, code }));
  });
}

const WORKER_TOKEN = `SWMTKN-1-${'3'.repeat(50)}-${'w'.repeat(25)}`;
const MANAGER_TOKEN = `SWMTKN-1-${'3'.repeat(50)}-${'m'.repeat(25)}`;

describe('vxmesh CLI against a fake daemon', () => {
  let daemon: FakeDaemon;
  const run = (...args: string[]): Promise<CliResult> => vxmesh(['-H', daemon.host, ...args]);

  beforeAll(async () => {
    daemon = await FakeDaemon.start();
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  beforeEach(() => {
    daemon.reset();
    daemon.local.info = () => ({
      localNodeState: 'active',
      nodeId: MANAGER_ID,
      clusterId: 'c1',
      role: NodeRole.NODE_ROLE_MANAGER,
      managerAddrs: ['10.0.0.10:2377'],
      sessionState: 'connected',
      lastError: '',
      certNotAfter: '',
      agent: undefined,
    });
  });

  it('swarm init sends the flags and prints docker-style instructions', async () => {
    let sent: SwarmInitRequest | undefined;
    daemon.local.swarmInit = (req) => {
      sent = req;
      return {
        nodeId: MANAGER_ID,
        workerJoinCommand: `vxmesh swarm join --token ${WORKER_TOKEN} 10.0.0.10:2377`,
        managerJoinCommand: `vxmesh swarm join --token ${MANAGER_TOKEN} 10.0.0.10:2377`,
      };
    };
    const res = await run(
      'swarm',
      'init',
      '--advertise-addr',
      '10.0.0.10',
      '--data-path-port',
      '7789',
      '--default-addr-pool',
      '10.20.0.0/16',
      '--default-addr-pool',
      '10.30.0.0/16,10.40.0.0/16',
      '--default-addr-pool-mask-length',
      '26',
      '--etcd-endpoints',
      'https://10.0.0.5:2379,https://10.0.0.6:2379',
      '--cert-expiry',
      '720h',
      '--dispatcher-heartbeat',
      '2s',
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      `Swarm initialized: current node (${MANAGER_ID}) is now a manager.\n\n` +
        'To add a worker to this swarm, run the following command:\n\n' +
        `    vxmesh swarm join --token ${WORKER_TOKEN} 10.0.0.10:2377\n\n` +
        "To add a manager to this swarm, run 'vxmesh swarm join-token manager' and follow the instructions.\n\n",
    );
    expect(sent).toEqual({
      advertiseAddr: '10.0.0.10',
      listenAddr: '',
      dataPathAddr: '',
      dataPathPort: 7789,
      defaultAddrPools: ['10.20.0.0/16', '10.30.0.0/16', '10.40.0.0/16'],
      defaultAddrPoolMaskLength: 26,
      etcdEndpoints: ['https://10.0.0.5:2379', 'https://10.0.0.6:2379'],
      certExpiryMs: 720n * 3_600_000n,
      dispatcherHeartbeatMs: 2000,
    });
  });

  it('swarm join reports the role the daemon joined as', async () => {
    daemon.local.swarmJoin = () => ({ nodeId: WORKER1_ID, role: NodeRole.NODE_ROLE_WORKER });
    const res = await run('swarm', 'join', '--token', WORKER_TOKEN, '--availability', 'drain', '10.0.0.10:2377');
    expect(res).toEqual({ stdout: 'This node joined a swarm as a worker.\n', stderr: '', code: 0 });
    expect(daemon.calls).toEqual([
      {
        method: 'swarmJoin',
        request: {
          token: WORKER_TOKEN,
          remoteAddr: '10.0.0.10:2377',
          advertiseAddr: '',
          dataPathAddr: '',
          listenAddr: '',
          availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
        },
      },
    ]);
  });

  it('node ls prints a docker-aligned table with the local node starred', async () => {
    daemon.cluster.listNodes = () => ({ nodes: clusterViews() });
    const res = await run('node', 'ls');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS',
        'e216jshn25ckzbvmwlnh5jr3g *   manager1   Ready     Active         Leader',
        '38ciaotwjuritcdtn9npbnkuz     worker1    Ready     Active',
        '1bcef6utixb0l0ca7gxuivsj0     worker2    Down      Drain',
        '',
      ].join('\n'),
    );
  });

  it('node ls --format json prints one docker-shaped object per line', async () => {
    daemon.cluster.listNodes = () => ({ nodes: clusterViews() });
    const res = await run('node', 'ls', '--format', 'json');
    expect(res.code).toBe(0);
    const lines = res.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toBe(
      `{"Availability":"Active","Hostname":"manager1","ID":"${MANAGER_ID}","ManagerStatus":"Leader","Self":true,"Status":"Ready"}`,
    );
  });

  it('node inspect prints a docker-shaped JSON array indented by 4 spaces', async () => {
    daemon.cluster.getNode = ({ ref }) => {
      const view = clusterViews().find((v) => v.node?.id === ref || v.node?.hostname === ref);
      if (view === undefined) {
        throw new VxmeshError('NOT_FOUND', `node ${ref} not found`);
      }
      return { node: view };
    };
    const res = await run('node', 'inspect', 'self', 'worker1');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^\[\n {4}\{\n {8}"ID": /);
    expect(JSON.parse(res.stdout)).toEqual([
      {
        ID: MANAGER_ID,
        Version: { Index: 10 },
        CreatedAt: '2024-05-16T22:52:44.991Z',
        UpdatedAt: '2024-05-16T22:52:49.991Z',
        Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
        Description: { Hostname: 'manager1' },
        Status: { State: 'ready', Addr: '10.0.0.10' },
        ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.10:2377' },
      },
      {
        ID: WORKER1_ID,
        Version: { Index: 22 },
        CreatedAt: '2024-05-16T22:52:45.991Z',
        UpdatedAt: '2024-05-16T22:52:45.991Z',
        Spec: { Labels: {}, Role: 'worker', Availability: 'active' },
        Description: { Hostname: 'worker1' },
        Status: { State: 'ready', Addr: '10.0.0.11' },
        Agent: {
          Session: 'connected',
          AppliedVersion: '418',
          Items: 7,
          LastError: '',
          Resolver: {
            Queries: 1520,
            Answered: 1200,
            Forwarded: 290,
            NxDomain: 24,
            Malformed: 3,
            Refused: 1,
            Failed: 2,
            Errors: 0,
          },
        },
      },
    ]);
  });

  it('node inspect of an unknown node prints what it found, then the error', async () => {
    daemon.cluster.getNode = ({ ref }) => {
      throw new VxmeshError('NOT_FOUND', `node ${ref} not found`);
    };
    const res = await run('node', 'inspect', 'ghost');
    expect(res).toEqual({ stdout: '[]\n', stderr: 'Error: node ghost not found\n', code: 1 });
  });

  it('swarm join-token -q prints only the token', async () => {
    daemon.cluster.getJoinTokens = () => ({ tokens: { worker: WORKER_TOKEN, manager: MANAGER_TOKEN } });
    const res = await run('swarm', 'join-token', '-q', 'manager');
    expect(res).toEqual({ stdout: `${MANAGER_TOKEN}\n`, stderr: '', code: 0 });
  });

  it('swarm join-token --rotate prints the rotation and the new join command', async () => {
    daemon.cluster.rotateJoinToken = () => ({ tokens: { worker: WORKER_TOKEN, manager: MANAGER_TOKEN } });
    const res = await run('swarm', 'join-token', '--rotate', 'worker');
    expect(res.stderr).toBe('');
    expect(daemon.calls[0]).toEqual({ method: 'rotateJoinToken', request: { role: NodeRole.NODE_ROLE_WORKER } });
    expect(res.stdout).toBe(
      'Successfully rotated worker join token.\n\n' +
        'To add a worker to this swarm, run the following command:\n\n' +
        `    vxmesh swarm join --token ${WORKER_TOKEN} 10.0.0.10:2377\n\n`,
    );
  });

  it('prints a daemon error as one line and exits 1', async () => {
    daemon.cluster.listNodes = () => {
      throw new VxmeshError(
        'FAILED_PRECONDITION',
        'This node is not a swarm manager. Use "vxmesh swarm init" or "vxmesh swarm join" to connect this node to swarm and try again.',
      );
    };
    const res = await run('node', 'ls');
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      'Error: This node is not a swarm manager. Use "vxmesh swarm init" or "vxmesh swarm join" to connect this node to swarm and try again.\n',
    );
    expect(res.code).toBe(1);
  });

  it('says the daemon is not running when its socket is missing', async () => {
    const host = `${daemon.host}.missing`;
    const res = await vxmesh(['node', 'ls'], { VXMESH_HOST: host });
    expect(res).toEqual({
      stdout: '',
      stderr: `Error: cannot connect to the vxmesh daemon at ${host}: is vxmeshd running?\n`,
      code: 1,
    });
  });

  it('does not blame a missing daemon when the daemon itself answers UNAVAILABLE', async () => {
    daemon.cluster.getJoinTokens = () => {
      throw new UnavailableError('the cluster store is unreachable');
    };
    const res = await run('swarm', 'join-token', 'worker');
    expect(res).toEqual({ stdout: '', stderr: 'Error: the cluster store is unreachable\n', code: 1 });
  });

  it('rejects a bad flag value locally, naming the flag, without calling the daemon', async () => {
    const res = await run('swarm', 'init', '--data-path-port', '80');
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(
      /^Error: option '--data-path-port <port>' argument '80' is invalid\. [^\n]*1024[^\n]*49151[^\n]*\n$/,
    );
    expect(res.code).not.toBe(0);
    expect(daemon.calls).toEqual([]);
  });

  it('rejects an unknown role for join-token', async () => {
    const res = await run('swarm', 'join-token', 'admin');
    expect(res.stderr).toMatch(/^Error: .*'admin'.*worker, manager.*\n$/);
    expect(res.code).not.toBe(0);
  });

  it('answers --help on a subcommand with usage on stdout and exit 0', async () => {
    const res = await run('node', 'update', '--help');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: vxmesh node update [options] <node>');
    expect(res.stdout).toContain('--availability <state>');
  });
});
