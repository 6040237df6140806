import { describe, expect, it } from 'vitest';
import { EmbeddedKvStore } from '../../src/kvstore/index.js';
import { Service, ServiceMode } from '../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { DispatcherFixture, heldKeys } from '../support/dispatcher-fixture.js';
import { waitUntil } from '../support/loopback-daemons.js';

const expectKeys = async (agent: Parameters<typeof heldKeys>[0], keys: string[], what: string): Promise<void> => {
  await waitUntil(() => JSON.stringify(heldKeys(agent)) === JSON.stringify([...keys].sort()), 10_000, what).catch(() => {
    expect(heldKeys(agent), what).toEqual([...keys].sort());
  });
};

describe('dispatcher: tasks and services', () => {
  it('a task reaches only its node, a service every node on its network, and both leave when done', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    await using f = new DispatcherFixture(store);
    await f.startManager();
    const a = await f.startAgent('a');
    const b = await f.startAgent('b');
    const c = await f.startAgent('c');
    await f.putNetwork('n1', '10.1.0.0/24', 4097);
    await f.putNetwork('n2', '10.2.0.0/24', 4098);
    const putService = (id: string, networkId: string, vip: string): Promise<unknown> =>
      store.put(
        storeKeys.service(id),
        encodeMessage(
          Service,
          Service.fromPartial({
            id,
            spec: { name: id, mode: ServiceMode.SERVICE_MODE_REPLICATED, replicas: 1, networks: [{ network: networkId }] },
            virtualIps: [{ networkId, addr: `${vip}/24` }],
          }),
        ),
      );
    const putTask = (id: string, nodeId: string, desired: TaskState, state: TaskState): Promise<unknown> =>
      store.put(
        storeKeys.task(id),
        encodeMessage(Task, Task.fromPartial({ id, serviceId: 's1', nodeId, desiredState: desired, status: { state } })),
      );
    await putService('s1', 'n1', '10.1.0.100');
    await putService('s2', 'n2', '10.2.0.100');
    await putTask('t1', a.nodeId, TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_ASSIGNED);
    await f.putEndpoint('ta', 'n1', a.nodeId, '10.1.0.2');
    await f.putEndpoint('tb', 'n1', b.nodeId, '10.1.0.3');
    await f.putEndpoint('tc', 'n2', c.nodeId, '10.2.0.2');
    await expectKeys(
      a.agent,
      ['network/n1', 'endpoint/ta', 'endpoint/tb', `peer/${b.nodeId}`, 'service/s1', 'task/t1'],
      'a: its task and the service of n1',
    );
    await expectKeys(b.agent, ['network/n1', 'endpoint/ta', 'endpoint/tb', `peer/${a.nodeId}`, 'service/s1'], 'b: no task of a');
    await expectKeys(c.agent, ['network/n2', 'endpoint/tc', 'service/s2'], 'c: only n2 and its service');

    // Shut down but still running on the node: the node keeps it until it reports the stop.
    await putTask('t1', a.nodeId, TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_RUNNING);
    await waitUntil(() => {
      const t = a.agent.assignments.items.get('task/t1');
      return t?.item?.$case === 'task' && t.item.value.desiredState === TaskState.TASK_STATE_SHUTDOWN;
    }, 10_000, 'a hears the shutdown');
    await putTask('t1', a.nodeId, TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_SHUTDOWN);
    await expectKeys(
      a.agent,
      ['network/n1', 'endpoint/ta', 'endpoint/tb', `peer/${b.nodeId}`, 'service/s1'],
      'a forgets the stopped task',
    );
    await store.delete(storeKeys.service('s1'));
    await expectKeys(b.agent, ['network/n1', 'endpoint/ta', 'endpoint/tb', `peer/${a.nodeId}`], 'b forgets the removed service');
    expect(heldKeys(c.agent)).not.toContain('service/s1');
  });

  it('service logs: a node answers a log request over its session; a node without one is reported', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    await using f = new DispatcherFixture(store);
    const { manager } = await f.startManager();
    const a = await f.startAgent('a');
    await waitUntil(() => a.agent.state.phase === 'connected', 10_000, 'session');
    const logs = await manager.dispatcher.requestTaskLogs(a.nodeId, ['t1', 't2'], 10);
    // The fixture's agents keep no task output: they still answer, per task, saying so.
    expect(logs.map((l) => [l.taskId, l.err])).toEqual([
      ['t1', 'this node keeps no task output'],
      ['t2', 'this node keeps no task output'],
    ]);
    await expect(manager.dispatcher.requestTaskLogs('no-such-node', ['t1'], 10)).rejects.toThrow(/no session/);
  });
});
