import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { NetworkRecord } from '../../src/cli/daemon-api.js';
import { INGRESS_REMOVAL_WARNING, PRUNE_WARNING } from '../../src/cli/network-messages.js';
import { NotFoundError, VxmeshError } from '../../src/common/errors.js';
import { Network } from '../../src/gen/vxmesh/v1/network.js';
import { FakeDaemon } from './fake-daemon.js';
import { APPNET_ID, BACKEND2_ID, INGRESS_ID, networkViews } from './network-fixtures.js';

// `vxmesh network ...` as a user runs it: the real CLI in a child process (through tsx, so no
// build is needed) against a fake daemon on a unix socket, checking stdout, stderr and the exit
// status, and what went over gRPC (maps, uint64 counters).

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

interface RunOptions {
  /** Written to the CLI's stdin; without it stdin is at end of input from the start. */
  readonly input?: string;
  /** Keep stdin open after `input`, as a terminal would: the CLI must still exit on its own. */
  readonly keepStdinOpen?: boolean;
  /** Stdin from /dev/null (as in cron jobs) rather than a pipe. */
  readonly devNull?: boolean;
}

/** A CLI that has not exited by then is hung (e.g. waiting on stdin): fail rather than wait for the test timeout. */
const HANG_MS = 20_000;

function vxmesh(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['VXMESH_HOST'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/vxmesh.ts', ...args], {
      env,
      stdio: [opts.devNull === true ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    if (opts.input !== undefined) {
      child.stdin?.write(opts.input);
    }
    if (opts.keepStdinOpen !== true) {
      child.stdin?.end();
    }
    const hung = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(hung);
      child.stdin?.destroy();
      resolve({ stdout, stderr, code });
    });
  });
}

const EXPECTED_INSPECT = readFileSync(new URL('fixtures/network-inspect-expected.json', import.meta.url), 'utf8');

