import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../src/common/errors.js';
import type { TaskStatusUpdate } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { TaskState, TaskStatus } from '../../../src/gen/vxmesh/v1/task.js';
import { TaskStatusReporter } from '../../../src/worker/tasks/task-status-reporter.js';
import { ManualClock } from '../../support/manual-clock.js';

const status = (state: TaskState, extra: Partial<TaskStatus> = {}): TaskStatus => TaskStatus.fromPartial({ state, ...extra });
const settle = async (): Promise<void> => {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setImmediate(r));
  }
};

/** A manager that takes reports only while `up`. */
class FakeManager {
  up = true;
  readonly calls: TaskStatusUpdate[][] = [];
  readonly taken: TaskStatusUpdate[] = [];
  send = (updates: readonly TaskStatusUpdate[]): Promise<void> => {
    this.calls.push([...updates]);
    if (!this.up) {
      return Promise.reject(new UnavailableError('no session with a manager'));
    }
    this.taken.push(...updates);
    return Promise.resolve();
  };
}

describe('TaskStatusReporter', () => {
  const open: TaskStatusReporter[] = [];
  const make = (manager: FakeManager, clock: ManualClock): TaskStatusReporter => {
    const r = new TaskStatusReporter({ send: manager.send, clock });
    r.start();
    open.push(r);
    return r;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });

  it('sends at once, keeps the latest unsent status per task while the session is down, retries every second', async () => {
    const clock = new ManualClock();
    const manager = new FakeManager();
    const r = make(manager, clock);
    r.report('t1', status(TaskState.TASK_STATE_PREPARING));
    await settle();
    expect(manager.taken.map((u) => [u.taskId, u.status?.state])).toEqual([['t1', TaskState.TASK_STATE_PREPARING]]);

    manager.up = false;
    r.report('t1', status(TaskState.TASK_STATE_RUNNING, { containerId: 'c1' }));
    r.report('t2', status(TaskState.TASK_STATE_PREPARING));
    await settle();
    r.report('t1', status(TaskState.TASK_STATE_FAILED, { exitCode: 3 }));
    await settle();
    expect(r.pendingCount).toBe(2);
    expect(r.isPending('t1')).toBe(true);
    const attempts = manager.calls.length;

    await clock.advance(999);
    await settle();
    expect(manager.calls.length).toBe(attempts);
    await clock.advance(1);
    await settle();
    expect(manager.calls.length).toBe(attempts + 1);

    manager.up = true;
    await clock.advance(1000);
    await settle();
    expect(r.pendingCount).toBe(0);
    // RUNNING was superseded before any session took it: only FAILED went out for t1.
    expect(manager.taken.slice(1).map((u) => [u.taskId, u.status?.state, u.status?.exitCode])).toEqual([
      ['t1', TaskState.TASK_STATE_FAILED, 3],
      ['t2', TaskState.TASK_STATE_PREPARING, 0],
    ]);
  });

  it('never reports a state backwards, allows the same state again, forgets a task on request', async () => {
    const clock = new ManualClock();
    const manager = new FakeManager();
    const r = make(manager, clock);
    expect(r.report('t1', status(TaskState.TASK_STATE_RUNNING))).toBe(true);
    expect(r.report('t1', status(TaskState.TASK_STATE_PREPARING))).toBe(false);
    expect(r.report('t1', status(TaskState.TASK_STATE_RUNNING, { err: 'again' }))).toBe(true);
    await settle();
    expect(manager.taken.map((u) => u.status?.state)).not.toContain(TaskState.TASK_STATE_PREPARING);
    expect(r.lastState('t1')).toBe(TaskState.TASK_STATE_RUNNING);
    r.forget('t1');
    expect(r.lastState('t1')).toBeUndefined();
    expect(r.taskIds()).toEqual([]);
  });

  it('a status queued while a send is in flight goes out after it, in order', async () => {
    const clock = new ManualClock();
    let release: () => void = () => undefined;
    const sent: TaskState[][] = [];
    const r = new TaskStatusReporter({
      clock,
      send: (updates) => {
        sent.push(updates.map((u) => u.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED));
        return sent.length === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve();
      },
    });
    open.push(r);
    r.report('t1', status(TaskState.TASK_STATE_PREPARING));
    await settle();
    r.report('t1', status(TaskState.TASK_STATE_RUNNING));
    await settle();
    expect(sent).toEqual([[TaskState.TASK_STATE_PREPARING]]);
    release();
    await r.flush();
    expect(sent).toEqual([[TaskState.TASK_STATE_PREPARING], [TaskState.TASK_STATE_RUNNING]]);
    expect(r.pendingCount).toBe(0);
  });
});
