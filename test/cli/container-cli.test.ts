import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, VxmeshError } from '../../src/common/errors.js';
import { Container, ContainerState } from '../../src/gen/vxmesh/v1/container.js';
import { FakeDaemon } from './fake-daemon.js';
import { DB_ID, FIXTURE_NOW_MS, FRESH_ID, JOB_ID, WEB_ID, containerViews } from './container-fixtures.js';

// The container commands as a user runs them: the real CLI in a child process (through tsx, so no
// build is needed) against a fake daemon on a unix socket, checking stdout, stderr, the exit status
// and what went over gRPC. `exec` runs a stand-in `ip` placed first on PATH, which prints its
// arguments and what it reads from stdin, and exits 7.

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

interface RunOptions {
  /** Written to the CLI's stdin, then closed; without it stdin is at end of input. */
  readonly input?: string;
  /** Prepended to PATH. */
  readonly pathDir?: string;
}

/** A CLI that has not exited by then is hung: fail rather than wait for the test timeout. */
const HANG_MS = 20_000;

function vxmesh(args: readonly string[], opts: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['VXMESH_HOST'];
    if (opts.pathDir !== undefined) {
      env['PATH'] = `${opts.pathDir}:${env['PATH'] ?? ''}`;
    }
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/vxmesh.ts', ...args], {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(opts.input ?? '');
    const hung = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(hung);
      resolve({ stdout, stderr, code });
    });
  });
}

const EXPECTED_INSPECT = readFileSync(new URL('fixtures/container-inspect-expected.json', import.meta.url), 'utf8');

/** A stand-in for iproute2's `ip`: one bracketed line per argument, then one line of stdin echoed. */
const FAKE_IP = `#!/bin/sh
for arg in "$@"; do printf '[%s]\\n' "$arg"; done
read -r line
printf 'stdin: %s\\n' "$line"
echo 'to stderr' >&2
exit 7
`;

