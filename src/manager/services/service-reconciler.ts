import { NodeAvailability, NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';
import { RestartCondition, ServiceMode } from '../../gen/vxmesh/v1/service.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import { constraintsHold, parseConstraint } from './constraints.js';
import type { PlacementConstraint } from './constraints.js';
import { unfitReason } from './scheduler.js';
import { DEFAULT_RESTART_DELAY_MS } from './service-spec-validation.js';
import { isEnded, isPlaced, slotKeyOf, stateOf } from './task-records.js';

/**
 * What the orchestrator does to one service's tasks. Every action that stops a task wanted
 * running also makes its endpoints stop serving, in the same transaction.
 * - `create`: a new task for an empty slot (replicated: `slot`, global: `nodeId`).
 * - `replace`: `old` gets desired SHUTDOWN (status ORPHANED when `orphan`) and a new task takes
 *   its slot (global: its node), in one transaction. `restart` counts against the restart policy.
 * - `shutdown`: desired SHUTDOWN (status ORPHANED when `orphan`, SHUTDOWN when never placed).
 * - `finish`: the task ended and the restart policy says not to replace it: desired COMPLETE,
 *   which also marks the slot as done (an empty slot whose last task is COMPLETE-desired at the
 *   current spec version is not refilled).
 */
export type TaskAction =
  | { readonly type: 'create'; readonly slot: number; readonly nodeId: string }
  | { readonly type: 'replace'; readonly old: Task; readonly orphan: boolean; readonly restart: boolean }
  | { readonly type: 'shutdown'; readonly task: Task; readonly orphan: boolean }
  | { readonly type: 'finish'; readonly task: Task };

export interface ReconcileInput {
  readonly service: Service;
  /** Every task of the service. */
  readonly tasks: readonly Task[];
  readonly nodes: ReadonlyMap<string, Node>;
  readonly now: number;
  /** Restarts already made for the slot (see {@link slotKeyOf}) at the service's spec version. */
  readonly restartsIn: (slotKey: string) => number;
}

export interface ReconcilePlan {
  readonly actions: TaskAction[];
  /** Earliest time a restart or update step is due, when one waits. */
  readonly wakeAt: number | undefined;
  /** A rolling update is marked "updating" and every task wanted runs the current version. */
  readonly updateCompleted: boolean;
}

function newestFirst(a: Task, b: Task): number {
  return a.createdAt > b.createdAt ? -1 : a.createdAt < b.createdAt ? 1 : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** The task's node is Down or no longer registered: it will never report again. */
export function nodeLost(task: Task, nodes: ReadonlyMap<string, Node>): boolean {
  if (task.nodeId === '') {
    return false;
  }
  const node = nodes.get(task.nodeId);
  return !node || node.status === NodeStatus.NODE_STATUS_DOWN;
}

function shouldRestart(service: Service, task: Task, restarts: number): boolean {
  const spec = service.spec;
  switch (spec?.restartCondition) {
    case RestartCondition.RESTART_CONDITION_NONE: {
      return false;
    }
    case RestartCondition.RESTART_CONDITION_ON_FAILURE: {
      if (stateOf(task) === TaskState.TASK_STATE_COMPLETE) {
        return false;
      }
      break;
    }
    default: {
      break;
    }
  }
  const max = spec?.restartMaxAttempts ?? 0;
  return max === 0 || restarts < max;
}

/** Restart delay of the spec: 0 means docker's 5 s. */
export function restartDelayMs(service: Service): number {
  const ms = Number(service.spec?.restartDelayMs ?? 0n);
  return ms > 0 ? ms : DEFAULT_RESTART_DELAY_MS;
}

/**
 * Decides, from the service, its tasks and the nodes, what must change so the right tasks run:
 * slots to fill or empty, tasks on lost, drained or no longer matching nodes, ended tasks to
 * restart (after the restart delay, within the attempts), and the next rolling-update step
 * (`update_parallelism` at a time, the next step once the previous replacements run, plus
 * `update_delay_ms`). Pure: the orchestrator applies the plan, and runs this again on any change.
 */
export function reconcileService(input: ReconcileInput): ReconcilePlan {
  const { service, nodes, now } = input;
  const spec = service.spec;
  const actions: TaskAction[] = [];
  let wakeAt: number | undefined;
  const wake = (at: number): void => {
    wakeAt = wakeAt === undefined ? at : Math.min(wakeAt, at);
  };
  if (!spec) {
    return { actions, wakeAt, updateCompleted: false };
  }
  const global = spec.mode === ServiceMode.SERVICE_MODE_GLOBAL;
  const constraints: PlacementConstraint[] = spec.constraints.map(parseConstraint);

  const slots = new Map<string, Task[]>();
  for (const task of input.tasks) {
    const key = slotKeyOf(task);
    const list = slots.get(key);
    if (list) {
      list.push(task);
    } else {
      slots.set(key, [task]);
    }
  }
  // Slots that should exist: replicated 1..replicas, global one per eligible node.
  const wanted = new Map<string, { slot: number; nodeId: string }>();
  if (global) {
    for (const node of nodes.values()) {
      if (!unfitReason(node, constraints, false, undefined)) {
        wanted.set(slotKeyOf({ slot: 0, nodeId: node.id }), { slot: 0, nodeId: node.id });
      }
    }
  } else {
    for (let slot = 1; slot <= spec.replicas; slot++) {
      wanted.set(slotKeyOf({ slot, nodeId: '' }), { slot, nodeId: '' });
    }
  }

  const outdated: Task[] = [];
  for (const key of new Set([...slots.keys(), ...wanted.keys()])) {
    const tasks = (slots.get(key) ?? []).sort(newestFirst);
    const active = tasks.filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING);
    const [keep, ...extras] = active;
    for (const t of extras) {
      actions.push({ type: 'shutdown', task: t, orphan: !isEnded(stateOf(t)) && nodeLost(t, nodes) });
    }
    // Tasks already told to stop whose node is lost will never report: they end as ORPHANED.
    for (const t of tasks) {
      if (t.desiredState !== TaskState.TASK_STATE_RUNNING && !isEnded(stateOf(t)) && nodeLost(t, nodes)) {
        actions.push({ type: 'shutdown', task: t, orphan: true });
      }
    }
    const want = wanted.get(key);
    if (!keep) {
      const latest = tasks[0];
      const finished = latest?.desiredState === TaskState.TASK_STATE_COMPLETE && latest.specVersion >= service.specVersion;
      if (want && !finished) {
        actions.push({ type: 'create', slot: want.slot, nodeId: want.nodeId });
      }
      continue;
    }
    const alive = !isEnded(stateOf(keep));
    const lost = nodeLost(keep, nodes);
    if (!want && !global) {
      // Scaled down: the highest slots go.
      actions.push({ type: 'shutdown', task: keep, orphan: alive && lost });
      continue;
    }
    if (alive && lost) {
      actions.push(
        global
          ? { type: 'shutdown', task: keep, orphan: true }
          : { type: 'replace', old: keep, orphan: true, restart: false },
      );
      continue;
    }
    if (!alive) {
      if (!shouldRestart(service, keep, input.restartsIn(key))) {
        actions.push({ type: 'finish', task: keep });
        continue;
      }
      const due = Number(keep.updatedAt) + restartDelayMs(service);
      if (now < due) {
        wake(due);
      } else if (global && !want) {
        actions.push({ type: 'shutdown', task: keep, orphan: false });
      } else {
        actions.push({ type: 'replace', old: keep, orphan: false, restart: true });
      }
      continue;
    }
    const node = keep.nodeId === '' ? undefined : nodes.get(keep.nodeId);
    if (node && (node.availability === NodeAvailability.NODE_AVAILABILITY_DRAIN || !constraintsHold(node, constraints))) {
      actions.push(global ? { type: 'shutdown', task: keep, orphan: false } : { type: 'replace', old: keep, orphan: false, restart: false });
      continue;
    }
    if (keep.specVersion < service.specVersion) {
      if (!isPlaced(keep)) {
        // Not running anywhere yet: nothing to roll, replace it at once.
        actions.push({ type: 'replace', old: keep, orphan: false, restart: false });
      } else {
        outdated.push(keep);
      }
    }
  }

  // Rolling update: replacements still starting, at the current version, count against the
  // parallelism (new tasks of this pass included).
  const current = input.tasks.filter(
    (t) => t.desiredState === TaskState.TASK_STATE_RUNNING && t.specVersion === service.specVersion,
  );
  const starting =
    current.filter((t) => stateOf(t) < TaskState.TASK_STATE_RUNNING).length +
    actions.filter((a) => a.type === 'create' || a.type === 'replace').length;
  if (outdated.length > 0) {
    let budget = Math.max(1, spec.updateParallelism) - starting;
    const delay = Number(spec.updateDelayMs);
    if (budget > 0 && delay > 0 && starting === 0) {
      const settled = current
        .filter((t) => stateOf(t) === TaskState.TASK_STATE_RUNNING)
        .reduce((max, t) => Math.max(max, Number(t.updatedAt)), 0);
      if (settled > 0 && now < settled + delay) {
        wake(settled + delay);
        budget = 0;
      }
    }
    outdated.sort((a, b) => a.slot - b.slot || (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
    for (const old of outdated.slice(0, Math.max(0, budget))) {
      actions.push({ type: 'replace', old, orphan: false, restart: false });
    }
  }
  const updateCompleted =
    service.updateStatus?.state === 'updating' && outdated.length === 0 && starting === 0 && actions.length === 0;
  return { actions, wakeAt, updateCompleted };
}
