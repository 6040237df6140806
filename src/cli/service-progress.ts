import type { Clock } from '../common/clock.js';
import { VxmeshError } from '../common/errors.js';
import { NodeStatus } from '../gen/vxmesh/v1/node.js';
import { ServiceMode } from '../gen/vxmesh/v1/service.js';
import { TaskState } from '../gen/vxmesh/v1/task.js';
import type { DaemonApi, ServiceRecord, TaskRecord } from './daemon-api.js';
import { SHORT_ID_LENGTH } from './container-list-format.js';
import { goDurationString } from './service-duration-text.js';
import { lookUpService } from './service-lookup.js';
import type { ProgressDisplay } from './service-progress-display.js';
import { taskDisplayName } from './service-task-list-format.js';
import { taskStateText } from './service-text.js';

// `service create|update|scale` without --detach: follow the service until its tasks converge,
// as docker/cli's progress.ServiceProgress does, with the same lines ("overall progress: 2 out of
// 3 tasks", "1/3: running   [=====>]", "verify: Service converged"). Unlike docker, which waits
// forever, it gives up when a task keeps failing with an error, or after a global timeout.

/** docker's numbering of task states (its "allocated" is 2; vxmesh has none). 0: not shown. */
const STATE_NUMBERS: Readonly<Partial<Record<TaskState, number>>> = {
  [TaskState.TASK_STATE_NEW]: 1,
  [TaskState.TASK_STATE_PENDING]: 3,
  [TaskState.TASK_STATE_ASSIGNED]: 4,
  [TaskState.TASK_STATE_ACCEPTED]: 5,
  [TaskState.TASK_STATE_PREPARING]: 6,
  [TaskState.TASK_STATE_READY]: 7,
  [TaskState.TASK_STATE_STARTING]: 8,
  [TaskState.TASK_STATE_RUNNING]: 9,
  [TaskState.TASK_STATE_COMPLETE]: 10,
  [TaskState.TASK_STATE_SHUTDOWN]: 11,
  [TaskState.TASK_STATE_FAILED]: 12,
  [TaskState.TASK_STATE_REJECTED]: 13,
};
const RUNNING = 9;
/** A bar is full at "running". */
const MAX_PROGRESS = 9;
/** Above this many tasks docker shows only the overall line. */
const MAX_PROGRESS_BARS = 20;
/** Width of the longest state shown ("preparing", and docker's "allocated"), so bars line up. */
const LONGEST_STATE = 9;
/** docker cuts errors so a line never wraps on a narrow terminal. */
const MAX_ERROR_WIDTH = 75;
/** Stuck tasks named in the final error before "and N more". */
const MAX_NAMED_TASKS = 3;

/** How often and how long to watch. */
export interface ConvergenceTiming {
  /** Between polls of the service and its tasks (docker: 200 ms). */
  readonly pollMs: number;
  /** How long converged must last to count (docker: the update monitor, 5 s by default). */
  readonly verifyMs: number;
  /** How long a task may stay failing with an error before the command gives up. */
  readonly stuckMs: number;
  /** Longest wait overall, plus the rolling update's delays (update delay × desired tasks). */
  readonly timeoutMs: number;
}

export const DEFAULT_CONVERGENCE_TIMING: ConvergenceTiming = {
  pollMs: 200,
  verifyMs: 1_000,
  stuckMs: 30_000,
  timeoutMs: 300_000,
};

export interface ConvergenceOptions {
  readonly daemon: DaemonApi;
  /** The service as the user named it (an ID after `create`): polled by it and shown in messages. */
  readonly ref: string;
  readonly display: ProgressDisplay;
  readonly clock: Clock;
  /** Whether state lines carry docker's bar ("[=====>    ]"). */
  readonly bars: boolean;
  /** Aborted on Ctrl-C: stop watching, the service carries on. */
  readonly interrupt?: AbortSignal;
  readonly timing?: Partial<ConvergenceTiming>;
}

/** `interrupted`: the user pressed Ctrl-C first (not an error, as in docker). */
export type ConvergenceOutcome = 'converged' | 'interrupted';

function stateNumber(state: TaskState): number {
  return STATE_NUMBERS[state] ?? 0;
}

function isTerminal(state: TaskState): boolean {
  return stateNumber(state) > RUNNING;
}

