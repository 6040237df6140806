import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { RestartCondition } from '../../src/gen/vxmesh/v1/service.js';
import type { Service } from '../../src/gen/vxmesh/v1/service.js';
import { TaskState } from '../../src/gen/vxmesh/v1/task.js';
import type { Task } from '../../src/gen/vxmesh/v1/task.js';
import { ManualClock } from '../support/manual-clock.js';
import { serviceSpec, ServicesHarness } from './services-fixtures.js';

const R = TaskState.TASK_STATE_RUNNING;
const stateOf = (t: Task): TaskState => t.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;

describe('rolling updates and restart policies (embedded store)', () => {
  let h: ServicesHarness | undefined;

  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function started(clock: ManualClock | typeof systemClock = systemClock): Promise<ServicesHarness> {
    h = await ServicesHarness.open({ clock });
    await h.createNetwork('app', '10.40.0.0/24');
    for (const name of ['h1', 'h2', 'h3']) {
      await h.addNode(name);
    }
    return h;
  }

  async function allRunning(x: ServicesHarness, service: Service | undefined, count: number, version?: bigint): Promise<void> {
    await x.until(
      async () => {
        const tasks = await x.running(service?.id);
        return tasks.length === count && tasks.every((t) => stateOf(t) === R && (version === undefined || t.specVersion === version));
      },
      `${count} tasks running${version === undefined ? '' : ` at version ${version}`}`,
      { work: true },
    );
  }

  /** Drives simulated workers one round at a time and returns the most new-version tasks seen starting at once. */
  async function rollOut(x: ServicesHarness, service: Service | undefined, count: number, version: bigint): Promise<number> {
    let most = 0;
    for (let round = 0; round < 60; round++) {
      await sleep(120);
      const tasks = await x.running(service?.id);
      const starting = tasks.filter((t) => t.specVersion === version && stateOf(t) < R).length;
      most = Math.max(most, starting);
      if (tasks.length === count && tasks.every((t) => t.specVersion === version && stateOf(t) === R)) {
        return most;
      }
      await x.work();
    }
    throw new Error('rolling update did not finish');
  }

  it('a rolling update replaces one task at a time and ends "completed"; parallelism 2 replaces two', async () => {
    const x = await started();
    const web = (await x.services.create(serviceSpec('web', { replicas: 4, networks: [{ network: 'app', aliases: [] }] }))).service;
    await allRunning(x, web, 4, 1n);
    const before = await x.services.get('web');
    const updated = await x.services.update('web', { ...(before.service?.spec ?? serviceSpec('web')), command: ['sleep', '1000'] }, before.version);
    expect(updated.service?.specVersion).toBe(2n);
    expect(updated.service?.updateStatus?.state).toBe('updating');
    expect(await rollOut(x, web, 4, 2n)).toBe(1);
    const tasks = await x.running(web?.id);
    expect(tasks.map((t) => t.command)).toEqual(Array.from({ length: 4 }, () => ['sleep', '1000']));
    expect(tasks.map((t) => t.slot).sort()).toEqual([1, 2, 3, 4]);
    await x.until(async () => (await x.service('web')).updateStatus?.state === 'completed', 'update completed');
    expect((await x.service('web')).updateStatus?.completedAt).toBeGreaterThan(0n);
    // The old tasks are history: stopped, endpoints freed.
    await x.until(async () => (await x.endpoints()).filter((e) => e.serviceId === web?.id).length === 4, 'old endpoints freed', { work: true });

    const wide = await x.services.get('web');
    await x.services.update('web', { ...(wide.service?.spec ?? serviceSpec('web')), updateParallelism: 2, forceUpdate: 1n }, wide.version);
    expect(await rollOut(x, web, 4, 3n)).toBe(2);
  });

  it('update delay: the next step waits for the delay after the previous replacements run', async () => {
    const clock = new ManualClock(Date.now());
    const x = await started(clock);
    const web = (await x.services.create(serviceSpec('web', { replicas: 2, updateDelayMs: 10_000n }))).service;
    await allRunning(x, web, 2);
    await x.services.update('web', serviceSpec('web', { replicas: 2, updateDelayMs: 10_000n, command: ['sleep', '5'] }), 0n);
    await x.until(async () => (await x.running(web?.id)).filter((t) => t.specVersion === 2n && stateOf(t) === R).length === 1, 'first step running', { work: true });
    await sleep(300);
    await x.work();
    expect((await x.running(web?.id)).filter((t) => t.specVersion === 1n)).toHaveLength(1);
    await clock.advance(10_000);
    await allRunning(x, web, 2, 2n);
  });

  it('restart condition any: a failed task is replaced in its slot after the restart delay', async () => {
    const clock = new ManualClock(Date.now());
    const x = await started(clock);
    const web = (await x.services.create(serviceSpec('web', { replicas: 1 }))).service;
    await allRunning(x, web, 1);
    const [first] = await x.running(web?.id);
    await x.status.report(first?.nodeId ?? '', [{ taskId: first?.id ?? '', status: { state: TaskState.TASK_STATE_FAILED, timestamp: 0n, message: 'exited', err: 'exit code 3', exitCode: 3, containerId: 'c' } }]);
    await sleep(300);
    expect((await x.running(web?.id)).map((t) => t.id)).toEqual([first?.id]);
    await clock.advance(5000);
    await x.until(async () => (await x.running(web?.id)).some((t) => t.id !== first?.id), 'replacement');
    const tasks = await x.tasks(web?.id);
    const old = tasks.find((t) => t.id === first?.id);
    expect(old?.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    expect((await x.running(web?.id))[0]?.slot).toBe(1);
    await allRunning(x, web, 1);
  });

  it('restart conditions none and on-failure, and max attempts: ended tasks finish and their slot stays empty', async () => {
    const clock = new ManualClock(Date.now());
    const x = await started(clock);
    const ended = (state: TaskState) => ({ state, timestamp: 0n, message: 'exited', err: '', exitCode: state === TaskState.TASK_STATE_COMPLETE ? 0 : 1, containerId: 'c' });
    const end = async (t: Task | undefined, state: TaskState): Promise<void> =>
      x.status.report(t?.nodeId ?? '', [{ taskId: t?.id ?? '', status: ended(state) }]);

    const none = (await x.services.create(serviceSpec('none', { restartCondition: RestartCondition.RESTART_CONDITION_NONE }))).service;
    const onFailure = (await x.services.create(serviceSpec('onfail', { replicas: 2, restartCondition: RestartCondition.RESTART_CONDITION_ON_FAILURE }))).service;
    const limited = (await x.services.create(serviceSpec('limited', { restartMaxAttempts: 2 }))).service;
    await allRunning(x, none, 1);
    await allRunning(x, onFailure, 2);
    await allRunning(x, limited, 1);

    await end((await x.running(none?.id))[0], TaskState.TASK_STATE_FAILED);
    const [ok, bad] = await x.running(onFailure?.id);
    await end(ok, TaskState.TASK_STATE_COMPLETE);
    await end(bad, TaskState.TASK_STATE_FAILED);
    await x.until(async () => (await x.running(none?.id)).length === 0, 'none: finished');
    await x.until(async () => (await x.running(onFailure?.id)).length === 1, 'on-failure: the completed one finished');
    expect((await x.tasks(none?.id))[0]?.desiredState).toBe(TaskState.TASK_STATE_COMPLETE);
    await clock.advance(5000);
    await allRunning(x, onFailure, 1);
    expect((await x.running(onFailure?.id))[0]?.slot).toBe(bad?.slot);
    expect((await x.running(onFailure?.id))[0]?.id).not.toBe(bad?.id);
    expect((await x.tasks(onFailure?.id)).filter((t) => t.desiredState === TaskState.TASK_STATE_COMPLETE).map((t) => t.id)).toEqual([ok?.id]);
    // Later passes leave the finished slots empty.
    await clock.advance(10_000);
    await sleep(200);
    expect(await x.running(none?.id)).toEqual([]);
    expect((await x.services.get('none')).runningTasks).toBe(0);

    for (let attempt = 0; attempt < 3; attempt++) {
      const [t] = await x.running(limited?.id);
      await end(t, TaskState.TASK_STATE_FAILED);
      await x.until(async () => (await x.running(limited?.id)).every((r) => r.id !== t?.id || stateOf(r) === TaskState.TASK_STATE_FAILED), 'failure recorded');
      await clock.advance(5000);
      if (attempt < 2) {
        await allRunning(x, limited, 1);
      }
    }
    await x.until(async () => (await x.running(limited?.id)).length === 0, 'max attempts: finished');
    expect((await x.tasks(limited?.id)).length).toBe(3);

    // A new spec version fills the finished slot again.
    await x.services.update('none', serviceSpec('none', { restartCondition: RestartCondition.RESTART_CONDITION_NONE, forceUpdate: 1n }), 0n);
    await allRunning(x, none, 1, 2n);
  });

  it('keeps at most 5 ended tasks per slot', async () => {
    const clock = new ManualClock(Date.now());
    const x = await started(clock);
    const web = (await x.services.create(serviceSpec('web', { restartDelayMs: 1000n }))).service;
    for (let i = 0; i < 8; i++) {
      await allRunning(x, web, 1);
      const [t] = await x.running(web?.id);
      await x.status.report(t?.nodeId ?? '', [{ taskId: t?.id ?? '', status: { state: TaskState.TASK_STATE_FAILED, timestamp: 0n, message: '', err: 'boom', exitCode: 1, containerId: '' } }]);
      await x.until(async () => stateOf((await x.tasks(web?.id)).find((r) => r.id === t?.id) as Task) === TaskState.TASK_STATE_FAILED, 'failed');
      await clock.advance(1000);
      await x.until(async () => (await x.running(web?.id)).some((r) => r.id !== t?.id), 'replaced');
    }
    await allRunning(x, web, 1);
    await x.until(async () => (await x.tasks(web?.id)).length === 6, '5 ended + 1 running');
  });
});
