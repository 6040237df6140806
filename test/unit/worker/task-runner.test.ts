import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnavailableError } from '../../../src/common/errors.js';
import { Container, ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import type { Assignment, TaskStatusUpdate } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { Task, TaskState } from '../../../src/gen/vxmesh/v1/task.js';
import type { DeepPartial } from '../../../src/gen/vxmesh/v1/task.js';
import { TASK_STOP_GRACE_MS, TaskRunner } from '../../../src/worker/tasks/task-runner.js';
import type { TaskAssignmentSource, TaskContainerRuntime } from '../../../src/worker/tasks/task-runner.js';
import { taskContainerName } from '../../../src/worker/tasks/task-container-spec.js';
import { ManualClock } from '../../support/manual-clock.js';

const SELF = 'node-self';

const settle = async (): Promise<void> => {
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setImmediate(r));
  }
};

const task = (id: string, extra: DeepPartial<Task> = {}): Task =>
  Task.fromPartial({
    id,
    serviceId: 'svc1',
    serviceName: 'web',
    slot: 1,
    nodeId: SELF,
    desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state: TaskState.TASK_STATE_ASSIGNED },
    command: ['sleep', '30'],
    networks: [{ networkId: 'net1', networkName: 'front', endpointId: 'ep-' + id, ipv4Address: '10.0.0.5/24' }],
    ...extra,
  });

/** The agent: assignments as a session would have applied them, and the manager's side of reports. */
class FakeAgent implements TaskAssignmentSource {
  readonly items = new Map<string, Assignment>();
  resultsIn: bigint | undefined = 1n;
  sessionUp = true;
  /** Every update a session took, in order. */
  readonly taken: TaskStatusUpdate[] = [];
  readonly assignments = {
    items: this.items as ReadonlyMap<string, Assignment>,
    resultsIn: undefined as bigint | undefined,
  };

  constructor() {
    this.items.set('network/net1', { item: { $case: 'network', value: Network.fromPartial({ id: 'net1', name: 'front' }) } });
    Object.defineProperty(this.assignments, 'resultsIn', { get: () => this.resultsIn });
  }

  setTask(t: Task): void {
    this.items.set(`task/${t.id}`, { item: { $case: 'task', value: t } });
  }

  removeTask(id: string): void {
    this.items.delete(`task/${id}`);
  }

  reportTaskStatus(updates: readonly TaskStatusUpdate[]): Promise<void> {
    if (!this.sessionUp) {
      return Promise.reject(new UnavailableError('no session with a manager'));
    }
    this.taken.push(...updates);
    return Promise.resolve();
  }

  /** States a session took for a task, in order. */
  states(taskId: string): TaskState[] {
    return this.taken.filter((u) => u.taskId === taskId).map((u) => u.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED);
  }

  last(taskId: string): TaskStatusUpdate['status'] {
    return this.taken.filter((u) => u.taskId === taskId).at(-1)?.status;
  }
}

/** Containers in memory: `exit()` plays a process ending, `stop()` one ending on SIGTERM. */
class FakeRuntime implements TaskContainerRuntime {
  readonly containers = new Map<string, Container>();
  readonly runs: string[] = [];
  readonly stops: { id: string; at: number }[] = [];
  readonly removed: string[] = [];
  failWith: Error | undefined;
  #next = 0;
  readonly #listeners = new Set<(c: Container) => void>();

  constructor(readonly clock: ManualClock) {}

  list(): Container[] {
    return [...this.containers.values()];
  }