describe('vxmesh network against a fake daemon', () => {
  let daemon: FakeDaemon;
  let networks: NetworkRecord[];
  const run = (args: string[], opts?: RunOptions): Promise<CliResult> => vxmesh(['-H', daemon.host, ...args], opts);

  /** The daemon's lookup: full ID, name, or unique ID prefix. */
  const lookup = (ref: string): NetworkRecord => {
    const exact = networks.find((n) => n.network.id === ref || n.network.name === ref);
    const matches = exact ? [exact] : networks.filter((n) => n.network.id.startsWith(ref));
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('network', ref);
    }
    return matches[0];
  };

  beforeAll(async () => {
    daemon = await FakeDaemon.start();
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  beforeEach(() => {
    daemon.reset();
    networks = networkViews();
    daemon.cluster.listNetworks = () => ({ networks });
    daemon.cluster.getNetwork = ({ ref }) => ({ network: lookup(ref) });
    daemon.cluster.removeNetwork = ({ ref }) => {
      const { network } = lookup(ref);
      networks = networks.filter((n) => n.network.id !== network.id);
      return { wasIngress: network.ingress };
    };
  });

  it('create sends the flags, maps included, and prints the new ID', async () => {
    daemon.cluster.createNetwork = (req) => ({
      network: Network.create({ id: 'n3wn3tw0rk0000000000000id', name: req.name, driver: 'overlay' }),
    });
    const res = await run([
      'network',
      'create',
      '--subnet',
      '10.0.9.0/24',
      '--gateway',
      '10.0.9.1',
      '--aux-address',
      'router=10.0.9.5',
      '--label',
      'team=web',
      '-o',
      'encrypted',
      '--attachable',
      'webnet',
    ]);
    expect(res).toEqual({ stdout: 'n3wn3tw0rk0000000000000id\n', stderr: '', code: 0 });
    expect(daemon.calls).toEqual([
      {
        method: 'createNetwork',
        request: {
          name: 'webnet',
          driver: 'overlay',
          subnets: ['10.0.9.0/24'],
          gateways: ['10.0.9.1'],
          ipRanges: [],
          auxAddresses: { router: '10.0.9.5' },
          enableIpv6: false,
          internal: false,
          attachable: true,
          ingress: false,
          labels: { team: 'web' },
          options: { encrypted: '' },
          ipamDriver: 'default',
          ipamOptions: {},
        },
      },
    ]);
  });

  it('create refuses bad flag syntax locally, naming the flag, and writes nothing', async () => {
    const res = await run(['network', 'create', '--aux-address', 'router', 'webnet']);
    expect(res.stdout).toBe('');
    expect(res.stderr).toBe(
      "Error: option '--aux-address <NAME=IP>' argument 'router' is invalid. Expected NAME=IP, such as my-router=10.0.1.5.\n",
    );
    expect(res.code).toBe(1);
    expect(daemon.calls).toEqual([]);
  });

  it('create reports the manager’s validation error as one line', async () => {
    daemon.cluster.createNetwork = () => {
      throw new VxmeshError('INVALID_ARGUMENT', 'invalid --gateway 10.1.0.1: outside subnet 10.0.9.0/24');
    };
    const res = await run(['network', 'create', '--subnet', '10.0.9.0/24', '--gateway', '10.1.0.1', 'webnet']);
    expect(res).toEqual({
      stdout: '',
      stderr: 'Error: invalid --gateway 10.1.0.1: outside subnet 10.0.9.0/24\n',
      code: 1,
    });
  });

  it('ls prints docker’s table sorted by name, and filters', async () => {
    const res = await run(['network', 'ls']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'NETWORK ID     NAME        DRIVER    SCOPE',
        'q7m2wkd0e4x9   appnet      overlay   swarm',
        'k3j9x2m8q1w7   backend2    overlay   swarm',
        'k3j9x2m8q1w8   backend10   overlay   swarm',
        'rx0v9g3tq8l2   ingress     overlay   swarm',
        '',
      ].join('\n'),
    );
    const filtered = await run(['network', 'ls', '--format', 'json', '-f', 'label=team=data', '-f', 'name=2']);
    expect(filtered.code).toBe(0);
    expect(filtered.stdout).toBe(
      '{"CreatedAt":"2026-08-02 09:30:05.5 +0000 UTC","Driver":"overlay","ID":"k3j9x2m8q1w7","IPv4":"true",' +
        '"IPv6":"false","Internal":"true","Labels":"team=data,tier=","Name":"backend2","Scope":"swarm"}\n',
    );
  });

  it('inspect prints the stored expected document, uint64 counters intact after gRPC', async () => {
    const res = await run(['network', 'inspect', 'appnet', INGRESS_ID, BACKEND2_ID.slice(0, 12)]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(EXPECTED_INSPECT);
  });

  it('inspect of an unknown network prints [] and the error', async () => {
    const res = await run(['network', 'inspect', 'ghost']);
    expect(res).toEqual({ stdout: '[]\n', stderr: 'Error: network ghost not found\n', code: 1 });
  });

  it('rm of ingress asks, and removes on "y" even with stdin left open', async () => {
    const res = await run(['network', 'rm', 'ingress', 'appnet'], { input: 'y\n', keepStdinOpen: true });
    expect(res).toEqual({ stdout: `${INGRESS_REMOVAL_WARNING} [y/N] ingress\nappnet\n`, stderr: '', code: 0 });
    expect(networks.map((n) => n.network.id)).not.toContain(INGRESS_ID);
  });

  it('rm of ingress at end of input skips it; other failures are one line each, exit 1', async () => {
    const res = await run(['network', 'rm', 'ingress', 'ghost', APPNET_ID]);
    expect(res).toEqual({
      stdout: `${INGRESS_REMOVAL_WARNING} [y/N] ${APPNET_ID}\n`,
      stderr: 'Error: network ghost not found\n',
      code: 1,
    });
    expect(daemon.calls.filter((c) => c.method === 'removeNetwork').map((c) => c.request)).toEqual([
      { ref: 'ghost' },
      { ref: APPNET_ID },
    ]);
  });

  it('rm -f does not ask and ignores missing networks', async () => {
    const res = await run(['network', 'rm', '-f', 'ingress', 'ghost']);
    expect(res).toEqual({ stdout: 'ingress\n', stderr: '', code: 0 });
  });

  it('prune asks, sends the filters, and prints what was deleted', async () => {
    daemon.cluster.pruneNetworks = () => ({ deletedNames: ['backend2', 'backend10'] });
    const res = await run(['network', 'prune', '--filter', 'label=team=data', '--filter', 'until=1785398400'], {
      input: 'y\n',
    });
    expect(res).toEqual({
      stdout: `${PRUNE_WARNING} [y/N] Deleted Networks:\nbackend2\nbackend10\n\n`,
      stderr: '',
      code: 0,
    });
    expect(daemon.calls).toEqual([
      {
        method: 'pruneNetworks',
        request: { labelFilters: ['team=data'], labelNotFilters: [], until: 1_785_398_400_000n },
      },
    ]);
  });

  it('prune without a yes (stdin from /dev/null) does nothing and exits 0', async () => {
    const res = await run(['network', 'prune'], { devNull: true });
    expect(res).toEqual({ stdout: `${PRUNE_WARNING} [y/N] `, stderr: '', code: 0 });
    expect(daemon.calls).toEqual([]);
  });

  it('passes the daemon’s refusal through as one line', async () => {
    daemon.cluster.listNetworks = () => {
      throw new VxmeshError('FAILED_PRECONDITION', 'networks are not implemented yet');
    };
    const res = await run(['network', 'ls']);
    expect(res).toEqual({ stdout: '', stderr: 'Error: networks are not implemented yet\n', code: 1 });
  });
});
