import { setMaxListeners } from 'node:events';
import { isRetryable } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import { ContainerState } from '../../gen/vxmesh/v1/container.js';
import type { Container } from '../../gen/vxmesh/v1/container.js';
import type { Assignment, TaskStatusUpdate } from '../../gen/vxmesh/v1/dispatcher.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { Task, TaskStatus } from '../../gen/vxmesh/v1/task.js';
import { taskExitError } from './task-container-spec.js';
import { TaskStatusReporter } from './task-status-reporter.js';

const log = createLogger('worker.tasks');

/**
 * Delay between the managers' decision to stop a task and its SIGTERM. The managers clear the
 * endpoint's `serving` in the same transaction as desired SHUTDOWN, so during this delay every
 * node stops sending it new connections (load balancers and DNS follow the flag). 1 s was too
 * short on a loaded node: under the test suite's load (2 CPUs, load 7) another node's load
 * balancer still sent new connections to a stopped task 1-3 s after the decision. No node
 * acknowledges the change, so the delay is a margin, not a guarantee.
 */
export const TASK_STOP_GRACE_MS = 3000;
/** SIGTERM, then SIGKILL after this long (docker's default stop timeout). */
export const TASK_STOP_TIMEOUT_S = 10;
/** A full pass runs at least this often, even without a trigger. */
export const TASK_RESYNC_MS = 1000;

/** What the runner needs of the container runtime (ContainerRuntime implements it). */
export interface TaskContainerRuntime {
  /** Every container, exited ones included. */
  list(all: boolean): Container[];
  /**
   * Creates and starts the task's container with the endpoints the managers allocated.
   * @throws a retryable error (isRetryable) when it may work later, e.g. a network not known yet.
   */
  runTask(task: Task, networks: ReadonlyMap<string, Network>): Promise<Container>;
  /** SIGTERM, SIGKILL after the timeout; resolves once the exit is recorded. A stopped one: no-op. */
  stop(ref: string, timeoutSeconds?: number): Promise<Container>;
  /** Removes it (a running one with `force`); resolves once it is gone. What it resolves to is not read. */
  remove(ref: string, force: boolean): Promise<unknown>;
  /** Calls the listener whenever a container's process ended; returns the unsubscribe function. */
  onContainerExit(listener: (container: Container) => void): () => void;
}

/** What the runner needs of the node agent (NodeAgent implements it). */
export interface TaskAssignmentSource {
  readonly assignments: {
    readonly items: ReadonlyMap<string, Assignment>;
    /** undefined until assignments were applied (from disk or from a session). */
    readonly resultsIn: bigint | undefined;
  };
  /** @throws VxmeshError UNAVAILABLE without a session. */
  reportTaskStatus(updates: readonly TaskStatusUpdate[]): Promise<void>;
}

export interface TaskRunnerOptions {
  readonly nodeId: string;
  readonly agent: TaskAssignmentSource;
  readonly runtime: TaskContainerRuntime;
  readonly clock: Clock;
  /** Overrides for tests. */
  readonly graceMs?: number;
  readonly resyncMs?: number;
  readonly stopTimeoutSeconds?: number;
}

/**
 * Runs this node's service tasks as containers (issue 8), level-triggered: every trigger (an
 * assignments change, a container exit, the 1 s timer, the end of an operation) runs a pass that
 * compares the tasks assigned to this node with the task containers and starts one operation per
 * task that needs one; a task with an operation in flight is left alone until it ends.
 *
 * Per task, from what the managers want (desired_state) and what the node has:
 *
 * | desired   | container           | action                                                    |
 * | --------- | ------------------- | --------------------------------------------------------- |
 * | RUNNING   | none, never started | PREPARING → runTask → RUNNING (retryable error: wait; other: REJECTED) |
 * | RUNNING   | none, had started   | FAILED (the container is gone)                            |
 * | RUNNING   | running             | RUNNING once after a restart (re-adoption)               |
 * | any       | exited              | COMPLETE (exit 0) or FAILED `task: non-zero exit (N)`; SHUTDOWN when desired is SHUTDOWN |
 * | SHUTDOWN  | running             | wait TASK_STOP_GRACE_MS, stop (SIGTERM, 10 s, SIGKILL), SHUTDOWN |
 * | SHUTDOWN  | none, not ended     | SHUTDOWN                                                  |
 * | (absent)  | any                 | stop and remove the container                             |
 *
 * Tasks are never restarted here: the managers replace an ended task per its restart policy.
 * Until a session has delivered assignments since this runner started, the saved assignments
 * may be stale (a task removed, its addresses reallocated, while the daemon was down): nothing is
 * started and nothing is removed for a task the saved state lacks; stopping (desired never goes
 * back to RUNNING) and reporting exits are safe and happen at once.
 */
