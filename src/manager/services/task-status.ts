import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import type { TaskStatusUpdate } from '../../gen/vxmesh/v1/dispatcher.js';
import { Task, TaskState } from '../../gen/vxmesh/v1/task.js';
import type { TaskStatus } from '../../gen/vxmesh/v1/task.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';
import { mapWithLimit } from './map-with-limit.js';
import { isEnded, stateOf } from './task-records.js';

const log = createLogger('manager.services.task-status');

/** Compare-and-swap attempts per report before it is dropped (the node re-sends later states anyway). */
const MAX_ATTEMPTS = 5;
/** Reports written at once. */
const CONCURRENCY = 8;

/** What the endpoints' `serving` flag becomes with the new state; undefined: unchanged. */
function servingFor(task: Task, state: TaskState): boolean | undefined {
  if (state === TaskState.TASK_STATE_RUNNING && task.desiredState === TaskState.TASK_STATE_RUNNING) {
    return true;
  }
  return isEnded(state) ? false : undefined;
}

function sameStatus(a: TaskStatus | undefined, b: TaskStatus): boolean {
  return (
    a !== undefined &&
    a.state === b.state &&
    a.message === b.message &&
    a.err === b.err &&
    a.exitCode === b.exitCode &&
    a.containerId === b.containerId
  );
}

/**
 * Records the task states nodes report (`Dispatcher.UpdateTaskStatus`); runs on every manager,
 * not only the leader. Rules:
 * - a node may report only tasks placed on it, once placed (ASSIGNED); others are ignored and logged;
 * - a state never moves backwards: an older or equal report is ignored, as is a state only
 *   managers write (NEW..ASSIGNED, REMOVE, ORPHANED);
 * - the write is a compare-and-swap on the task's modRevision (retried), and in the same
 *   transaction the task's endpoints become `serving` when it runs while desired RUNNING, and stop
 *   serving when it ended.
 */
export class TaskStatusRecorder {
  readonly #store: KvStore;
  readonly #clock: Clock;

  constructor(store: KvStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Applies every report it may; never throws for one bad report (store errors do propagate). */
  async report(nodeId: string, updates: readonly TaskStatusUpdate[]): Promise<void> {
    await mapWithLimit(updates, CONCURRENCY, (u) => this.#one(nodeId, u));
  }

  async #one(nodeId: string, update: TaskStatusUpdate): Promise<void> {
    const status = update.status;
    if (!status) {
      return;
    }
    if (status.state < TaskState.TASK_STATE_ACCEPTED || status.state > TaskState.TASK_STATE_REJECTED) {
      log.warn({ nodeId, taskId: update.taskId, state: status.state }, 'a node reported a state only managers set; ignored');
      return;
    }
    const key = storeKeys.task(update.taskId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const { kv } = await this.#store.get(key);
      if (!kv) {
        log.debug({ nodeId, taskId: update.taskId }, 'status of an unknown task; ignored');
        return;
      }
      const task = Task.decode(kv.value);
      if (task.nodeId !== nodeId) {
        log.warn({ nodeId, taskId: task.id, owner: task.nodeId }, 'a node reported a task that is not its own; ignored');
        return;
      }
      const current = stateOf(task);
      if (current < TaskState.TASK_STATE_ASSIGNED) {
        // Not handed to any node yet (a global task names its node before it is placed).
        log.warn({ nodeId, taskId: task.id, state: current }, 'a node reported a task not assigned yet; ignored');
        return;
      }
      if (status.state < current || (status.state === current && sameStatus(task.status, status))) {
        return;
      }
      const now = this.#clock.now();
      const next: Task = {
        ...task,
        status: { ...status, timestamp: status.timestamp === 0n ? BigInt(now) : status.timestamp },
        updatedAt: BigInt(now),
      };
      const compare: Compare[] = [{ key, target: 'modRevision', op: '==', value: kv.modRevision }];
      const success: TxnOp[] = [{ type: 'put', key, value: encodeMessage(Task, next) }];
      const serving = servingFor(task, status.state);
      if (serving !== undefined) {
        const ids = task.networks.map((n) => n.endpointId).filter((id) => id !== '');
        const read = ids.length === 0
          ? []
          : (await this.#store.txn({ compare: [], success: ids.map((id) => ({ type: 'get', key: storeKeys.endpoint(id) }) as const) })).results;
        for (const r of read) {
          if (r.type !== 'get' || !r.kv) {
            continue;
          }
          const endpoint = Endpoint.decode(r.kv.value);
          if (endpoint.serving === serving) {
            continue;
          }
          compare.push({ key: r.kv.key, target: 'modRevision', op: '==', value: r.kv.modRevision });
          success.push({ type: 'put', key: r.kv.key, value: encodeMessage(Endpoint, { ...endpoint, serving }) });
        }
      }
      const res = await this.#store.txn({ compare, success });
      if (res.succeeded) {
        return;
      }
    }
    log.warn({ nodeId, taskId: update.taskId }, 'task status kept losing races; dropped');
  }
}
