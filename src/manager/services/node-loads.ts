import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import type { NodeLoad } from './scheduler.js';
import { isEnded, isPlaced, stateOf } from './task-records.js';

function bump(map: Map<string, number>, key: string, delta: number): void {
  const next = (map.get(key) ?? 0) + delta;
  if (next <= 0) {
    map.delete(key);
  } else {
    map.set(key, next);
  }
}

/**
 * What each node runs, as the scheduler weighs it, built from the tasks at the start of a pass
 * and kept current as the pass places and replaces tasks (so one pass spreads many new tasks).
 */
export class NodeLoads {
  readonly #total = new Map<string, number>();
  /** `<service> <node>` → tasks wanted running. */
  readonly #service = new Map<string, number>();
  /** `<service> <node>` → tasks with host-mode ports not yet ended. */
  readonly #hostPorts = new Map<string, number>();

  constructor(tasks: Iterable<Task>) {
    for (const t of tasks) {
      // Only placed tasks weigh: a global task waiting for its addresses names its node already.
      if (!isPlaced(t)) {
        continue;
      }
      if (t.desiredState === TaskState.TASK_STATE_RUNNING) {
        this.#running(t.serviceId, t.nodeId, 1);
      }
      // A task holds its host ports until it ended, even after it was told to stop.
      if (t.hostPorts.length > 0 && !isEnded(stateOf(t))) {
        bump(this.#hostPorts, `${t.serviceId} ${t.nodeId}`, 1);
      }
    }
  }

  of(serviceId: string, nodeId: string): NodeLoad {
    return {
      serviceTasks: this.#service.get(`${serviceId} ${nodeId}`) ?? 0,
      totalTasks: this.#total.get(nodeId) ?? 0,
      holdsHostPorts: (this.#hostPorts.get(`${serviceId} ${nodeId}`) ?? 0) > 0,
    };
  }

  /** A task of the service was placed on the node (delta 1) or that placement was undone (-1). */
  placed(serviceId: string, nodeId: string, hostPorts: boolean, delta: 1 | -1): void {
    this.#running(serviceId, nodeId, delta);
    if (hostPorts) {
      bump(this.#hostPorts, `${serviceId} ${nodeId}`, delta);
    }
  }

  /** A task is no longer wanted running there (it still holds its host ports until it ends). */
  released(serviceId: string, nodeId: string): void {
    this.#running(serviceId, nodeId, -1);
  }

  #running(serviceId: string, nodeId: string, delta: number): void {
    bump(this.#total, nodeId, delta);
    bump(this.#service, `${serviceId} ${nodeId}`, delta);
  }
}
