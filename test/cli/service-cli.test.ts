import { spawn } from 'node:child_process';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type {
  CreateServiceRequest,
  GetServiceRequest,
  ListTasksRequest,
  RemoveServiceRequest,
  UpdateServiceRequest,
} from '../../src/gen/vxmesh/v1/control.js';
import { ServiceSpec } from '../../src/gen/vxmesh/v1/service.js';
import { FakeDaemonApi } from '../unit/cli/fake-daemon-api.js';
import { FakeDaemon } from './fake-daemon.js';
import { networkViews } from './network-fixtures.js';
import { MANAGER_ID, clusterViews } from './node-fixtures.js';

// `vxmesh service ...` as a user runs it: the real CLI in a child process (through tsx) against
// a fake daemon on a unix socket, whose ClusterControl service handlers are backed by the
// in-memory manager of the unit tests. Checks what crosses gRPC (int64/uint64 fields, error
// codes) and the real process's output on a pipe (no terminal: plain progress lines).

interface CliResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** A CLI that has not exited by then is hung: fail rather than wait for the test timeout. */
const HANG_MS = 20_000;

function vxmesh(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['VXMESH_HOST'];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/vxmesh.ts', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const hung = setTimeout(() => child.kill('SIGKILL'), HANG_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(hung);
      resolve({ stdout, stderr, code });
    });
  });
}

describe('vxmesh service against a fake daemon', () => {
  let daemon: FakeDaemon;
  let manager: FakeDaemonApi;
  const run = (...args: string[]): Promise<CliResult> => vxmesh(['-H', daemon.host, ...args]);

  beforeAll(async () => {
    daemon = await FakeDaemon.start();
  });

  afterAll(async () => {
    await daemon?.stop();
  });

  beforeEach(() => {
    daemon.reset();
    manager = new FakeDaemonApi(clusterViews(), MANAGER_ID, networkViews());
    // The fake daemon's handler table predates services; its lookup is by method name.
    Object.assign(daemon.cluster, {
      listNodes: async () => ({ nodes: await manager.listNodes() }),
      getNetwork: async ({ ref }: { ref: string }) => ({ network: await manager.getNetwork(ref) }),
      createService: async ({ spec }: CreateServiceRequest) => ({
        service: await manager.createService(spec ?? ServiceSpec.create()),
      }),
      updateService: async ({ ref, spec, version }: UpdateServiceRequest) => ({
        service: await manager.updateService(ref, spec ?? ServiceSpec.create(), version),
      }),
      removeService: async ({ ref }: RemoveServiceRequest) => {
        await manager.removeService(ref);
        return {};
      },
      listServices: async () => ({ services: await manager.listServices() }),
      getService: async ({ ref }: GetServiceRequest) => ({ service: await manager.getService(ref) }),
      listTasks: async (request: ListTasksRequest) => ({ tasks: await manager.listTasks(request) }),
    });
  });

  it('creates a service over gRPC, 64-bit fields intact, and prints its progress as plain lines', async () => {
    const res = await run(
      'service',
      'create',
      '--name',
      'web',
      '--replicas',
      '2',
      '-p',
      '8080:80',
      '--restart-delay',
      '1500ms',
      '--update-delay',
      '2h',
      'sleep',
      '1d',
    );
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toBe(
      [
        'sweb000000000000000000000',
        'overall progress: 0 out of 2 tasks',
        '1/2: running   [==================================================>]',
        '2/2: running   [==================================================>]',
        'overall progress: 2 out of 2 tasks',
        'verify: Waiting 1 seconds to verify that tasks are stable...',
        'verify: Service converged',
        '',
      ].join('\n'),
    );
    const spec = manager.createServiceRequests[0];
    expect(spec?.restartDelayMs).toBe(1_500n);
    expect(spec?.updateDelayMs).toBe(7_200_000n);
    expect(spec?.ports).toEqual([{ protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: 1 }]);
  });

  it('lists, inspects and shows the tasks of services', async () => {
    await manager.createService(
      ServiceSpec.create({
        name: 'web',
        replicas: 1,
        command: ['sleep', '1d'],
        networks: [{ network: 'appnet', aliases: [] }],
      }),
    );
    const ls = await run('service', 'ls');
    expect(ls).toEqual({
      stdout:
        'ID             NAME      MODE         REPLICAS   IMAGE      PORTS\n' +
        'sweb00000000   web       replicated   1/1        sleep 1d\n',
      stderr: '',
      code: 0,
    });
    const inspect = await run('service', 'inspect', 'web');
    expect(inspect.code).toBe(0);
    expect(inspect.stdout).toContain('        "Version": {\n            "Index": 101\n        },\n');
    expect(inspect.stdout).toContain('"Addr": "10.0.1.2/24"');
    const ps = await run('service', 'ps', '--no-trunc', 'web');
    expect(ps.code).toBe(0);
    expect(ps.stdout.split('\n')[1]).toMatch(
      /^t1web00000000000000000000 +web\.1 +sleep 1d +worker1 +Running +Running \d+ \w+ ago$/,
    );
  });

  it("reports the daemon's NOT_FOUND in docker's words and exits 1", async () => {
    const res = await run('service', 'rm', 'nope');
    expect(res).toEqual({ stdout: '', stderr: 'Error: No such service: nope\n', code: 1 });
  });
});
