import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { Endpoint, EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import type { TaskStatusUpdate } from '../../src/gen/vxmesh/v1/dispatcher.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { TaskStatusRecorder } from '../../src/manager/services/task-status.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { openTestStore, STORE_KINDS } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

describe.each(STORE_KINDS)('task status reports on the %s store', (kind) => {
  let t: TestStore;
  let store: KvStore;
  let recorder: TaskStatusRecorder;

  beforeEach(async () => {
    t = await openTestStore(kind);
    store = t.store;
    recorder = new TaskStatusRecorder(store, systemClock);
  });

  afterEach(async () => {
    await t.dispose();
  });

  async function putTask(id: string, nodeId: string, desired: TaskState, state: TaskState, endpoints: string[] = []): Promise<void> {
    for (const ep of endpoints) {
      await store.put(
        storeKeys.endpoint(ep),
        encodeMessage(Endpoint, Endpoint.fromPartial({ id: ep, networkId: 'n', nodeId, kind: EndpointKind.ENDPOINT_KIND_TASK, ownerId: id })),
      );
    }
    await store.put(
      storeKeys.task(id),
      encodeMessage(
        Task,
        Task.fromPartial({
          id,
          nodeId,
          desiredState: desired,
          status: { state },
          networks: endpoints.map((e) => ({ networkId: 'n', endpointId: e })),
        }),
      ),
    );
  }

  const task = async (id: string): Promise<Task> => Task.decode((await store.get(storeKeys.task(id))).kv?.value ?? new Uint8Array());
  const serving = async (id: string): Promise<boolean> =>
    Endpoint.decode((await store.get(storeKeys.endpoint(id))).kv?.value ?? new Uint8Array()).serving;
  const update = (taskId: string, state: TaskState, extra: Partial<NonNullable<TaskStatusUpdate['status']>> = {}): TaskStatusUpdate => ({
    taskId,
    status: { state, timestamp: 0n, message: '', err: '', exitCode: 0, containerId: '', ...extra },
  });

  it('records the node’s states forward only, flipping serving on RUNNING and off when ended', async () => {
    await putTask('t1', 'node-a', TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_ASSIGNED, ['e1', 'e2']);
    await recorder.report('node-a', [update('t1', TaskState.TASK_STATE_PREPARING, { containerId: 'c1' })]);
    expect((await task('t1')).status?.state).toBe(TaskState.TASK_STATE_PREPARING);
    expect((await task('t1')).status?.timestamp).toBeGreaterThan(0n);
    expect(await serving('e1')).toBe(false);
    await recorder.report('node-a', [update('t1', TaskState.TASK_STATE_RUNNING, { message: 'started' })]);
    expect((await task('t1')).status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect([await serving('e1'), await serving('e2')]).toEqual([true, true]);
    // An older report arriving late changes nothing.
    const before = (await store.get(storeKeys.task('t1'))).kv?.modRevision;
    await recorder.report('node-a', [update('t1', TaskState.TASK_STATE_STARTING)]);
    expect((await store.get(storeKeys.task('t1'))).kv?.modRevision).toBe(before);
    await recorder.report('node-a', [update('t1', TaskState.TASK_STATE_FAILED, { err: 'exit code 2', exitCode: 2 })]);
    const failed = await task('t1');
    expect(failed.status?.state).toBe(TaskState.TASK_STATE_FAILED);
    expect(failed.status?.exitCode).toBe(2);
    expect([await serving('e1'), await serving('e2')]).toEqual([false, false]);
  });

  it('ignores other nodes’ tasks, unknown tasks and states only managers set; RUNNING while stopping does not serve', async () => {
    await putTask('t1', 'node-a', TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_ASSIGNED, ['e1']);
    await putTask('t2', 'node-a', TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_ASSIGNED, ['e2']);
    await recorder.report('node-b', [update('t1', TaskState.TASK_STATE_RUNNING)]);
    await recorder.report('node-a', [update('nope', TaskState.TASK_STATE_RUNNING), update('t1', TaskState.TASK_STATE_ORPHANED)]);
    expect((await task('t1')).status?.state).toBe(TaskState.TASK_STATE_ASSIGNED);
    await recorder.report('node-a', [update('t2', TaskState.TASK_STATE_RUNNING), update('t1', TaskState.TASK_STATE_RUNNING)]);
    expect((await task('t2')).status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(await serving('e2')).toBe(false);
    expect(await serving('e1')).toBe(true);
  });

  it('concurrent reports of one task keep the furthest state', async () => {
    await putTask('t1', 'node-a', TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_ASSIGNED, ['e1']);
    await Promise.all([
      recorder.report('node-a', [update('t1', TaskState.TASK_STATE_PREPARING)]),
      recorder.report('node-a', [update('t1', TaskState.TASK_STATE_RUNNING)]),
      recorder.report('node-a', [update('t1', TaskState.TASK_STATE_STARTING)]),
    ]);
    expect((await task('t1')).status?.state).toBe(TaskState.TASK_STATE_RUNNING);
    expect(await serving('e1')).toBe(true);
  });
});