  add(c: Partial<Container>): Container {
    const full = Container.fromPartial({ id: `c${++this.#next}`, createdAt: BigInt(this.#next), ...c });
    this.containers.set(full.id, full);
    return full;
  }

  runTask(t: Task): Promise<Container> {
    this.runs.push(t.id);
    if (this.failWith) {
      return Promise.reject(this.failWith);
    }
    return Promise.resolve(
      this.add({ name: taskContainerName(t), taskId: t.id, serviceId: t.serviceId, state: ContainerState.CONTAINER_STATE_RUNNING, pid: 42 }),
    );
  }

  exit(taskId: string, exitCode: number): void {
    const c = [...this.containers.values()].find((x) => x.taskId === taskId);
    if (!c) {
      throw new Error(`no container for ${taskId}`);
    }
    const exited = { ...c, state: ContainerState.CONTAINER_STATE_EXITED, exitCode, pid: 0 };
    this.containers.set(c.id, exited);
    for (const l of this.#listeners) {
      l(exited);
    }
  }

  stop(ref: string): Promise<Container> {
    const c = this.containers.get(ref);
    if (!c) {
      return Promise.reject(new Error(`no container ${ref}`));
    }
    this.stops.push({ id: ref, at: this.clock.now() });
    if (c.state === ContainerState.CONTAINER_STATE_RUNNING) {
      this.exit(c.taskId, 143);
    }
    return Promise.resolve(this.containers.get(ref) ?? c);
  }

  remove(ref: string): Promise<Container> {
    const c = this.containers.get(ref);
    this.containers.delete(ref);
    this.removed.push(ref);
    return c ? Promise.resolve(c) : Promise.reject(new Error(`no container ${ref}`));
  }

  onContainerExit(listener: (c: Container) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

describe('TaskRunner', () => {
  const runners: TaskRunner[] = [];
  afterEach(async () => {
    await Promise.all(runners.splice(0).map((r) => r.close()));
  });

  const setup = (opts: { fresh?: boolean } = {}) => {
    const clock = new ManualClock();
    const agent = new FakeAgent();
    const runtime = new FakeRuntime(clock);
    const runner = new TaskRunner({ nodeId: SELF, agent, runtime, clock });
    runners.push(runner);
    const start = async (): Promise<void> => {
      runner.start();
      if (opts.fresh !== false) {
        runner.onAssignments();
      }
      await settle();
    };
    return { clock, agent, runtime, runner, start };
  };

  it('runs an assigned task: PREPARING then RUNNING with the container ID; other nodes’ tasks are left alone', async () => {
    const { agent, runtime, start } = setup();
    agent.setTask(task('t1'));
    agent.setTask(task('t9', { nodeId: 'other-node' }));
    await start();
    expect(runtime.runs).toEqual(['t1']);
    expect(agent.states('t1')).toEqual([TaskState.TASK_STATE_PREPARING, TaskState.TASK_STATE_RUNNING]);
    const container = runtime.list()[0];
    expect(container?.name).toBe('web.1.t1');
    expect(agent.last('t1')).toMatchObject({ message: 'started', containerId: container?.id });
  });

  it('reports COMPLETE for exit 0 and FAILED with docker’s error for another code, and never restarts', async () => {
    const { clock, agent, runtime, start } = setup();
    agent.setTask(task('ok'));
    agent.setTask(task('bad'));
    await start();
    runtime.exit('ok', 0);
    runtime.exit('bad', 3);
    await settle();
    expect(agent.last('ok')).toMatchObject({ state: TaskState.TASK_STATE_COMPLETE, message: 'finished', err: '' });
    expect(agent.last('bad')).toMatchObject({ state: TaskState.TASK_STATE_FAILED, err: 'task: non-zero exit (3)', exitCode: 3 });
    await clock.advance(5000);
    await settle();
    expect(runtime.runs.sort()).toEqual(['bad', 'ok']);
    expect(agent.states('bad').filter((s) => s === TaskState.TASK_STATE_FAILED)).toHaveLength(1);
  });

  it('waits while a start error is retryable (network not known yet); rejects on another error', async () => {
    const { clock, agent, runtime, start } = setup();
    runtime.failWith = new UnavailableError('network front of task web.1.t1 is not known on this node yet');
    agent.setTask(task('t1'));
    await start();
    await clock.advance(1000);
    await settle();
    expect(runtime.runs).toEqual(['t1', 't1']);
    expect(agent.states('t1')).toEqual([TaskState.TASK_STATE_PREPARING, TaskState.TASK_STATE_PREPARING]);
    expect(agent.last('t1')?.err).toMatch(/not known on this node yet/);
    runtime.failWith = undefined;
    await clock.advance(1000);
    await settle();
    expect(agent.last('t1')?.state).toBe(TaskState.TASK_STATE_RUNNING);

    runtime.failWith = new InvalidArgumentError('command', 'task web.1.t2 has no command');
    agent.setTask(task('t2'));
    await clock.advance(1000);
    await settle();
    expect(agent.last('t2')).toMatchObject({ state: TaskState.TASK_STATE_REJECTED, err: 'invalid command: task web.1.t2 has no command' });
    await clock.advance(3000);
    await settle();
    expect(runtime.runs.filter((id) => id === 't2')).toHaveLength(1);
  });

  it('desired SHUTDOWN: stops only after the grace delay, then reports SHUTDOWN', async () => {
    const { clock, agent, runtime, runner, start } = setup();
    agent.setTask(task('t1'));
    await start();
    const t0 = clock.now();
    agent.setTask(task('t1', { desiredState: TaskState.TASK_STATE_SHUTDOWN, status: { state: TaskState.TASK_STATE_RUNNING } }));
    runner.onAssignments();
    await settle();
    await clock.advance(TASK_STOP_GRACE_MS - 1);
    await settle();
    expect(runtime.stops).toEqual([]);
    expect(runtime.list()[0]?.state).toBe(ContainerState.CONTAINER_STATE_RUNNING);
    await clock.advance(1);
    await settle();
    expect(runtime.stops).toHaveLength(1);
    expect(runtime.stops[0]?.at).toBeGreaterThanOrEqual(t0 + TASK_STOP_GRACE_MS);
    expect(agent.last('t1')).toMatchObject({ state: TaskState.TASK_STATE_SHUTDOWN, exitCode: 143 });
    expect(agent.states('t1')).not.toContain(TaskState.TASK_STATE_FAILED);

    // The managers drop it once it is SHUTDOWN: the container goes.
    agent.removeTask('t1');
    runner.onAssignments();
    await settle();
    expect(runtime.list()).toEqual([]);
    expect(runner.reporter.taskIds()).toEqual([]);
  });

  it('desired SHUTDOWN before the task ever started reports SHUTDOWN without a container', async () => {
    const { agent, runtime, start } = setup();
    agent.setTask(task('t1', { desiredState: TaskState.TASK_STATE_SHUTDOWN }));
    await start();
    expect(runtime.runs).toEqual([]);
    expect(agent.last('t1')).toMatchObject({ state: TaskState.TASK_STATE_SHUTDOWN, message: 'shutdown' });
  });

  it('keeps reports while no session is up and sends the latest state when one is', async () => {
    const { clock, agent, runtime, start } = setup();
    agent.sessionUp = false;
    agent.setTask(task('t1'));
    await start();
    runtime.exit('t1', 1);
    await settle();
    await clock.advance(3000);
    await settle();
    expect(agent.taken).toEqual([]);
    agent.sessionUp = true;
    await clock.advance(1000);
    await settle();
    // PREPARING and RUNNING were superseded while unsent: the managers only need the last word.
    expect(agent.states('t1')).toEqual([TaskState.TASK_STATE_FAILED]);
  });

  it('re-adopts a running task container after a restart and reports RUNNING again without starting another', async () => {
    const { agent, runtime, start } = setup();
    agent.setTask(task('t1', { status: { state: TaskState.TASK_STATE_RUNNING } }));
    const running = runtime.add({ name: 'web.1.t1', taskId: 't1', state: ContainerState.CONTAINER_STATE_RUNNING, pid: 7 });
    await start();
    expect(runtime.runs).toEqual([]);
    expect(agent.taken).toEqual([expect.objectContaining({ taskId: 't1', status: expect.objectContaining({ state: TaskState.TASK_STATE_RUNNING, containerId: running.id }) as unknown })]);
    // Its exit (seen by polling, the process is not the daemon's child any more) is reported.
    runtime.exit('t1', 0);
    await settle();
    expect(agent.last('t1')?.state).toBe(TaskState.TASK_STATE_COMPLETE);
  });

  it('with only saved assignments: starts and removes nothing until a session delivered assignments', async () => {
    const { agent, runtime, runner, start } = setup({ fresh: false });
    agent.setTask(task('new'));
    const orphan = runtime.add({ name: 'web.2.gone', taskId: 'gone', state: ContainerState.CONTAINER_STATE_RUNNING, pid: 9 });
    await start();
    expect(runtime.runs).toEqual([]);
    expect(runtime.containers.has(orphan.id)).toBe(true);

    runner.onAssignments();
    await settle();
    expect(runtime.runs).toEqual(['new']);
    expect(runtime.stops.map((s) => s.id)).toEqual([orphan.id]);
    expect(runtime.removed).toEqual([orphan.id]);
  });

  it('reports FAILED when a task that ran has no container any more; restarts creation of a half-created one', async () => {
    const { agent, runtime, start } = setup();
    agent.setTask(task('lost', { status: { state: TaskState.TASK_STATE_RUNNING } }));
    agent.setTask(task('half', { status: { state: TaskState.TASK_STATE_PREPARING } }));
    const half = runtime.add({ name: 'web.1.half', taskId: 'half', state: ContainerState.CONTAINER_STATE_CREATED });
    await start();
    expect(agent.last('lost')).toMatchObject({ state: TaskState.TASK_STATE_FAILED, err: 'task: container not found on the node' });
    expect(runtime.removed).toEqual([half.id]);
    expect(runtime.runs).toEqual(['half']);
    expect(agent.last('half')?.state).toBe(TaskState.TASK_STATE_RUNNING);
  });

  it('close stops the timers: no pass runs afterwards', async () => {
    const { clock, agent, runtime, runner, start } = setup();
    await start();
    await runner.close();
    agent.setTask(task('late'));
    runner.onAssignments();
    await clock.advance(5000);
    await settle();
    expect(runtime.runs).toEqual([]);
    expect(clock.pendingSleeps).toBe(0);
  });
});