function isRunning(record: TaskRecord): boolean {
  return !isTerminal(record.task.desiredState) && record.task.status.state === TaskState.TASK_STATE_RUNNING;
}

/** docker's progress bar at 50 columns, e.g. "[================>                                  ]". */
function bar(state: TaskState): string {
  const filled = Math.min(50, Math.trunc(Math.trunc((stateNumber(state) / MAX_PROGRESS) * 100) / 2));
  return `[${'='.repeat(filled)}>${' '.repeat(50 - filled)}]`;
}

function oneLineError(err: string): string {
  const text = err.replaceAll('\n', ' ');
  return text.length > MAX_ERROR_WIDTH ? `${text.slice(0, MAX_ERROR_WIDTH - 1)}…` : text;
}

/** A task's progress line text, or undefined when docker shows nothing new for it. */
function taskProgressText(record: TaskRecord, bars: boolean): string | undefined {
  const { task } = record;
  if (task.status.err !== '') {
    return oneLineError(task.status.err);
  }
  if (isTerminal(task.desiredState) || isTerminal(task.status.state)) {
    return undefined;
  }
  const state = taskStateText(task.status.state).padEnd(LONGEST_STATE);
  return bars ? `${state} ${bar(task.status.state)}` : state;
}

/**
 * docker's choice of the one task a slot (or node) shows when it has several (a restart, a
 * replacement): the lowest desired state, then the lowest observed state.
 */
function pickPerKey(
  tasks: readonly TaskRecord[],
  keyOf: (record: TaskRecord) => string,
  accept: (record: TaskRecord) => boolean,
): Map<string, TaskRecord> {
  const picked = new Map<string, TaskRecord>();
  for (const record of tasks) {
    const { task } = record;
    if (stateNumber(task.desiredState) === 0 || stateNumber(task.status.state) === 0) {
      continue;
    }
    const key = keyOf(record);
    const existing = picked.get(key)?.task;
    if (existing !== undefined) {
      const existingDesired = stateNumber(existing.desiredState);
      const desired = stateNumber(task.desiredState);
      if (existingDesired < desired) {
        continue;
      }
      if (existingDesired === desired && stateNumber(existing.status.state) <= stateNumber(task.status.state)) {
        continue;
      }
    }
    if (!accept(record)) {
      continue;
    }
    picked.set(key, record);
  }
  return picked;
}

/** What one poll found. */
interface PollResult {
  readonly converged: boolean;
  /** The task each slot (or node) shows. */
  readonly slots: ReadonlyMap<string, TaskRecord>;
  readonly running: number;
  readonly total: number;
}

/** docker's updater for one service mode: writes the lines, says whether the service converged. */
interface ProgressUpdater {
  update(service: ServiceRecord['service'], tasks: readonly TaskRecord[], activeNodes: ReadonlySet<string>): PollResult;
}

function writeOverall(display: ProgressDisplay, running: number, total: number): void {
  display.set('overall progress', `${running} out of ${total} tasks`);
}

/** docker's replicatedProgressUpdater: one line per slot, slots mapped onto 1..replicas. */
class ReplicatedProgress implements ProgressUpdater {
  /** Slot number -> line number, in the order slots are first seen, so lines stay in place. */
  private readonly slotLines = new Map<number, number>();
  private initialized = false;
  private done = false;

  constructor(
    private readonly display: ProgressDisplay,
    private readonly bars: boolean,
  ) {}

