import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { VxmeshError } from '../../src/common/errors.js';
import { runCommand } from '../../src/common/run-command.js';
import { ContainerState } from '../../src/gen/vxmesh/v1/container.js';
import type { Assignment, TaskStatusUpdate } from '../../src/gen/vxmesh/v1/dispatcher.js';
import { Network } from '../../src/gen/vxmesh/v1/network.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import type { DeepPartial } from '../../src/gen/vxmesh/v1/task.js';
import { ContainerRuntime } from '../../src/worker/containers/container-runtime.js';
import { deleteNamespace, namespaceExists } from '../../src/worker/containers/network-namespaces.js';
import { buildDataplaneSpec } from '../../src/worker/dataplane-spec-builder.js';
import { TASK_STOP_GRACE_MS, TaskRunner } from '../../src/worker/tasks/task-runner.js';
import type { TaskAssignmentSource } from '../../src/worker/tasks/task-runner.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';

// Real namespaces and processes, no managers: the runtime's attach/detach must never be called for
// a task, and the "agent" is a map of assignments plus a list of the reports it took.

const network = Network.fromPartial({
  id: 'net-tasks-1',
  name: 'front',
  subnets: [{ subnet: '10.77.0.0/24', gateway: '10.77.0.1', vni: 4300 }],
});

const task = (id: string, command: string[], extra: DeepPartial<Task> = {}): Task =>
  Task.fromPartial({
    id,
    serviceId: 'svc-1',
    serviceName: 'web',
    slot: 1,
    nodeId: 'self',
    desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state: TaskState.TASK_STATE_ASSIGNED },
    command,
    networks: [
      {
        networkId: network.id,
        networkName: 'front',
        endpointId: `ep-${id}`,
        ipv4Address: '10.77.0.5/24',
        macAddress: '02:42:0a:4d:00:05',
        gateway: '10.77.0.1',
      },
    ],
    ...extra,
  });

class FakeAgent implements TaskAssignmentSource {
  readonly items = new Map<string, Assignment>([['network/' + network.id, { item: { $case: 'network', value: network } }]]);
  readonly taken: TaskStatusUpdate[] = [];
  readonly assignments = { items: this.items as ReadonlyMap<string, Assignment>, resultsIn: 1n as bigint | undefined };

  setTask(t: Task): void {
    this.items.set(`task/${t.id}`, { item: { $case: 'task', value: t } });
  }

  reportTaskStatus(updates: readonly TaskStatusUpdate[]): Promise<void> {
    this.taken.push(...updates);
    return Promise.resolve();
  }

  last(taskId: string): TaskStatusUpdate | undefined {
    return this.taken.filter((u) => u.taskId === taskId).at(-1);
  }

  stateOf(taskId: string): TaskState | undefined {
    return this.last(taskId)?.status?.state;
  }
}

