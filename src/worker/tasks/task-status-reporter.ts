import { isRetryable } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { TaskStatusUpdate } from '../../gen/vxmesh/v1/dispatcher.js';
import type { TaskState, TaskStatus } from '../../gen/vxmesh/v1/task.js';

const log = createLogger('worker.tasks.reporter');

/** How often unsent reports are tried again (the session may be down). */
export const TASK_REPORT_RETRY_MS = 1000;
/** Updates per UpdateTaskStatus call, so a node with thousands of tasks never builds one huge message. */
const MAX_BATCH = 500;

export interface TaskStatusReporterOptions {
  /**
   * Sends one batch to the managers (NodeAgent.reportTaskStatus). Rejects when nothing was
   * taken, e.g. UNAVAILABLE without a session; the batch is then sent again later.
   */
  readonly send: (updates: readonly TaskStatusUpdate[]) => Promise<void>;
  readonly clock: Clock;
  readonly retryMs?: number;
}

/**
 * The node's outbox of task states. Only the latest unsent status of each task is kept (the
 * managers ignore a state older than the one they hold, so an intermediate one is worth nothing
 * once a later one exists), a state never goes backwards, and whatever is unsent is retried every
 * second until a session takes it. One send at a time, so reports reach the managers in order.
 */
export class TaskStatusReporter implements AsyncDisposable {
  readonly #opts: TaskStatusReporterOptions;
  readonly #abort = new AbortController();
  /** Latest status per task not yet taken by the managers. */
  readonly #pending = new Map<string, TaskStatus>();
  /** Highest state reported per task (sent or pending), the floor for later reports. */
  readonly #highest = new Map<string, TaskState>();
  #sending: Promise<void> | undefined;
  #loop: Promise<void> | undefined;
  /** Failures in a row, so a long outage logs once instead of every second. */
  #failures = 0;

  constructor(opts: TaskStatusReporterOptions) {
    this.#opts = opts;
  }

  /** Starts the retry timer. */
  start(): void {
    this.#loop ??= this.#retryLoop();
  }

  /**
   * Queues a status and tries to send it at once (without waiting).
   * @returns false when the state is older than one already reported for the task (dropped).
   */
  report(taskId: string, status: TaskStatus): boolean {
    if (this.#abort.signal.aborted) {
      return false;
    }
    const highest = this.#highest.get(taskId);
    if (highest !== undefined && status.state < highest) {
      return false;
    }
    this.#highest.set(taskId, status.state);
    this.#pending.set(taskId, status);
    void this.flush();
    return true;
  }

  /** The highest state reported for a task since this reporter started; undefined: none. */
  lastState(taskId: string): TaskState | undefined {
    return this.#highest.get(taskId);
  }

  /** Tasks with a reported state (sent or not). */
  taskIds(): string[] {
    return [...this.#highest.keys()];
  }

  /** Whether a status of the task is still waiting to be sent. */
  isPending(taskId: string): boolean {
    return this.#pending.has(taskId);
  }

  /** Number of tasks with an unsent status. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Drops what is known of a task the node no longer has, unsent status included. */
  forget(taskId: string): void {
    this.#pending.delete(taskId);
    this.#highest.delete(taskId);
  }

  /**
   * Sends what is pending, batch by batch; joins a send already running. Never rejects: what
   * could not be sent stays pending for the next try.
   */
  flush(): Promise<void> {
    this.#sending ??= this.#sendAll();
    return this.#sending;
  }

  async #sendAll(): Promise<void> {
    // Yield once so `#sending` is assigned before the `finally` below can clear it.
    await Promise.resolve();
    try {
      await this.#sendPending();
    } finally {
      // Cleared in the same step that saw nothing left: a report that comes after this starts
      // a new send, and one that came before was picked up by the loop.
      this.#sending = undefined;
    }
  }

  async #sendPending(): Promise<void> {
    while (this.#pending.size > 0 && !this.#abort.signal.aborted) {
      const batch = [...this.#pending].slice(0, MAX_BATCH);
      try {
        await this.#opts.send(batch.map(([taskId, status]) => ({ taskId, status })));
      } catch (err) {
        this.#failures++;
        if (this.#failures === 1) {
          // Without a session this is expected; anything else is worth a warning.
          const level = isRetryable(err) ? 'info' : 'warn';
          log[level]({ err, pending: this.#pending.size }, 'could not report task states; retrying');
        }
        return;
      }
      if (this.#failures > 0) {
        log.info({ failures: this.#failures }, 'task states reported again');
      }
      this.#failures = 0;
      for (const [taskId, status] of batch) {
        // A newer status queued during the call stays for the next batch.
        if (this.#pending.get(taskId) === status) {
          this.#pending.delete(taskId);
        }
      }
    }
  }

  async #retryLoop(): Promise<void> {
    const retryMs = this.#opts.retryMs ?? TASK_REPORT_RETRY_MS;
    while (!this.#abort.signal.aborted) {
      try {
        await this.#opts.clock.sleep(retryMs, this.#abort.signal);
      } catch {
        return;
      }
      await this.flush();
    }
  }

  /** Stops retrying; a send in progress is awaited, whatever is unsent is dropped. Idempotent. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#sending;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
