import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { EmbeddedKvStore } from '../../src/kvstore/index.js';
import { Endpoint, EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import { rangeAll } from '../../src/manager/ipam/range-all.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { DispatcherFixture } from '../support/dispatcher-fixture.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { createRequest } from './network-fixtures.js';
import { serviceSpec } from './services-fixtures.js';

// The wiring in Manager: the orchestrator runs on the (only, so leading) manager, tasks reach
// their nodes through the dispatcher, and the nodes' reports come back through
// Dispatcher.UpdateTaskStatus into the task records and their endpoints' serving flag.
describe('services in a manager', () => {
  it('places tasks on the agents, which receive them and report them running', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    await using f = new DispatcherFixture(store, { orchestrator: true });
    const { manager } = await f.startManager();
    const a = await f.startAgent('a');
    const b = await f.startAgent('b');
    await waitUntil(() => a.agent.state.phase === 'connected' && b.agent.state.phase === 'connected', 10_000, 'sessions');
    await new NetworkService(store, systemClock).create(createRequest('app'));
    // The manager's own node is a node too: keep the tasks on the agents.
    const view = await manager.services.create(serviceSpec('web', { replicas: 2, networks: [{ network: 'app', aliases: [] }], constraints: ['node.role==worker'] }));
    const serviceId = view.service?.id ?? '';
    const tasks = async (): Promise<Task[]> =>
      (await rangeAll(store, storeKeys.tasksPrefix)).kvs.map((kv) => Task.decode(kv.value)).filter((t) => t.serviceId === serviceId);
    await waitUntil(async () => (await tasks()).filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED).length === 2, 10_000, 'tasks assigned');
    expect(new Set((await tasks()).map((t) => t.nodeId))).toEqual(new Set([a.nodeId, b.nodeId]));
    for (const { nodeId, agent } of [a, b]) {
      const own = (await tasks()).find((t) => t.nodeId === nodeId);
      await waitUntil(() => agent.assignments.items.has(`task/${own?.id}`), 10_000, `${nodeId} holds its task`);
      await agent.reportTaskStatus([
        { taskId: own?.id ?? '', status: { state: TaskState.TASK_STATE_RUNNING, timestamp: 0n, message: 'started', err: '', exitCode: 0, containerId: 'c' } },
      ]);
    }
    expect((await tasks()).map((t) => t.status?.state)).toEqual([TaskState.TASK_STATE_RUNNING, TaskState.TASK_STATE_RUNNING]);
    const endpoints = (await rangeAll(store, storeKeys.endpointsPrefix)).kvs.map((kv) => Endpoint.decode(kv.value));
    expect(endpoints.filter((e) => e.serviceId === serviceId).map((e) => e.serving)).toEqual([true, true]);
    // Every node (the manager's too) has its ingress endpoint.
    expect(endpoints.filter((e) => e.kind === EndpointKind.ENDPOINT_KIND_LOAD_BALANCER)).toHaveLength(3);
    expect((await manager.services.get('web')).runningTasks).toBe(2);
  });
});