describe('vxmesh containers against a fake daemon', () => {
  let daemon: FakeDaemon;
  let containers: Container[];
  let binDir: string;
  const run = (args: string[], opts?: RunOptions): Promise<CliResult> => vxmesh(['-H', daemon.host, ...args], opts);

  /** The daemon's lookup: full ID, name, or unique ID prefix. */
  const lookup = (ref: string): Container => {
    const exact = containers.find((c) => c.id === ref || c.name === ref);
    const matches = exact ? [exact] : containers.filter((c) => c.id.startsWith(ref));
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('container', ref);
    }
    return matches[0];
  };

  beforeAll(async () => {
    daemon = await FakeDaemon.start();
    binDir = await mkdtemp(join(tmpdir(), 'vxmesh-fake-ip-'));
    await writeFile(join(binDir, 'ip'), FAKE_IP);
    await chmod(join(binDir, 'ip'), 0o755);
  });

  afterAll(async () => {
    await daemon?.stop();
    await rm(binDir, { recursive: true, force: true });
  });

  beforeEach(() => {
    daemon.reset();
    containers = containerViews(Date.now());
    daemon.local.listContainers = ({ all }) => ({
      containers: containers.filter((c) => all || c.state === ContainerState.CONTAINER_STATE_RUNNING),
    });
    daemon.local.inspectContainer = ({ ref }) => ({ container: lookup(ref) });
    daemon.local.stopContainer = ({ ref }) => ({ container: lookup(ref) });
    daemon.local.removeContainer = ({ ref, force }) => {
      const c = lookup(ref);
      if (c.state === ContainerState.CONTAINER_STATE_RUNNING && !force) {
        throw new VxmeshError('FAILED_PRECONDITION', `cannot remove container "${c.name}": container is running`);
      }
      containers = containers.filter((x) => x.id !== c.id);
      return { container: c, warnings: [] };
    };
  });

  it('run sends the flags over gRPC, leaves the command’s own options alone, and prints the full ID', async () => {
    daemon.local.runContainer = (req) => ({
      container: Container.create({ id: WEB_ID, name: req.name, command: req.command }),
    });
    const res = await run([
      'run',
      '-d',
      '--name',
      'web',
      '--network',
      'appnet',
      '--ip6',
      'fd00:1::10',
      '--network-alias',
      'app',
      '--link',
      'db:database',
      '--dns',
      '10.0.0.2',
      '--dns-search',
      'corp.example',
      '--dns-option',
      'ndots:3',
      '--dns-option',
      'edns0',
      'sh',
      '-c',
      'httpd -f',
      '--name',
      'x',
    ]);
    expect(res).toEqual({ stdout: `${WEB_ID}\n`, stderr: '', code: 0 });
    expect(daemon.calls).toEqual([
      {
        method: 'runContainer',
        request: {
          name: 'web',
          hostname: '',
          command: ['sh', '-c', 'httpd -f', '--name', 'x'],
          networks: [
            { network: 'appnet', ipv4Address: '', ipv6Address: 'fd00:1::10', aliases: ['app'], links: ['db:database'] },
          ],
          dns: ['10.0.0.2'],
          dnsSearch: ['corp.example'],
          dnsOptions: ['ndots:3', 'edns0'],
          autoRemove: false,
          createOnly: false,
        },
      },
    ]);
  });

  it('run refuses bad flags locally in one line, and passes the daemon’s refusal through', async () => {
    const bad = await run(['run', '--name', 'web', '--network', 'appnet', '--ip', '10.0.1', 'true']);
    expect(bad).toEqual({
      stdout: '',
      stderr: "Error: option '--ip <IP>' argument '10.0.1' is invalid. Not an IPv4 address such as 10.0.1.10.\n",
      code: 1,
    });
    expect(daemon.calls).toEqual([]);
    daemon.local.runContainer = () => {
      throw new VxmeshError('FAILED_PRECONDITION', 'network backend2 is not attachable');
    };
    const refused = await run(['run', '--name', 'web', '--network', 'backend2', 'true']);
    expect(refused).toEqual({ stdout: '', stderr: 'Error: network backend2 is not attachable\n', code: 1 });
  });

  it('ps prints docker’s table; -a adds stopped ones; --format json prints a line each', async () => {
    const res = await run(['ps']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'CONTAINER ID   COMMAND                  CREATED       STATUS       NETWORKS          NAMES',
        'a1b2c3d4e5f6   "sh -c \'while true; …"   3 hours ago   Up 3 hours   appnet,backend2   web',
        '5be1c0f4a9d2   "sleep infinity"         2 days ago    Up 2 days    backend2          db',
        '',
      ].join('\n'),
    );
    const all = await run(['ps', '-a', '--format', 'json']);
    expect(all.code).toBe(0);
    const rows = all.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, string>);
    expect(rows.map((r) => [r['ID'], r['State'], r['Status']])).toEqual([
      [FRESH_ID.slice(0, 12), 'created', 'Created'],
      [JOB_ID.slice(0, 12), 'exited', 'Exited (3) 12 minutes ago'],
      [WEB_ID.slice(0, 12), 'running', 'Up 3 hours'],
      [DB_ID.slice(0, 12), 'running', 'Up 2 days'],
    ]);
    expect(daemon.calls.map((c) => c.request)).toEqual([{ all: false }, { all: true }]);
  });

  it('inspect prints the stored expected document after a trip through gRPC', async () => {
    containers = containerViews(FIXTURE_NOW_MS);
    const res = await run(['inspect', 'web', JOB_ID.slice(0, 10), 'fresh']);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(EXPECTED_INSPECT);
  });

  it('inspect of an unknown container prints [] and the error', async () => {
    const res = await run(['inspect', 'ghost']);
    expect(res).toEqual({ stdout: '[]\n', stderr: 'Error: container ghost not found\n', code: 1 });
  });

  it('stop and rm keep going after failures: the refs that worked on stdout, one Error line each', async () => {
    const stopped = await run(['stop', '-t', '2', 'web', 'ghost', 'db']);
    expect(stopped).toEqual({ stdout: 'web\ndb\n', stderr: 'Error: container ghost not found\n', code: 1 });
    expect(daemon.calls.map((c) => c.request)).toEqual([
      { ref: 'web', timeoutSeconds: 2 },
      { ref: 'ghost', timeoutSeconds: 2 },
      { ref: 'db', timeoutSeconds: 2 },
    ]);
    const removed = await run(['rm', 'job', 'web', 'ghost']);
    expect(removed).toEqual({
      stdout: 'job\n',
      stderr: 'Error: cannot remove container "web": container is running\nError: container ghost not found\n',
      code: 1,
    });
    const forced = await run(['rm', '-f', 'web', 'ghost']);
    expect(forced).toEqual({ stdout: 'web\n', stderr: 'Error: container ghost not found\n', code: 0 });
  });

  it('rm succeeds when the managers cannot remove an endpoint yet, with a WARNING line on stderr', async () => {
    const warning =
      'the endpoint of job on network app (10.0.1.7) could not be released now: no quorum; ' +
      'this node releases it (its address and DNS name) once a manager is reachable';
    daemon.local.removeContainer = ({ ref }) => ({ container: lookup(ref), warnings: [warning] });
    expect(await run(['rm', 'job'])).toEqual({ stdout: 'job\n', stderr: `WARNING: ${warning}\n`, code: 0 });
  });

  it('start prints the ref; a daemon that is no swarm member says so in one line', async () => {
    daemon.local.startContainer = ({ ref }) => ({ container: lookup(ref) });
    expect(await run(['start', 'job'])).toEqual({ stdout: 'job\n', stderr: '', code: 0 });
    daemon.local.startContainer = () => {
      throw new VxmeshError('FAILED_PRECONDITION', 'this node is not part of a swarm');
    };
    expect(await run(['start', 'job'])).toEqual({
      stdout: '',
      stderr: 'Error: this node is not part of a swarm\n',
      code: 1,
    });
  });

  it('network connect and disconnect send their flags and print nothing', async () => {
    daemon.local.connectNetwork = ({ container }) => ({ container: lookup(container) });
    daemon.local.disconnectNetwork = () => ({});
    const connected = await run(['network', 'connect', '--alias', 'scoped-app', '--ip', '10.0.1.33', 'appnet', 'web']);
    expect(connected).toEqual({ stdout: '', stderr: '', code: 0 });
    const disconnected = await run(['network', 'disconnect', '-f', 'appnet', 'gone']);
    expect(disconnected).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(daemon.calls).toEqual([
      {
        method: 'connectNetwork',
        request: {
          container: 'web',
          network: { network: 'appnet', ipv4Address: '10.0.1.33', ipv6Address: '', aliases: ['scoped-app'], links: [] },
        },
      },
      { method: 'disconnectNetwork', request: { container: 'gone', network: 'appnet', force: true } },
    ]);
  });

  it('network connect reports the daemon’s refusal in one line', async () => {
    daemon.local.connectNetwork = () => {
      throw new VxmeshError('ALREADY_EXISTS', 'endpoint with name web already exists in network appnet');
    };
    expect(await run(['network', 'connect', 'appnet', 'web'])).toEqual({
      stdout: '',
      stderr: 'Error: endpoint with name web already exists in network appnet\n',
      code: 1,
    });
  });

  it('exec runs `ip netns exec <namespace> CMD...` with this stdio and exits with its status', async () => {
    const res = await run(['exec', 'web', 'sh', '-c', 'echo "a b"', '-H', 'x'], { input: 'hello\n', pathDir: binDir });
    expect(res).toEqual({
      stdout: `[netns]\n[exec]\n[vxm-c-${WEB_ID.slice(0, 12)}]\n[sh]\n[-c]\n[echo "a b"]\n[-H]\n[x]\nstdin: hello\n`,
      stderr: 'to stderr\n',
      code: 7,
    });
    const dashed = await run(['exec', DB_ID.slice(0, 5), '--', 'ls', '-l'], { pathDir: binDir });
    expect(dashed.stdout).toBe(`[netns]\n[exec]\n[vxm-c-${DB_ID.slice(0, 12)}]\n[ls]\n[-l]\nstdin: \n`);
    expect(dashed.code).toBe(7);
  });

  it('exec refuses a container that is not running', async () => {
    const res = await run(['exec', 'job', 'ls'], { pathDir: binDir });
    expect(res).toEqual({ stdout: '', stderr: 'Error: container job is not running\n', code: 1 });
  });
});
