import { describe, expect, it } from 'vitest';
import { Endpoint, EndpointKind } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Node, NodeAvailability, NodeStatus } from '../../../src/gen/vxmesh/v1/node.js';
import { RestartCondition, Service, ServiceMode } from '../../../src/gen/vxmesh/v1/service.js';
import type { ServiceSpec } from '../../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../../src/gen/vxmesh/v1/task.js';
import { planIngressEndpoints } from '../../../src/manager/services/ingress-endpoints.js';
import { reconcileService } from '../../../src/manager/services/service-reconciler.js';
import type { ReconcileInput, TaskAction } from '../../../src/manager/services/service-reconciler.js';
import { MirrorTable } from '../../../src/manager/services/store-mirror.js';

const NOW = 1_000_000;
const R = TaskState.TASK_STATE_RUNNING;

const node = (id: string, extra: Partial<Node> = {}): Node =>
  Node.fromPartial({ id, hostname: id, status: NodeStatus.NODE_STATUS_READY, availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE, ...extra });

const service = (spec: Partial<ServiceSpec> = {}, extra: Partial<Service> = {}): Service =>
  Service.fromPartial({
    id: 's',
    specVersion: 1n,
    spec: { name: 'web', mode: ServiceMode.SERVICE_MODE_REPLICATED, replicas: 1, restartCondition: RestartCondition.RESTART_CONDITION_ANY, command: ['x'], ...spec },
    ...extra,
  });

let seq = 0;
const task = (extra: Partial<Task> & { state?: TaskState }): Task => {
  const { state = R, ...rest } = extra;
  seq++;
  return Task.fromPartial({
    id: `t${seq}`,
    serviceId: 's',
    slot: 1,
    nodeId: 'a',
    desiredState: R,
    specVersion: 1n,
    createdAt: BigInt(seq),
    updatedAt: BigInt(NOW - 60_000),
    status: { state },
    ...rest,
  });
};

function plan(input: Partial<ReconcileInput> & Pick<ReconcileInput, 'service' | 'tasks'>) {
  return reconcileService({
    nodes: new Map([['a', node('a')], ['b', node('b')]]),
    now: NOW,
    restartsIn: () => 0,
    ...input,
  });
}

const summary = (actions: readonly TaskAction[]): string[] =>
  actions.map((a) =>
    a.type === 'create'
      ? `create ${a.slot || a.nodeId}`
      : a.type === 'replace'
        ? `replace ${a.old.id}${a.orphan ? ' orphan' : ''}${a.restart ? ' restart' : ''}`
        : `${a.type} ${a.type === 'finish' ? a.task.id : `${a.task.id}${a.orphan ? ' orphan' : ''}`}`,
  );

