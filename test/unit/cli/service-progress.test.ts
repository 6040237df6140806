import { beforeEach, describe, expect, it } from 'vitest';
import type { ServiceRecord, TaskRecord } from '../../../src/cli/daemon-api.js';
import { followConvergence } from '../../../src/cli/service-progress.js';
import type { ConvergenceOptions } from '../../../src/cli/service-progress.js';
import { ProgressDisplay } from '../../../src/cli/service-progress-display.js';
import { ServiceMode, ServiceSpec } from '../../../src/gen/vxmesh/v1/service.js';
import { TaskState } from '../../../src/gen/vxmesh/v1/task.js';
import { MANAGER_ID, WORKER1_ID, clusterViews } from '../../cli/node-fixtures.js';
import { FakeDaemonApi, MemoryOutput, SteppingClock } from './fake-daemon-api.js';

// The convergence follower of `service create|update|scale` against the in-memory manager, with
// a clock that jumps 200 ms per poll and a script that changes the tasks between polls. Output
// is compared byte for byte: plain lines off a terminal, cursor movement on one.

const { TASK_STATE_NEW, TASK_STATE_PENDING, TASK_STATE_ASSIGNED, TASK_STATE_PREPARING, TASK_STATE_RUNNING } = TaskState;

/** docker's bars for the states used here. */
const BARS = {
  new: '[=====>                                             ]',
  pending: '[================>                                  ]',
  assigned: '[======================>                            ]',
  preparing: '[=================================>                 ]',
  running: '[==================================================>]',
};