describe('task containers (real namespaces and processes)', () => {
  // A test-hosts run (one host, unused) only for its marker: namespaces under the `vxt-` prefix
  // without a live run's marker are swept, processes and all, by any concurrent test run's setup.
  let run: TestHosts | undefined;
  let prefix = '';
  const cleanups: (() => Promise<void>)[] = [];
  const detached: string[] = [];

  beforeAll(async () => {
    run = await createTestHosts({ count: 1 });
    prefix = `${run.prefix}task-`;
  });
  afterAll(async () => {
    await run?.destroy();
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      await c().catch(() => undefined);
    }
    // Whatever a failed test left: processes in our namespaces, then the namespaces.
    const left = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
    for (const ns of left) {
      const pids = await runCommand('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
      for (const pid of pids.stdout.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await deleteNamespace(ns);
    }
    expect(left).toEqual([]);
    expect(detached).toEqual([]);
  });

  const newRuntime = async (dataRoot: string): Promise<ContainerRuntime> => {
    const runtime = new ContainerRuntime({
      dataRoot,
      namespacePrefix: prefix,
      clock: systemClock,
      attach: () => Promise.reject(new VxmeshError('INTERNAL', 'a task must not be attached')),
      detach: (endpointId) => {
        detached.push(endpointId);
        return Promise.resolve();
      },
      releaseEndpoint: ({ endpointId }) => {
        detached.push(endpointId);
        return Promise.resolve({ state: 'released' });
      },
      staleEndpoints: () => [],
      reconcile: () => Promise.resolve(),
      egressSubnet: () => '172.30.0.0/16',
    });
    await runtime.load();
    return runtime;
  };

  const setup = async () => {
    const root = await mkdtemp(join(tmpdir(), 'vxmesh-tasks-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const runtime = await newRuntime(root);
    const agent = new FakeAgent();
    const runner = new TaskRunner({ nodeId: 'self', agent, runtime, clock: systemClock, stopTimeoutSeconds: 2 });
    cleanups.push(async () => {
      await runner.close();
      for (const c of runtime.list(true)) {
        await runtime.remove(c.id, true);
      }
      await runtime.close();
    });
    return { root, runtime, agent, runner };
  };

  it('runs tasks with their allocated endpoints, reports exits like docker, stops after the grace delay, removes what is no longer assigned', async () => {
    const { runtime, agent, runner } = await setup();
    agent.setTask(task('exit3', ['sh', '-c', 'exit 3']));
    agent.setTask(task('done', ['true']));
    agent.setTask(task('missing', ['no-such-command-vxmesh']));
    agent.setTask(task('sleeper', ['sleep', '30'], { slot: 2 }));
    runner.start();
    runner.onAssignments();

    await waitUntil(() => agent.stateOf('exit3') === TaskState.TASK_STATE_FAILED, 10_000, 'exit3 failed');
    expect(agent.last('exit3')?.status).toMatchObject({ err: 'task: non-zero exit (3)', exitCode: 3 });
    await waitUntil(() => agent.stateOf('done') === TaskState.TASK_STATE_COMPLETE, 10_000, 'done complete');
    expect(agent.last('done')?.status?.message).toBe('finished');
    await waitUntil(() => agent.stateOf('missing') === TaskState.TASK_STATE_FAILED, 10_000, 'missing failed');
    expect(agent.last('missing')?.status).toMatchObject({ err: 'task: non-zero exit (127)', exitCode: 127 });
    await waitUntil(() => agent.stateOf('sleeper') === TaskState.TASK_STATE_RUNNING, 10_000, 'sleeper running');

    // The sleeper's container: named after the task, docker-style hostname, the managers' endpoint
    // wired by the dataplane like any attachment, and an egress address.
    const sleeper = runtime.resolve('web.2.sleeper');
    expect(agent.last('sleeper')?.status?.containerId).toBe(sleeper.id);
    expect(sleeper).toMatchObject({ taskId: 'sleeper', serviceId: 'svc-1', hostname: sleeper.id.slice(0, 12), autoRemove: false });
    expect(sleeper.egressAddress).toMatch(/^172\.30\.0\.\d+\/16$/);
    expect(await namespaceExists(sleeper.namespace)).toBe(true);
    const spec = buildDataplaneSpec({
      nodeId: 'self',
      namespacePrefix: prefix,
      dataPathAddr: '127.0.0.1',
      dataPathPort: 4789,
      underlayMtu: 1500,
      assignments: new Map(),
      attachedNetworks: runtime.networks,
      attachments: runtime.attachments(),
    });
    expect(spec.overlays.map((o) => o.localEndpoints)).toEqual([
      [expect.objectContaining({ endpointId: 'ep-sleeper', ifName: 'eth0', ipv4Cidr: '10.77.0.5/24', containerNamespace: sleeper.namespace })],
    ]);
    // Ended tasks keep their record (exit code) but no longer hold their endpoint locally.
    expect(runtime.attachments().map((a) => a.network.endpointId)).toEqual(['ep-sleeper']);
    await expect(runtime.start(runtime.resolve('web.1.exit3').id)).rejects.toThrow(/managers own/);

    const asked = Date.now();
    agent.setTask(task('sleeper', ['sleep', '30'], { slot: 2, desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    runner.onAssignments();
    await waitUntil(() => agent.stateOf('sleeper') === TaskState.TASK_STATE_SHUTDOWN, 10_000, 'sleeper shut down');
    expect(Date.now() - asked).toBeGreaterThanOrEqual(TASK_STOP_GRACE_MS);
    expect(agent.last('sleeper')?.status?.exitCode).toBe(143);
    expect(runtime.resolve('web.2.sleeper').state).toBe(ContainerState.CONTAINER_STATE_EXITED);

    // The managers drop ended tasks from the node's assignments: their containers go.
    for (const id of ['exit3', 'done', 'missing', 'sleeper']) {
      agent.items.delete(`task/${id}`);
    }
    runner.onAssignments();
    await waitUntil(() => runtime.list(true).length === 0, 10_000, 'task containers removed');
    expect(await namespaceExists(sleeper.namespace)).toBe(false);
  });

  it('a restarted daemon adopts a running task container and reports RUNNING again', async () => {
    const first = await setup();
    first.agent.setTask(task('keep', ['sleep', '30']));
    first.runner.start();
    first.runner.onAssignments();
    await waitUntil(() => first.agent.stateOf('keep') === TaskState.TASK_STATE_RUNNING, 10_000, 'keep running');
    const container = first.runtime.resolve('web.1.keep');
    // The daemon goes away; the process does not.
    await first.runner.close();
    await first.runtime.close();

    const runtime = await newRuntime(first.root);
    const agent = new FakeAgent();
    agent.setTask(task('keep', ['sleep', '30'], { status: { state: TaskState.TASK_STATE_RUNNING } }));
    const runner = new TaskRunner({ nodeId: 'self', agent, runtime, clock: systemClock, stopTimeoutSeconds: 2 });
    cleanups.push(async () => {
      await runner.close();
      await runtime.close();
    });
    runner.start();
    runner.onAssignments();
    await waitUntil(() => agent.stateOf('keep') === TaskState.TASK_STATE_RUNNING, 10_000, 'keep adopted');
    expect(agent.last('keep')?.status?.containerId).toBe(container.id);
    expect(runtime.list(true).map((c) => c.id)).toEqual([container.id]);

    agent.setTask(task('keep', ['sleep', '30'], { desiredState: TaskState.TASK_STATE_SHUTDOWN, status: { state: TaskState.TASK_STATE_RUNNING } }));
    runner.onAssignments();
    await waitUntil(() => agent.stateOf('keep') === TaskState.TASK_STATE_SHUTDOWN, 10_000, 'adopted task shut down');
    // Not the daemon's child any more, so no exit status: SIGTERM was enough, hence 128 + 15.
    expect(agent.last('keep')?.status?.exitCode).toBe(143);
    agent.items.delete('task/keep');
    runner.onAssignments();
    await waitUntil(() => runtime.list(true).length === 0, 10_000, 'adopted container removed');
    expect(await namespaceExists(container.namespace)).toBe(false);
  });
});