export class TaskRunner implements AsyncDisposable {
  readonly #opts: TaskRunnerOptions;
  readonly #reporter: TaskStatusReporter;
  readonly #abort = new AbortController();
  /** Operation in flight per task ID (start, stop or remove). */
  readonly #busy = new Map<string, Promise<void>>();
  /**
   * Earliest time of the next operation for a task whose last one failed or could not start yet:
   * without it, the pass that follows every operation would retry at once, in a tight loop.
   */
  readonly #notBefore = new Map<string, number>();
  /** Tasks whose retryable start error was already reported, so a wait reports once. */
  readonly #waiting = new Map<string, string>();
  /** Whether a session delivered assignments since start: until then the saved copy may be stale. */
  #fresh = false;
  #started = false;
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(opts: TaskRunnerOptions) {
    this.#opts = opts;
    // Every task's grace sleep and stop listens on this signal: not a leak.
    setMaxListeners(0, this.#abort.signal);
    this.#reporter = new TaskStatusReporter({
      send: (updates) => opts.agent.reportTaskStatus(updates),
      clock: opts.clock,
    });
  }

  /** The outbox of task states, for inspection. */
  get reporter(): TaskStatusReporter {
    return this.#reporter;
  }

  /**
   * Starts the timers and runs a first pass. Call it once the runtime has loaded its records, so
   * running task containers of a previous daemon are adopted rather than taken for missing.
   */
  start(): void {
    if (this.#started || this.#abort.signal.aborted) {
      return;
    }
    this.#started = true;
    this.#reporter.start();
    this.#unsubscribe = this.#opts.runtime.onContainerExit((c) => {
      if (c.taskId) {
        this.reconcile();
      }
    });
    this.#loop = this.#resyncLoop();
    this.reconcile();
  }

  /**
   * Called after each assignments message the agent applied from a session (not for the saved
   * state loaded at start): marks the assignments fresh and runs a pass.
   */
  onAssignments(): void {
    if (this.#opts.agent.assignments.resultsIn !== undefined) {
      this.#fresh = true;
    }
    this.reconcile();
  }

  /** Runs a pass now: decides synchronously, starts operations in the background. Never throws. */
  reconcile(): void {
    if (!this.#started || this.#abort.signal.aborted) {
      return;
    }
    try {
      this.#pass();
    } catch (err) {
      log.error({ err }, 'task pass failed');
    }
  }

  #pass(): void {
    const tasks = new Map<string, Task>();
    const networks = new Map<string, Network>();
    for (const a of this.#opts.agent.assignments.items.values()) {
      if (a.item?.$case === 'task' && a.item.value.nodeId === this.#opts.nodeId) {
        tasks.set(a.item.value.id, a.item.value);
      } else if (a.item?.$case === 'network') {
        networks.set(a.item.value.id, a.item.value);
      }
    }
    const containers = new Map<string, Container[]>();
    for (const c of this.#opts.runtime.list(true)) {
      if (c.taskId) {
        containers.set(c.taskId, [...(containers.get(c.taskId) ?? []), c]);
      }
    }

    for (const task of tasks.values()) {
      if (this.#idle(task.id)) {
        this.#reconcileTask(task, containers.get(task.id) ?? [], networks);
      }
    }

    if (!this.#fresh) {
      return;
    }
    for (const [taskId, list] of containers) {
      if (!tasks.has(taskId) && this.#idle(taskId)) {
        this.#launch(taskId, () => this.#removeContainers(taskId, list));
      }
    }
    for (const taskId of this.#reporter.taskIds()) {
      if (!tasks.has(taskId) && !containers.has(taskId) && !this.#busy.has(taskId)) {
        this.#reporter.forget(taskId);
        this.#waiting.delete(taskId);
        this.#notBefore.delete(taskId);
      }
    }
  }

  /** No operation in flight for the task, and no retry delay running. */
  #idle(taskId: string): boolean {
    if (this.#busy.has(taskId)) {
      return false;
    }
    const at = this.#notBefore.get(taskId);
    if (at !== undefined && this.#opts.clock.now() < at) {
      return false;
    }
    this.#notBefore.delete(taskId);
    return true;
  }

  #retryLater(taskId: string): void {
    this.#notBefore.set(taskId, this.#opts.clock.now() + (this.#opts.resyncMs ?? TASK_RESYNC_MS));
  }

  #reconcileTask(task: Task, list: readonly Container[], networks: ReadonlyMap<string, Network>): void {
    // What the managers hold, or what this node reported since, whichever is further along.
    const known = laterState(task.status?.state, this.#reporter.lastState(task.id));
    const shutdown = task.desiredState > TaskState.TASK_STATE_RUNNING;
    // Newest first; an older one is left over from a crash during creation.
    const [container, ...extra] = [...list].sort((a, b) => Number(b.createdAt - a.createdAt));
    if (extra.length > 0) {
      this.#launch(task.id, () => this.#removeContainers(task.id, extra));
      return;
    }

    if (!container) {
      if (known >= TaskState.TASK_STATE_COMPLETE) {
        return;
      }
      if (shutdown) {
        this.#report(task.id, { state: TaskState.TASK_STATE_SHUTDOWN, message: 'shutdown' });
        return;
      }
      if (task.desiredState !== TaskState.TASK_STATE_RUNNING || !this.#fresh) {
        return;
      }
      if (known >= TaskState.TASK_STATE_RUNNING) {
        // It ran here, and its container is gone (removed by hand, or its record was lost).
        this.#report(task.id, {
          state: TaskState.TASK_STATE_FAILED,
          message: 'failed',
          err: 'task: container not found on the node',
        });
        return;
      }
      this.#launch(task.id, () => this.#startTask(task, networks));
      return;
    }

    switch (container.state) {
      case ContainerState.CONTAINER_STATE_RUNNING: {
        if (shutdown) {
          this.#launch(task.id, () => this.#stopTask(task, container));
        } else if (this.#reporter.lastState(task.id) === undefined && known <= TaskState.TASK_STATE_RUNNING) {
          // Adopted after a daemon restart: say again that it runs (the managers may have missed
          // the report, and a session may be new).
          this.#report(task.id, { state: TaskState.TASK_STATE_RUNNING, message: 'started', containerId: container.id });
        }
        return;
      }
      case ContainerState.CONTAINER_STATE_EXITED: {
        if (known < TaskState.TASK_STATE_COMPLETE) {
          this.#report(task.id, shutdown ? stoppedStatus(container) : exitStatus(container));
        }
        return;
      }
      default: {
        // Created but never started: the daemon died between recording and spawning it.
        // Start over (a task is not RUNNING before its process is), or drop it if it ended.
        this.#launch(task.id, () => this.#removeContainers(task.id, [container]));
        return;
      }
    }
  }

  async #startTask(task: Task, networks: ReadonlyMap<string, Network>): Promise<void> {
    if (!this.#waiting.has(task.id)) {
      this.#report(task.id, { state: TaskState.TASK_STATE_PREPARING, message: 'preparing' });
    }
    let container: Container;
    try {
      container = await this.#opts.runtime.runTask(task, networks);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (isRetryable(err)) {
        // E.g. the network's assignment has not arrived yet: a later pass tries again.
        this.#retryLater(task.id);
        if (this.#waiting.get(task.id) !== message) {
          this.#waiting.set(task.id, message);
          log.info({ task: task.id, err: message }, 'task cannot start yet; waiting');
          this.#report(task.id, { state: TaskState.TASK_STATE_PREPARING, message: 'preparing', err: message });
        }
        return;
      }
      this.#waiting.delete(task.id);
      log.warn({ task: task.id, err: message }, 'task rejected');
      this.#report(task.id, { state: TaskState.TASK_STATE_REJECTED, message: 'rejected', err: message });
      return;
    }
    this.#waiting.delete(task.id);
    log.info({ task: task.id, container: container.id, name: container.name }, 'task started');
    // A process that already ended is reported by the next pass, from the container record.
    this.#report(task.id, { state: TaskState.TASK_STATE_RUNNING, message: 'started', containerId: container.id });
  }

  async #stopTask(task: Task, container: Container): Promise<void> {
    try {
      await this.#opts.clock.sleep(this.#opts.graceMs ?? TASK_STOP_GRACE_MS, this.#abort.signal);
    } catch {
      return;
    }
    const stopped = await this.#opts.runtime.stop(container.id, this.#opts.stopTimeoutSeconds ?? TASK_STOP_TIMEOUT_S);
    log.info({ task: task.id, container: container.id }, 'task shut down');
    this.#report(task.id, stoppedStatus(stopped));
  }

  async #removeContainers(taskId: string, list: readonly Container[]): Promise<void> {
    for (const c of list) {
      // Ask politely first: `remove -f` alone would not wait before SIGKILL.
      await this.#opts.runtime.stop(c.id, this.#opts.stopTimeoutSeconds ?? TASK_STOP_TIMEOUT_S);
      await this.#opts.runtime.remove(c.id, true);
      log.info({ task: taskId, container: c.id }, 'task container removed');
    }
  }

  /** Runs an operation for a task unless one is in flight; a pass follows its end. */
  #launch(taskId: string, operation: () => Promise<void>): void {
    if (this.#busy.has(taskId) || this.#abort.signal.aborted) {
      return;
    }
    // Started on the next microtask, after it is marked busy: an exit it causes synchronously
    // runs a pass that must not start a second operation for the same task.
    const done = Promise.resolve()
      .then(operation)
      .catch((err: unknown) => {
        log.warn({ err, task: taskId }, 'task operation failed; retrying');
        this.#retryLater(taskId);
      })
      .finally(() => {
        this.#busy.delete(taskId);
        this.reconcile();
      });
    this.#busy.set(taskId, done);
  }

  #report(taskId: string, status: Partial<TaskStatus> & Pick<TaskStatus, 'state'>): void {
    this.#reporter.report(taskId, {
      timestamp: BigInt(this.#opts.clock.now()),
      message: '',
      err: '',
      exitCode: 0,
      containerId: '',
      ...status,
    });
  }

  async #resyncLoop(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#opts.clock.sleep(this.#opts.resyncMs ?? TASK_RESYNC_MS, this.#abort.signal);
      } catch {
        return;
      }
      this.reconcile();
    }
  }

  /**
   * Stops the timers, waits for operations in flight (a grace delay is cut short, a stop runs to
   * its end) and drops unsent reports. Task containers keep running: a restarted daemon adopts
   * them. Idempotent.
   */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#unsubscribe?.();
    await this.#loop;
    await Promise.all(this.#busy.values());
    await this.#reporter.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function laterState(a: TaskState | undefined, b: TaskState | undefined): TaskState {
  const x = a ?? TaskState.TASK_STATE_UNSPECIFIED;
  const y = b ?? TaskState.TASK_STATE_UNSPECIFIED;
  return x >= y ? x : y;
}

/** What an ended process means for a task that was meant to run. */
function exitStatus(c: Container): Pick<TaskStatus, 'state' | 'message' | 'err' | 'exitCode' | 'containerId'> {
  if (c.exitCode === 0) {
    return { state: TaskState.TASK_STATE_COMPLETE, message: 'finished', err: '', exitCode: 0, containerId: c.id };
  }
  return { state: TaskState.TASK_STATE_FAILED, message: 'failed', err: taskExitError(c.exitCode), exitCode: c.exitCode, containerId: c.id };
}

/** A task stopped because the managers asked: SHUTDOWN, whatever the exit code of the stop. */
function stoppedStatus(c: Container): Pick<TaskStatus, 'state' | 'message' | 'err' | 'exitCode' | 'containerId'> {
  return { state: TaskState.TASK_STATE_SHUTDOWN, message: 'shutdown', err: '', exitCode: c.exitCode, containerId: c.id };
}