  update(
    service: ServiceRecord['service'],
    tasks: readonly TaskRecord[],
    activeNodes: ReadonlySet<string>,
  ): PollResult {
    const replicas = service.spec.replicas;
    if (!this.initialized) {
      writeOverall(this.display, 0, replicas);
      if (replicas <= MAX_PROGRESS_BARS) {
        for (let i = 1; i <= replicas; i++) {
          this.display.set(`${i}/${replicas}`, '');
        }
      }
      this.initialized = true;
    }
    const slots = pickPerKey(
      tasks,
      (r) => String(r.task.slot),
      // A task on a node that is down does not count (its replacement will).
      (r) => r.task.nodeId === '' || activeNodes.has(r.task.nodeId),
    );
    const ordered = [...slots.values()].sort((a, b) => a.task.slot - b.task.slot);
    if (this.done && ordered.some((r) => r.task.status.state !== TaskState.TASK_STATE_RUNNING)) {
      this.done = false;
    }
    let running = 0;
    for (const record of ordered) {
      let line = this.slotLines.get(record.task.slot);
      if (line === undefined) {
        line = this.slotLines.size + 1;
        this.slotLines.set(record.task.slot, line);
      }
      if (isRunning(record)) {
        running++;
      }
      if (!this.done && replicas <= MAX_PROGRESS_BARS && line <= replicas) {
        const text = taskProgressText(record, this.bars);
        if (text !== undefined) {
          this.display.set(`${line}/${replicas}`, text);
        }
      }
    }
    if (!this.done) {
      writeOverall(this.display, running, replicas);
      this.done = running === replicas;
    }
    return { converged: running === replicas, slots, running, total: replicas };
  }
}

/** docker's globalProgressUpdater: one line per node (its ID cut to 12 characters). */
class GlobalProgress implements ProgressUpdater {
  private initialized = false;
  private done = false;

  constructor(
    private readonly display: ProgressDisplay,
    private readonly bars: boolean,
  ) {}

  update(
    _service: ServiceRecord['service'],
    tasks: readonly TaskRecord[],
    activeNodes: ReadonlySet<string>,
  ): PollResult {
    const slots = pickPerKey(
      tasks,
      (r) => r.task.nodeId,
      () => true,
    );
    // The orchestrator creates the tasks of every eligible node at once, so the nodes among the
    // current tasks are the nodes the service should run on.
    const nodeCount = slots.size;
    if (!this.initialized) {
      if (nodeCount === 0) {
        this.display.set('overall progress', 'waiting for new tasks');
        return { converged: false, slots, running: 0, total: 0 };
      }
      writeOverall(this.display, 0, nodeCount);
      this.initialized = true;
    }
    const ordered = [...slots.values()].sort((a, b) => (a.task.nodeId < b.task.nodeId ? -1 : 1));
    if (this.done && ordered.some((r) => r.task.status.state !== TaskState.TASK_STATE_RUNNING)) {
      this.done = false;
    }
    let running = 0;
    for (const record of ordered) {
      if (!activeNodes.has(record.task.nodeId)) {
        continue;
      }
      if (isRunning(record)) {
        running++;
      }
      if (!this.done && nodeCount <= MAX_PROGRESS_BARS) {
        const text = taskProgressText(record, this.bars);
        if (text !== undefined) {
          this.display.set(record.task.nodeId.slice(0, SHORT_ID_LENGTH), text);
        }
      }
    }
    if (!this.done) {
      writeOverall(this.display, running, nodeCount);
      this.done = running === nodeCount;
    }
    return { converged: running === nodeCount, slots, running, total: nodeCount };
  }
}

/** A slot whose tasks fail: since when (its first error), and its latest task's name and error. */
interface Trouble {
  readonly since: number;
  name: string;
  err: string;
}

/**
 * Tracks the slots that should run but whose tasks report errors. A slot starts failing at the
 * first error one of its tasks reports and stops when a task of it runs. A slot whose task is
 * being shut down (replaced, or scaled away), or whose replacement has not failed yet, stays as it
 * was, so a task that keeps failing and being replaced is one trouble dating from its first error.
 */
function trackTrouble(troubles: Map<string, Trouble>, slots: ReadonlyMap<string, TaskRecord>, now: number): void {
  for (const key of troubles.keys()) {
    if (!slots.has(key)) {
      troubles.delete(key);
    }
  }
  for (const [key, record] of slots) {
    if (isRunning(record)) {
      troubles.delete(key);
      continue;
    }
    const { task } = record;
    if (task.desiredState !== TaskState.TASK_STATE_RUNNING || task.status.err === '') {
      continue;
    }
    const trouble = troubles.get(key) ?? { since: now, name: '', err: '' };
    trouble.name = taskDisplayName(record);
    trouble.err = task.status.err;
    troubles.set(key, trouble);
  }
}