describe('followConvergence', () => {
  let daemon: FakeDaemonApi;
  let output: MemoryOutput;
  let service: ServiceRecord;
  /** Task states to apply after poll N (1-based): slot -> [state, err]. */
  let script: Map<number, (tasks: TaskRecord[]) => TaskRecord[]>;
  let clock: SteppingClock;

  /** Tasks of `service`, one per slot, in the given states. */
  const tasksIn = (...states: (readonly [TaskState, string?])[]): TaskRecord[] =>
    states.map(([state, err], i) => daemon.makeTask(service.service, { slot: i + 1 }, state, err ?? ''));

  /** The same tasks with new states (same IDs: the nodes reported progress). */
  const moved =
    (...states: (readonly [TaskState, string?])[]) =>
    (tasks: TaskRecord[]): TaskRecord[] =>
      tasks.map((t, i) => {
        const [state, err] = states[i] ?? [t.task.status.state];
        return { ...t, task: { ...t.task, status: { ...t.task.status, state, err: err ?? '' } } };
      });

  const follow = (overrides: Partial<ConvergenceOptions> = {}): ReturnType<typeof followConvergence> =>
    followConvergence({
      daemon,
      ref: 'web',
      display: new ProgressDisplay((text) => output.out(text), false),
      clock,
      bars: true,
      ...overrides,
    });

  beforeEach(async () => {
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID);
    daemon.autoConverge = false;
    output = new MemoryOutput();
    script = new Map();
    clock = new SteppingClock(undefined, (sleeps) => {
      const step = script.get(sleeps);
      if (step !== undefined) {
        daemon.tasks = step(daemon.tasks);
      }
    });
    service = await daemon.createService(ServiceSpec.create({ name: 'web', replicas: 2, command: ['sleep', '1d'] }));
  });

  it('prints a line whenever something changes, off a terminal, until verified', async () => {
    daemon.tasks = tasksIn([TASK_STATE_NEW], [TASK_STATE_PENDING]);
    script.set(1, moved([TASK_STATE_PREPARING], [TASK_STATE_ASSIGNED]));
    script.set(2, moved([TASK_STATE_RUNNING], [TASK_STATE_ASSIGNED]));
    script.set(3, moved([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]));

    expect(await follow()).toBe('converged');
    expect(output.stdout).toBe(
      [
        'overall progress: 0 out of 2 tasks',
        `1/2: new       ${BARS.new}`,
        `2/2: pending   ${BARS.pending}`,
        `1/2: preparing ${BARS.preparing}`,
        `2/2: assigned  ${BARS.assigned}`,
        `1/2: running   ${BARS.running}`,
        'overall progress: 1 out of 2 tasks',
        `2/2: running   ${BARS.running}`,
        'overall progress: 2 out of 2 tasks',
        'verify: Waiting 1 seconds to verify that tasks are stable...',
        'verify: Service converged',
        '',
      ].join('\n'),
    );
    // Converged at poll 4, verified 1 s (5 polls) later.
    expect(clock.sleeps).toBe(8);
  });

  it('redraws lines in place on a terminal', async () => {
    daemon.tasks = tasksIn([TASK_STATE_PREPARING], [TASK_STATE_RUNNING]);
    script.set(1, moved([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]));

    expect(await follow({ display: new ProgressDisplay((text) => output.out(text), true), bars: false })).toBe(
      'converged',
    );
    expect(output.stdout).toBe(
      'overall progress: 0 out of 2 tasks\n' +
        '1/2:\n' +
        '2/2:\n' +
        // First poll: slot 1 preparing (line 2 of 3, so 2 up), slot 2 running (1 up), overall 1/2.
        '\x1b[2A\r\x1b[2K1/2: preparing\x1b[2B\r' +
        '\x1b[1A\r\x1b[2K2/2: running\x1b[1B\r' +
        '\x1b[3A\r\x1b[2Koverall progress: 1 out of 2 tasks\x1b[3B\r' +
        // Second poll: slot 1 running, overall 2/2, then the verify line is new.
        '\x1b[2A\r\x1b[2K1/2: running\x1b[2B\r' +
        '\x1b[3A\r\x1b[2Koverall progress: 2 out of 2 tasks\x1b[3B\r' +
        'verify: Waiting 1 seconds to verify that tasks are stable...\n' +
        '\x1b[1A\r\x1b[2Kverify: Service converged\x1b[1B\r',
    );
  });

  it('gives up, naming the tasks and errors, when a task keeps failing with an error', async () => {
    const err = 'no suitable node (3 nodes not available: 1 drained, 2 down)';
    daemon.tasks = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_PENDING, err]);

    await expect(follow()).rejects.toThrow(
      'service web is not converging, tasks failing for 30s: web.2: no suitable node (3 nodes not available: ' +
        '1 drained, 2 down) (see `vxmesh service ps web`)',
    );
    expect(output.stdout).toContain(`2/2: ${err}\n`);
    // 30 s of polls at 200 ms.
    expect(clock.sleeps).toBe(150);
  });

  it("counts from a slot's first error, across the replacements of a task that keeps failing", async () => {
    daemon.tasks = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_PREPARING]);
    // 10 s in, slot 2's task fails; 2 s later its replacement starts over, without an error yet.
    script.set(50, moved([TASK_STATE_RUNNING], [TaskState.TASK_STATE_FAILED, 'task: non-zero exit (1)']));
    script.set(60, (tasks) => [
      daemon.makeTask(service.service, { slot: 2 }, TASK_STATE_NEW),
      ...tasks.map((t) =>
        t.task.slot === 2 ? { ...t, task: { ...t.task, desiredState: TaskState.TASK_STATE_SHUTDOWN } } : t,
      ),
    ]);

    await expect(follow()).rejects.toThrow('tasks failing for 30s: web.2: task: non-zero exit (1)');
    expect(clock.sleeps).toBe(200);
    expect(output.stdout).toMatch(
      /2\/2: preparing .*\n(?:.*\n)?2\/2: task: non-zero exit \(1\)\n2\/2: new {7}\[=====>/,
    );
  });

  it('cuts long errors to 75 characters on their progress line', async () => {
    const err = `could not allocate an address on network backend (10.9.0.0/29): ${'x'.repeat(40)}`;
    daemon.tasks = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_PENDING, err]);

    await expect(follow()).rejects.toThrow('web.2: could not allocate');
    expect(output.stdout).toContain(`2/2: ${err.slice(0, 74)}…\n`);
  });

  it('gives up after the global timeout when tasks never start', async () => {
    daemon.tasks = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_PREPARING]);

    await expect(follow({ timing: { timeoutMs: 2_000 } })).rejects.toThrow(
      'service web did not converge within 2s: 1 out of 2 tasks running (see `vxmesh service ps web`)',
    );
  });

  it('stops following on Ctrl-C and says where to follow the service, without failing', async () => {
    daemon.tasks = tasksIn([TASK_STATE_PREPARING], [TASK_STATE_PREPARING]);
    const interrupt = new AbortController();
    script.set(2, (tasks) => {
      interrupt.abort();
      return tasks;
    });

    expect(await follow({ interrupt: interrupt.signal })).toBe('interrupted');
    expect(output.stdout).toMatch(
      /Operation continuing in background\.\nUse `vxmesh service ps web` to check progress\.\n$/,
    );
  });

  it('starts verifying again when a task fails during verification', async () => {
    daemon.tasks = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]);
    script.set(2, moved([TASK_STATE_RUNNING], [TASK_STATE_PREPARING]));
    script.set(3, moved([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]));

    expect(await follow()).toBe('converged');
    expect(output.stdout).toContain(
      'verify: Waiting 1 seconds to verify that tasks are stable...\n' +
        `2/2: preparing ${BARS.preparing}\n` +
        'overall progress: 1 out of 2 tasks\n' +
        'verify: Detected task failure\n',
    );
    expect(output.stdout).toMatch(/verify: Service converged\n$/);
  });

  it('counts only tasks of the current spec version during a rolling update', async () => {
    const old = tasksIn([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]);
    daemon.autoConverge = false;
    service = await daemon.updateService(
      'web',
      ServiceSpec.create({ ...service.service.spec, forceUpdate: 1n }),
      service.version,
    );
    daemon.tasks = old;
    script.set(1, (tasks) => [daemon.makeTask(service.service, { slot: 1 }, TASK_STATE_RUNNING), ...tasks]);
    script.set(2, (tasks) => [daemon.makeTask(service.service, { slot: 2 }, TASK_STATE_RUNNING), ...tasks]);

    expect(await follow()).toBe('converged');
    expect(output.stdout).toMatch(/^overall progress: 0 out of 2 tasks\n/);
    expect(output.stdout).toContain('overall progress: 1 out of 2 tasks\n');
  });

  it('fails when the rolling update is paused', async () => {
    daemon.services.set(service.service.id, {
      ...service,
      service: {
        ...service.service,
        updateStatus: { state: 'paused', startedAt: 0n, completedAt: 0n, message: 'task failed' },
      },
    });

    await expect(follow()).rejects.toThrow('service update paused: task failed');
  });

  it('follows a global service per node, waiting for its tasks to appear', async () => {
    const global = await daemon.createService(
      ServiceSpec.create({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, command: ['sleep', '1d'] }),
    );
    script.set(1, () => [
      daemon.makeTask(global.service, { nodeId: MANAGER_ID }, TASK_STATE_RUNNING),
      daemon.makeTask(global.service, { nodeId: WORKER1_ID }, TASK_STATE_ASSIGNED),
    ]);
    script.set(2, moved([TASK_STATE_RUNNING], [TASK_STATE_RUNNING]));

    expect(await follow({ ref: 'agent', bars: false })).toBe('converged');
    expect(output.stdout).toBe(
      [
        'overall progress: waiting for new tasks',
        'overall progress: 0 out of 2 tasks',
        // Lines in node ID order, IDs cut to 12 characters as docker cuts them.
        `${WORKER1_ID.slice(0, 12)}: assigned`,
        `${MANAGER_ID.slice(0, 12)}: running`,
        'overall progress: 1 out of 2 tasks',
        `${WORKER1_ID.slice(0, 12)}: running`,
        'overall progress: 2 out of 2 tasks',
        'verify: Waiting 1 seconds to verify that tasks are stable...',
        'verify: Service converged',
        '',
      ].join('\n'),
    );
  });

  it('shows only the overall line above 20 replicas', async () => {
    service = await daemon.updateService(
      'web',
      ServiceSpec.create({ ...service.service.spec, replicas: 21 }),
      service.version,
    );
    daemon.tasks = Array.from({ length: 21 }, (_, i) =>
      daemon.makeTask(service.service, { slot: i + 1 }, TASK_STATE_RUNNING),
    );

    expect(await follow()).toBe('converged');
    expect(output.stdout).toBe(
      'overall progress: 0 out of 21 tasks\noverall progress: 21 out of 21 tasks\n' +
        'verify: Waiting 1 seconds to verify that tasks are stable...\nverify: Service converged\n',
    );
  });
});