describe('service reconciler', () => {
  it('fills missing slots, stops extra and duplicate ones', () => {
    seq = 0;
    const t1 = task({ slot: 1 });
    const t1b = task({ slot: 1 });
    const t4 = task({ slot: 4 });
    expect(summary(plan({ service: service({ replicas: 3 }), tasks: [t1, t1b, t4] }).actions)).toEqual([
      'shutdown t1',
      'shutdown t3',
      'create 2',
      'create 3',
    ]);
  });

  it('lost nodes, drain and constraints: orphan or move (replicated), stop (global)', () => {
    seq = 0;
    const nodes = new Map([
      ['a', node('a', { status: NodeStatus.NODE_STATUS_DOWN })],
      ['b', node('b', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN })],
      ['c', node('c', { hostname: 'c' })],
    ]);
    const onDown = task({ slot: 1, nodeId: 'a' });
    const onDrained = task({ slot: 2, nodeId: 'b' });
    const onGone = task({ slot: 3, nodeId: 'zz' });
    const violating = task({ slot: 4, nodeId: 'c' });
    expect(summary(plan({ service: service({ replicas: 4, constraints: ['node.hostname!=c'] }), tasks: [onDown, onDrained, onGone, violating], nodes }).actions)).toEqual([
      'replace t1 orphan',
      'replace t2',
      'replace t3 orphan',
      'replace t4',
    ]);
    const global = service({ mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0 });
    const g = [task({ slot: 0, nodeId: 'a' }), task({ slot: 0, nodeId: 'b' }), task({ slot: 0, nodeId: 'c' })];
    expect(summary(plan({ service: global, tasks: g, nodes }).actions)).toEqual(['shutdown t5 orphan', 'shutdown t6']);
  });

  it('restart policy: delay, conditions, attempts; a finished slot is not refilled until a new version', () => {
    seq = 0;
    const failedNow = task({ state: TaskState.TASK_STATE_FAILED, updatedAt: BigInt(NOW - 1000) });
    const p = plan({ service: service(), tasks: [failedNow] });
    expect(p.actions).toEqual([]);
    expect(p.wakeAt).toBe(NOW + 4000);
    const failed = task({ state: TaskState.TASK_STATE_FAILED });
    expect(summary(plan({ service: service(), tasks: [failed] }).actions)).toEqual(['replace t2 restart']);
    expect(summary(plan({ service: service({ restartDelayMs: 120_000n }), tasks: [failed] }).actions)).toEqual([]);
    const complete = task({ state: TaskState.TASK_STATE_COMPLETE });
    const onFailure = service({ restartCondition: RestartCondition.RESTART_CONDITION_ON_FAILURE });
    expect(summary(plan({ service: onFailure, tasks: [complete] }).actions)).toEqual(['finish t3']);
    expect(summary(plan({ service: onFailure, tasks: [failed] }).actions)).toEqual(['replace t2 restart']);
    expect(summary(plan({ service: service({ restartCondition: RestartCondition.RESTART_CONDITION_NONE }), tasks: [failed] }).actions)).toEqual(['finish t2']);
    expect(summary(plan({ service: service({ restartMaxAttempts: 2 }), tasks: [failed], restartsIn: () => 2 }).actions)).toEqual(['finish t2']);
    const finished = task({ state: TaskState.TASK_STATE_COMPLETE, desiredState: TaskState.TASK_STATE_COMPLETE });
    expect(plan({ service: service(), tasks: [finished] }).actions).toEqual([]);
    expect(summary(plan({ service: service({}, { specVersion: 2n }), tasks: [finished] }).actions)).toEqual(['create 1']);
  });

  it('rolling update: parallelism, starting replacements, delay, completion', () => {
    seq = 0;
    const v2 = service({ replicas: 3 }, { specVersion: 2n, updateStatus: { state: 'updating', startedAt: 1n, completedAt: 0n, message: '' } });
    const old = [1, 2, 3].map((slot) => task({ slot, state: R }));
    expect(summary(plan({ service: v2, tasks: old }).actions)).toEqual(['replace t1']);
    const parallel = service({ replicas: 3, updateParallelism: 2 }, { specVersion: 2n });
    expect(summary(plan({ service: parallel, tasks: old }).actions)).toEqual(['replace t1', 'replace t2']);
    const starting = task({ slot: 1, specVersion: 2n, state: TaskState.TASK_STATE_PREPARING });
    const rest = old.slice(1);
    expect(plan({ service: v2, tasks: [starting, ...rest] }).actions).toEqual([]);
    const ran = task({ slot: 1, specVersion: 2n, state: R, updatedAt: BigInt(NOW - 1000) });
    expect(summary(plan({ service: v2, tasks: [ran, ...rest] }).actions)).toEqual(['replace t2']);
    const delayed = service({ replicas: 3, updateDelayMs: 10_000n }, { specVersion: 2n });
    const waiting = plan({ service: delayed, tasks: [ran, ...rest] });
    expect(waiting.actions).toEqual([]);
    expect(waiting.wakeAt).toBe(NOW + 9000);
    const unplaced = task({ slot: 2, nodeId: '', state: TaskState.TASK_STATE_PENDING });
    expect(summary(plan({ service: v2, tasks: [starting, unplaced, old[2] as Task] }).actions)).toEqual([`replace ${unplaced.id}`]);
    const done = [1, 2, 3].map((slot) => task({ slot, specVersion: 2n, state: R }));
    expect(plan({ service: v2, tasks: done }).updateCompleted).toBe(true);
    expect(plan({ service: v2, tasks: [...done.slice(1), task({ slot: 1, specVersion: 2n, state: TaskState.TASK_STATE_ASSIGNED })] }).updateCompleted).toBe(false);
  });

  it('ingress endpoints: one per live node on the current ingress, the rest removed', () => {
    const nodes = new Map([
      ['a', node('a')],
      ['b', node('b', { status: NodeStatus.NODE_STATUS_DOWN })],
      ['c', node('c', { status: NodeStatus.NODE_STATUS_DISCONNECTED })],
    ]);
    const lb = (id: string, nodeId: string, networkId = 'ing') =>
      Endpoint.fromPartial({ id, nodeId, networkId, kind: EndpointKind.ENDPOINT_KIND_LOAD_BALANCER });
    const plan = planIngressEndpoints('ing', nodes, [
      lb('e1', 'a'),
      lb('e2', 'a'),
      lb('e3', 'b'),
      lb('e4', 'gone'),
      lb('e5', 'c', 'old-ingress'),
      Endpoint.fromPartial({ id: 'e6', nodeId: 'c', networkId: 'ing', kind: EndpointKind.ENDPOINT_KIND_TASK }),
    ]);
    expect(plan.create).toEqual(['c']);
    expect(plan.remove.map((e) => e.id)).toEqual(['e2', 'e3', 'e4', 'e5']);
    expect(planIngressEndpoints(undefined, nodes, [lb('e1', 'a')])).toEqual({ create: [], remove: [lb('e1', 'a')] });
  });

  it('mirror table: older changes never replace newer ones, deletes included', () => {
    const table = new MirrorTable<string>();
    expect(table.put('k', 'v5', 5n)).toBe(true);
    expect(table.put('k', 'v4', 4n)).toBe(false);
    expect(table.delete('k', 3n)).toBe(false);
    expect(table.delete('k', 7n)).toBe(true);
    expect(table.put('k', 'v6', 6n)).toBe(false);
    table.observe(7n);
    expect(table.put('k', 'v8', 8n)).toBe(true);
    expect(table.get('k')).toEqual({ value: 'v8', modRevision: 8n });
  });
});