function troubleList(troubles: readonly Trouble[]): string {
  const named = troubles.slice(0, MAX_NAMED_TASKS).map((t) => `${t.name}: ${t.err}`);
  const more = troubles.length - named.length;
  return named.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

async function activeNodeIds(daemon: DaemonApi): Promise<Set<string>> {
  const nodes = await daemon.listNodes();
  return new Set(nodes.filter((n) => n.node.status !== NodeStatus.NODE_STATUS_DOWN).map((n) => n.node.id));
}

/**
 * Polls the service and its up-to-date tasks (those of its current spec version) until every
 * wanted task runs and keeps running for `verifyMs`, writing docker's progress lines.
 * @returns 'converged', or 'interrupted' when `interrupt` fired first (docker then prints where
 *   to follow the service, and succeeds).
 * @throws VxmeshError when the update is paused, when a task that should run has failed with an
 *   error for `stuckMs`, or after `timeoutMs`; the message names the tasks and their errors.
 */
export async function followConvergence(opts: ConvergenceOptions): Promise<ConvergenceOutcome> {
  const timing = { ...DEFAULT_CONVERGENCE_TIMING, ...opts.timing };
  const { clock, daemon, display, ref } = opts;
  const startedAt = clock.now();
  const troubles = new Map<string, Trouble>();
  let updater: ProgressUpdater | undefined;
  let convergedAt: number | undefined;
  const hint = `see \`vxmesh service ps ${ref}\``;
  // A function, so the check is made afresh after each await (Ctrl-C may come at any time).
  const interruptedNow = (): boolean => opts.interrupt?.aborted === true;
  for (;;) {
    if (interruptedNow()) {
      return interrupted(display, ref, convergedAt !== undefined);
    }
    const view = await lookUpService(daemon, ref);
    const { service } = view;
    if (service.updateStatus?.state === 'paused') {
      throw new VxmeshError('FAILED_PRECONDITION', `service update paused: ${service.updateStatus.message}`);
    }
    const now = clock.now();
    if (convergedAt !== undefined && now - convergedAt >= timing.verifyMs) {
      display.set('verify', 'Service converged');
      return 'converged';
    }
    updater ??=
      service.spec.mode === ServiceMode.SERVICE_MODE_GLOBAL
        ? new GlobalProgress(display, opts.bars)
        : new ReplicatedProgress(display, opts.bars);
    const tasks = (await daemon.listTasks({ service: service.id, node: '' })).filter(
      (t) => t.task.specVersion === service.specVersion,
    );
    const result = updater.update(service, tasks, await activeNodeIds(daemon));
    trackTrouble(troubles, result.slots, now);
    if (result.converged) {
      convergedAt ??= now;
      const wait = timing.verifyMs - (now - convergedAt);
      // docker's words, "1 seconds" included.
      display.set(
        'verify',
        `Waiting ${Math.max(1, Math.ceil(wait / 1000))} seconds to verify that tasks are stable...`,
      );
    } else {
      if (convergedAt !== undefined) {
        display.set('verify', 'Detected task failure');
      }
      convergedAt = undefined;
      const stuck = [...troubles.values()].filter((t) => now - t.since >= timing.stuckMs);
      if (stuck.length > 0) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `service ${ref} is not converging, tasks failing for ${goDurationString(BigInt(timing.stuckMs))}: ` +
            `${troubleList(stuck)} (${hint})`,
        );
      }
      // A rolling update waits its delay between steps, so it may take that much longer.
      const limit = timing.timeoutMs + Number(service.spec.updateDelayMs) * Math.max(result.total, 1);
      if (now - startedAt >= limit) {
        const failing = [...troubles.values()];
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `service ${ref} did not converge within ${goDurationString(BigInt(limit))}: ` +
            `${result.running} out of ${result.total} tasks running` +
            `${failing.length > 0 ? `; task errors: ${troubleList(failing)}` : ''} (${hint})`,
        );
      }
    }
    try {
      await clock.sleep(timing.pollMs, opts.interrupt);
    } catch (err) {
      if (interruptedNow()) {
        return interrupted(display, ref, convergedAt !== undefined);
      }
      throw err;
    }
  }
}

function interrupted(display: ProgressDisplay, ref: string, converged: boolean): ConvergenceOutcome {
  if (!converged) {
    display.message('Operation continuing in background.');
    display.message(`Use \`vxmesh service ps ${ref}\` to check progress.`);
  }
  return 'interrupted';
}
