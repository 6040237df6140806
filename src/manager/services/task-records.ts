import type { KvStore } from '../../kvstore/index.js';
import { ServiceMode } from '../../gen/vxmesh/v1/service.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../gen/vxmesh/v1/task.js';
import { rangeAll } from '../ipam/range-all.js';
import { newObjectId } from '../node-registry.js';
import { storeKeys } from '../store/store-keys.js';
import { hostPorts } from './service-spec-validation.js';

type Signal = { readonly signal?: AbortSignal };

/** A task record with the store revision it was read at. */
export interface StoredTask {
  readonly task: Task;
  readonly modRevision: bigint;
}

/** The state a task is in (UNSPECIFIED for a record without status). */
export function stateOf(task: Task): TaskState {
  return task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
}

/** COMPLETE and later: the task's process is gone (or never ran) and will not run again. */
export function isEnded(state: TaskState): boolean {
  return state > TaskState.TASK_STATE_RUNNING;
}

/** Placed on a node and handed to it (ASSIGNED or later). */
export function isPlaced(task: Task): boolean {
  return task.nodeId !== '' && stateOf(task) >= TaskState.TASK_STATE_ASSIGNED;
}

/**
 * `<service>.<slot>.<task id>` (global: `<service>.<node id>.<task id>`): the container name, the
 * owner name of the task's endpoints and their hostname.
 */
export function taskName(task: Pick<Task, 'serviceName' | 'slot' | 'nodeId' | 'id'>): string {
  return `${task.serviceName}.${task.slot === 0 ? task.nodeId : String(task.slot)}.${task.id}`;
}

/** Where a task sits in its service: the slot number (replicated) or the node ID (global). */
export function slotKeyOf(task: Pick<Task, 'slot' | 'nodeId'>): string {
  return task.slot === 0 ? `node:${task.nodeId}` : `slot:${task.slot}`;
}

/**
 * A new task of `service` for a slot (replicated) or a node (global): NEW, desired RUNNING, not
 * placed yet, with the service's command and host-mode ports at its current spec version.
 */
export function newTask(service: Service, where: { slot: number } | { nodeId: string }, now: number): Task {
  const spec = service.spec;
  const global = spec?.mode === ServiceMode.SERVICE_MODE_GLOBAL;
  return Task.fromPartial({
    id: newObjectId(),
    serviceId: service.id,
    serviceName: spec?.name ?? '',
    slot: 'slot' in where && !global ? where.slot : 0,
    nodeId: 'nodeId' in where ? where.nodeId : '',
    desiredState: TaskState.TASK_STATE_RUNNING,
    status: { state: TaskState.TASK_STATE_NEW, timestamp: BigInt(now), message: 'created' },
    specVersion: service.specVersion,
    command: [...(spec?.command ?? [])],
    networks: [],
    hostPorts: spec ? hostPorts(spec) : [],
    createdAt: BigInt(now),
    updatedAt: BigInt(now),
  });
}

/** Every task, read at one revision. */
export async function listAllTasks(store: KvStore, opts: Signal = {}): Promise<StoredTask[]> {
  const { kvs } = await rangeAll(store, storeKeys.tasksPrefix, opts);
  return kvs.map((kv) => ({ task: Task.decode(kv.value), modRevision: kv.modRevision }));
}
