import { VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import { Endpoint, EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { Task, TaskStatus } from '../../gen/vxmesh/v1/task.js';
import { macForAddress } from '../endpoints/endpoint-service.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { attachGuard } from '../network/network-attachments.js';
import { newObjectId } from '../node-registry.js';
import { parseConstraint } from './constraints.js';
import { ingressEndpointName, planIngressEndpoints } from './ingress-endpoints.js';
import { mapWithLimit } from './map-with-limit.js';
import { MirrorWrite } from './mirror-write.js';
import {
  AddressAllocationError,
  allocateIn,
  ipv4Subnet,
  ownerFences,
  releaseAll,
  releaseHeld,
  withPrefix,
} from './network-addresses.js';
import type { TakenAddress } from './network-addresses.js';
import { NodeLoads } from './node-loads.js';
import { pickNode, unfitReason, unfitText } from './scheduler.js';
import { nodeLost, reconcileService } from './service-reconciler.js';
import type { TaskAction } from './service-reconciler.js';
import { hostPorts } from './service-spec-validation.js';
import { StoreMirror } from './store-mirror.js';
import type { Mirrored } from './store-mirror.js';
import { allocateTaskEndpoints, endpointAddresses, taskNetworkIds } from './task-endpoints.js';
import { isEnded, isPlaced, newTask, slotKeyOf, stateOf } from './task-records.js';
import { UncertainCommitError } from '../store/uncertain-commit.js';

const log = createLogger('manager.services.orchestrator');

/** A full pass runs at least this often, whatever changes. */
export const ORCHESTRATOR_PERIOD_MS = 2000;
/** Changes arriving within this window share one pass. */
export const ORCHESTRATOR_DEBOUNCE_MS = 50;
/** Ended tasks kept per slot, for `service ps` (docker's task history retention limit). */
export const TASK_HISTORY_LIMIT = 5;
/** Writes (each a transaction plus its allocations) in flight at once. */
const DEFAULT_CONCURRENCY = 16;

export interface OrchestratorOptions {
  readonly store: KvStore;
  /** The manager's allocator (shared: it caches and batches per subnet). */
  readonly allocator: AddressAllocator;
  /** Restart and update delays, record times, the periodic pass. */
  readonly clock: Clock;
  /**
   * The compare that fences this manager's writes while it leads; undefined while it does not,
   * and the pass is skipped (see `ManagerPresence.leaderFence`).
   */
  readonly leaderFence: () => Compare | undefined;
  readonly periodMs?: number;
  readonly debounceMs?: number;
  readonly concurrency?: number;
}

interface Guard {
  readonly compares: readonly Compare[];
  readonly ops: readonly TxnOp[];
}

/** What one pass works with. */
interface Pass {
  readonly fence: Compare;
  readonly now: number;
  readonly nodes: Map<string, Node>;
  readonly loads: NodeLoads;
  readonly ingressId: string | undefined;
  /** Network attach guards, read at most once per network per pass. */
  readonly guards: Map<string, Promise<Guard>>;
  /** Tasks an action of this pass already wrote (or tried to). */
  readonly touched: Set<string>;
  /**
   * Networks found exhausted in this pass, with the error: later tasks of the pass fail fast
   * instead of asking the allocator again (which confirms every refusal with a fresh read).
   */
  readonly exhausted: Map<string, string>;
}

function pendingStatus(reason: string, now: number): TaskStatus {
  return {
    state: TaskState.TASK_STATE_PENDING,
    timestamp: BigInt(now),
    message: 'pending',
    err: reason,
    exitCode: 0,
    containerId: '',
  };
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Keeps every service's tasks as its spec says, on the leader only (the docs' "Orchestrator",
 * docs/services.md). Level-triggered: each pass reads the mirrored services, tasks, nodes,
 * endpoints and networks and writes what differs, each write a transaction fenced by leadership
 * and compare-and-swap on what it read, so a lost race is simply retried by the next pass.
 * Passes run one at a time: after changes (debounced), every `periodMs`, and when a restart or
 * update delay is due. A pass:
 * 1. keeps one ingress endpoint per node that is not Down;
 * 2. shuts down the tasks of removed services, and deletes them once they ended;
 * 3. runs {@link reconcileService} per service and applies its actions, placing new tasks with
 *    the scheduler and allocating their endpoints in the transaction that writes them;
 * 4. retries the placement of tasks still pending;
 * 5. frees the endpoints of tasks that stopped (or whose node is lost) and trims history.
 */
export class Orchestrator implements AsyncDisposable {
  readonly #opts: OrchestratorOptions;
  readonly #mirror: StoreMirror;
  readonly #abort = new AbortController();
  /** `<service> <spec version> <slot key>` → restarts made under the restart policy. */
  readonly #restarts = new Map<string, number>();
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #wakeAt: number | undefined;
  #sleepUntil = 0;
  #sleepAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  #started = false;
  /** Last reason logged per `<service> <node>` a global task could not be placed for. */
  readonly #unplacedGlobal = new Map<string, string>();
  /** Last error logged per ingress endpoint node, so an exhausted ingress is not logged every pass. */
  readonly #ingressErrors = new Map<string, string>();

  constructor(opts: OrchestratorOptions) {
    this.#opts = opts;
    this.#mirror = new StoreMirror(opts.store, () => this.#changed());
  }

  /** Loads the mirror, then runs passes until closed. */
  async start(): Promise<void> {
    if (this.#started) {
      return;
    }
    this.#started = true;
    await this.#mirror.start();
    this.#loop = this.#periodic();
    void this.#kick();
  }

  /** Runs a pass (after the one running, if any) and resolves when it is done. */
  runPass(): Promise<void> {
    return this.#kick(true);
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    clearTimeout(this.#debounce);
    await this.#loop;
    await this.#running;
    await this.#mirror.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #changed(): void {
    if (this.#abort.signal.aborted || this.#debounce || !this.#started) {
      return;
    }
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.#kick();
    }, this.#opts.debounceMs ?? ORCHESTRATOR_DEBOUNCE_MS);
    this.#debounce.unref();
  }

  #kick(force = false): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    if (this.#abort.signal.aborted && !force) {
      return Promise.resolve();
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          try {
            await this.#pass();
          } catch (err) {
            log.error({ err }, 'orchestrator pass failed');
          }
        } while (this.#again && !this.#abort.signal.aborted);
      } finally {
        this.#running = undefined;
      }
      this.#rearm();
    })();
    return this.#running;
  }

  /** Wakes the periodic loop early when a pass found something due before its sleep ends. */
  #rearm(): void {
    if (this.#wakeAt !== undefined && this.#wakeAt < this.#sleepUntil) {
      this.#sleepAbort?.abort();
    }
  }

  async #periodic(): Promise<void> {
    const { clock } = this.#opts;
    const period = this.#opts.periodMs ?? ORCHESTRATOR_PERIOD_MS;
    while (!this.#abort.signal.aborted) {
      const now = clock.now();
      const wait = Math.max(1, Math.min(period, (this.#wakeAt ?? Infinity) - now));
      this.#sleepUntil = now + wait;
      // One controller per sleep, aborted by close() or by a pass that found something due
      // sooner (AbortSignal.any over the long-lived close signal would pile up dependants).
      const early = new AbortController();
      this.#sleepAbort = early;
      const onClose = (): void => early.abort();
      this.#abort.signal.addEventListener('abort', onClose, { once: true });
      try {
        await clock.sleep(wait, early.signal);
      } catch {
        // Closed, or a shorter wait is due: the loop condition and the next wait decide.
        continue;
      } finally {
        this.#abort.signal.removeEventListener('abort', onClose);
        this.#sleepUntil = 0;
      }
      await this.#kick();
    }
  }

  async #pass(): Promise<void> {
    const fence = this.#opts.leaderFence();
    if (!fence) {
      return;
    }
    const mirror = this.#mirror;
    const now = this.#opts.clock.now();
    const nodes = new Map<string, Node>([...mirror.nodes.values()].map((m) => [m.value.id, m.value]));
    const tasks = [...mirror.tasks.values()];
    const ingressId = [...mirror.networks.values()].find((n) => n.value.ingress)?.value.id;
    const pass: Pass = {
      fence,
      now,
      nodes,
      loads: new NodeLoads(tasks.map((t) => t.value)),
      ingressId,
      guards: new Map(),
      touched: new Set(),
      exhausted: new Map(),
    };
    this.#wakeAt = undefined;
    const concurrency = this.#opts.concurrency ?? DEFAULT_CONCURRENCY;
    const run = (jobs: (() => Promise<void>)[]): Promise<unknown> =>
      mapWithLimit(jobs, concurrency, (job) =>
        job().catch((err: unknown) => {
          if (!this.#abort.signal.aborted) {
            log.warn({ err }, 'orchestrator write failed; retried next pass');
          }
        }),
      );

    await run(this.#ingressJobs(pass));

    const byService = new Map<string, Mirrored<Task>[]>();
    for (const t of tasks) {
      const list = byService.get(t.value.serviceId);
      if (list) {
        list.push(t);
      } else {
        byService.set(t.value.serviceId, [t]);
      }
    }
    const jobs: (() => Promise<void>)[] = [];
    const liveKeys = new Set<string>();
    for (const held of mirror.services.values()) {
      const service = held.value;
      const own = byService.get(service.id) ?? [];
      const prefix = `${service.id} ${service.specVersion} `;
      const plan = reconcileService({
        service,
        tasks: own.map((t) => t.value),
        nodes,
        now,
        restartsIn: (slot) => this.#restarts.get(prefix + slot) ?? 0,
      });
      for (const key of this.#restarts.keys()) {
        if (key.startsWith(prefix)) {
          liveKeys.add(key);
        }
      }
      if (plan.wakeAt !== undefined) {
        this.#wakeAt = this.#wakeAt === undefined ? plan.wakeAt : Math.min(this.#wakeAt, plan.wakeAt);
      }
      for (const action of plan.actions) {
        jobs.push(() => this.#apply(pass, service, action));
      }
      if (plan.updateCompleted) {
        jobs.push(() => this.#completeUpdate(pass, held));
      }
    }
    for (const key of this.#restarts.keys()) {
      if (!liveKeys.has(key)) {
        this.#restarts.delete(key);
      }
    }
    for (const [serviceId, own] of byService) {
      if (!mirror.services.get(serviceId)) {
        for (const t of own) {
          jobs.push(() => this.#retire(pass, t));
        }
      }
    }
    await run(jobs);

    const pending: (() => Promise<void>)[] = [];
    for (const held of mirror.tasks.values()) {
      const t = held.value;
      const service = mirror.services.get(t.serviceId)?.value;
      if (
        service &&
        !pass.touched.has(t.id) &&
        t.desiredState === TaskState.TASK_STATE_RUNNING &&
        stateOf(t) <= TaskState.TASK_STATE_PENDING
      ) {
        pending.push(() => this.#placeExisting(pass, service, held));
      }
    }
    await run(pending);

    await run(this.#cleanupJobs(pass));
  }

  // --- ingress endpoints -----------------------------------------------------------------------

  #ingressJobs(pass: Pass): (() => Promise<void>)[] {
    const mirror = this.#mirror;
    const endpoints = [...mirror.endpoints.values()].map((m) => m.value);
    const plan = planIngressEndpoints(pass.ingressId, pass.nodes, endpoints);
    const jobs: (() => Promise<void>)[] = [];
    for (const ep of plan.remove) {
      jobs.push(async () => {
        const held = mirror.endpoints.get(ep.id);
        if (held) {
          await this.#deleteEndpoints(pass, [held]);
        }
      });
    }
    for (const nodeId of plan.create) {
      jobs.push(() => this.#createIngressEndpoint(pass, nodeId));
    }
    return jobs;
  }

  async #createIngressEndpoint(pass: Pass, nodeId: string): Promise<void> {
    const network = pass.ingressId ? this.#mirror.networks.get(pass.ingressId)?.value : undefined;
    const subnet = network ? ipv4Subnet(network) : undefined;
    if (!network || !subnet) {
      return;
    }
    let taken: TakenAddress | undefined;
    let uncertain = false;
    try {
      const guard = await this.#guard(pass, network.id);
      taken = await allocateIn(this.#opts.allocator, network, subnet);
      const endpoint = Endpoint.fromPartial({
        id: newObjectId(),
        networkId: network.id,
        nodeId,
        kind: EndpointKind.ENDPOINT_KIND_LOAD_BALANCER,
        ownerId: nodeId,
        ownerName: ingressEndpointName(nodeId),
        ipv4Address: withPrefix(taken.address, subnet),
        macAddress: macForAddress(taken.address),
        createdAt: BigInt(pass.now),
      });
      // The allocation's fence: a sweep that may have reclaimed the address fails this write.
      const write = new MirrorWrite(this.#mirror, pass.fence)
        .guard([...guard.compares, taken.fence], guard.ops)
        .putEndpoint(endpoint, undefined);
      if (await write.commit(this.#opts.store)) {
        this.#ingressErrors.delete(nodeId);
        taken = undefined;
      } else {
        pass.guards.delete(network.id);
      }
    } catch (err) {
      uncertain = err instanceof UncertainCommitError;
      const reason = reasonOf(err);
      if (this.#ingressErrors.get(nodeId) !== reason) {
        this.#ingressErrors.set(nodeId, reason);
        log.warn({ nodeId, err }, 'could not create the ingress endpoint of a node');
      }
    } finally {
      // Unless the write may have committed: then the endpoint may hold it (a leak, never a duplicate).
      if (taken && !uncertain) {
        await releaseAll(this.#opts.allocator, [taken]);
      }
    }
  }

  // --- task actions ----------------------------------------------------------------------------

  async #apply(pass: Pass, service: Service, action: TaskAction): Promise<void> {
    switch (action.type) {
      case 'create': {
        const task = newTask(service, action.nodeId !== '' ? { nodeId: action.nodeId } : { slot: action.slot }, pass.now);
        await this.#write(pass, service, undefined, task, undefined);
        return;
      }
      case 'replace': {
        const old = this.#mirror.tasks.get(action.old.id);
        if (!old) {
          return;
        }
        const where = action.old.slot === 0 ? { nodeId: action.old.nodeId } : { slot: action.old.slot };
        const committed = await this.#write(pass, service, { held: old, orphan: action.orphan }, newTask(service, where, pass.now), undefined);
        if (committed && action.restart) {
          const key = `${service.id} ${service.specVersion} ${slotKeyOf(action.old)}`;
          this.#restarts.set(key, (this.#restarts.get(key) ?? 0) + 1);
        }
        return;
      }
      case 'shutdown':
      case 'finish': {
        const held = this.#mirror.tasks.get(action.task.id);
        if (!held) {
          return;
        }
        const write = new MirrorWrite(this.#mirror, pass.fence);
        this.#stop(pass, write, held, {
          orphan: action.type === 'shutdown' && action.orphan,
          desired: action.type === 'finish' ? TaskState.TASK_STATE_COMPLETE : TaskState.TASK_STATE_SHUTDOWN,
        });
        await write.commit(this.#opts.store);
        return;
      }
    }
  }

  /**
   * One transaction: optionally stops `old`, and writes `task` (new, or `held` when it exists)
   * placed with its endpoints, or PENDING with the reason it could not be placed.
   * Resolves true when it committed.
   */
  async #write(
    pass: Pass,
    service: Service,
    old: { held: Mirrored<Task>; orphan: boolean } | undefined,
    task: Task,
    held: Mirrored<Task> | undefined,
  ): Promise<boolean> {
    pass.touched.add(task.id);
    const write = new MirrorWrite(this.#mirror, pass.fence);
    if (old) {
      pass.touched.add(old.held.value.id);
      this.#stop(pass, write, old.held, { orphan: old.orphan, desired: TaskState.TASK_STATE_SHUTDOWN });
    }
    const placed = await this.#place(pass, service, task, held, write);
    if (!placed) {
      return write.empty ? true : write.commit(this.#opts.store);
    }
    let ok = false;
    let uncertain = false;
    try {
      ok = await write.commit(this.#opts.store);
      return ok;
    } catch (err) {
      uncertain = err instanceof UncertainCommitError;
      throw err;
    } finally {
      if (!ok) {
        placed.undo();
        for (const id of taskNetworkIds(service, pass.ingressId)) {
          pass.guards.delete(id);
        }
        // A write that may have committed keeps its addresses: its endpoints may hold them.
        if (!uncertain) {
          await releaseAll(this.#opts.allocator, placed.taken);
        }
      }
    }
  }

  /**
   * Adds to `write` the task placed on a node (scheduler's pick, or its fixed node for global)
   * with its endpoints, or PENDING with the reason. Returns what to undo if the write fails;
   * undefined when the task stays unplaced (a PENDING write, or none when the reason is unchanged).
   */
  async #place(
    pass: Pass,
    service: Service,
    task: Task,
    held: Mirrored<Task> | undefined,
    write: MirrorWrite,
  ): Promise<{ taken: TakenAddress[]; undo: () => void } | undefined> {
    const spec = service.spec;
    const pending = (reason: string): undefined => {
      const current = held?.value.status;
      if (!held && task.nodeId !== '') {
        // A global task names its node from the start, and a node runs every task naming it
        // that is wanted running: it is written only once placed. Until then the reason is logged.
        const key = `${task.serviceId} ${task.nodeId}`;
        if (this.#unplacedGlobal.get(key) !== reason) {
          this.#unplacedGlobal.set(key, reason);
          log.warn({ service: task.serviceName, nodeId: task.nodeId, reason }, 'global task cannot be placed yet');
        }
      } else if (!(held && current?.state === TaskState.TASK_STATE_PENDING && current.err === reason)) {
        write.putTask({ ...task, status: pendingStatus(reason, pass.now), updatedAt: BigInt(pass.now) }, held);
      }
      return undefined;
    };
    if (!spec) {
      return pending('the service has no spec');
    }
    const constraints = spec.constraints.map(parseConstraint);
    const withHostPorts = hostPorts(spec).length > 0;
    let nodeId = task.nodeId;
    if (nodeId === '') {
      const pick = pickNode({
        nodes: pass.nodes.values(),
        constraints,
        hostPorts: withHostPorts,
        load: (id) => pass.loads.of(service.id, id),
      });
      if ('reason' in pick) {
        return pending(pick.reason);
      }
      nodeId = pick.node.id;
    } else {
      const node = pass.nodes.get(nodeId);
      if (!node) {
        return pending(`node ${nodeId} left the cluster`);
      }
      const unfit = unfitReason(node, constraints, withHostPorts, pass.loads.of(service.id, nodeId));
      if (unfit) {
        return pending(`node ${node.hostname || nodeId} is ${unfitText(unfit)}`);
      }
    }
    pass.loads.placed(service.id, nodeId, withHostPorts, 1);
    const undo = (): void => pass.loads.placed(service.id, nodeId, withHostPorts, -1);
    let allocated: Awaited<ReturnType<typeof allocateTaskEndpoints>>;
    const guards: Guard[] = [];
    try {
      for (const networkId of taskNetworkIds(service, pass.ingressId)) {
        const exhausted = pass.exhausted.get(networkId);
        if (exhausted !== undefined) {
          throw new VxmeshError('EXHAUSTED', exhausted);
        }
        guards.push(await this.#guard(pass, networkId));
      }
      allocated = await allocateTaskEndpoints(
        this.#opts.allocator,
        service,
        task,
        nodeId,
        (id) => this.#mirror.networks.get(id)?.value,
        pass.ingressId,
        pass.now,
      );
    } catch (err) {
      undo();
      if (err instanceof AddressAllocationError && err.code === 'EXHAUSTED') {
        pass.exhausted.set(err.networkId, err.message);
      }
      return pending(reasonOf(err));
    }
    for (const g of guards) {
      write.guard(g.compares, g.ops);
    }
    write.guard(ownerFences(allocated.taken), []);
    write.putTask(
      {
        ...task,
        nodeId,
        networks: allocated.networks,
        status: {
          state: TaskState.TASK_STATE_ASSIGNED,
          timestamp: BigInt(pass.now),
          message: 'assigned',
          err: '',
          exitCode: 0,
          containerId: '',
        },
        updatedAt: BigInt(pass.now),
      },
      held,
    );
    for (const endpoint of allocated.endpoints) {
      write.putEndpoint(endpoint, undefined);
    }
    return { taken: allocated.taken, undo };
  }

  async #placeExisting(pass: Pass, service: Service, held: Mirrored<Task>): Promise<void> {
    await this.#write(pass, service, undefined, held.value, held);
  }

  /**
   * Adds to `write`: the task no longer wanted running (desired SHUTDOWN, or COMPLETE when the
   * restart policy let it finish), its endpoints no longer serving, and a final status when no
   * node will report one (never placed: SHUTDOWN; node lost: ORPHANED).
   */
  #stop(
    pass: Pass,
    write: MirrorWrite,
    held: Mirrored<Task>,
    how: { orphan: boolean; desired: TaskState.TASK_STATE_SHUTDOWN | TaskState.TASK_STATE_COMPLETE },
  ): void {
    const t = held.value;
    pass.touched.add(t.id);
    const now = BigInt(pass.now);
    let status = t.status;
    const ended = isEnded(stateOf(t));
    if (!ended && !isPlaced(t)) {
      status = { ...pendingStatus('', pass.now), state: TaskState.TASK_STATE_SHUTDOWN, message: 'shut down before it was placed' };
    } else if (!ended && how.orphan) {
      const node = pass.nodes.get(t.nodeId);
      status = {
        state: TaskState.TASK_STATE_ORPHANED,
        timestamp: now,
        message: 'node down',
        err: node ? `node ${node.hostname || node.id} is down` : `node ${t.nodeId} left the cluster`,
        exitCode: 0,
        containerId: t.status?.containerId ?? '',
      };
    }
    const wasWanted = t.desiredState === TaskState.TASK_STATE_RUNNING;
    const desired = wasWanted ? how.desired : t.desiredState;
    write.putTask({ ...t, desiredState: desired, status, updatedAt: now }, held);
    if (wasWanted && t.nodeId !== '') {
      pass.loads.released(t.serviceId, t.nodeId);
    }
    for (const n of t.networks) {
      const ep = this.#mirror.endpoints.get(n.endpointId);
      if (ep?.value.serving) {
        write.putEndpoint({ ...ep.value, serving: false }, ep);
      }
    }
  }

  async #completeUpdate(pass: Pass, held: Mirrored<Service>): Promise<void> {
    const service = held.value;
    const status = service.updateStatus;
    if (!status) {
      return;
    }
    const write = new MirrorWrite(this.#mirror, pass.fence).putService(
      {
        ...service,
        updateStatus: { ...status, state: 'completed', completedAt: BigInt(pass.now), message: 'update completed' },
      },
      held,
    );
    if (await write.commit(this.#opts.store)) {
      log.info({ serviceId: service.id, name: service.spec?.name }, 'rolling update completed');
    }
  }

  /** A task of a removed service: stopped while it may run, deleted (with its endpoints) once it cannot. */
  async #retire(pass: Pass, held: Mirrored<Task>): Promise<void> {
    const t = held.value;
    if (isEnded(stateOf(t)) || !isPlaced(t) || nodeLost(t, pass.nodes)) {
      await this.#deleteTask(pass, held);
      return;
    }
    if (t.desiredState === TaskState.TASK_STATE_RUNNING) {
      const write = new MirrorWrite(this.#mirror, pass.fence);
      this.#stop(pass, write, held, { orphan: false, desired: TaskState.TASK_STATE_SHUTDOWN });
      await write.commit(this.#opts.store);
    }
  }

  // --- cleanup ---------------------------------------------------------------------------------

  #cleanupJobs(pass: Pass): (() => Promise<void>)[] {
    const mirror = this.#mirror;
    const jobs: (() => Promise<void>)[] = [];
    // Endpoints of tasks that are gone, or stopped for good (ended, or their node is lost).
    const free = new Map<string, Mirrored<Endpoint>[]>();
    for (const held of mirror.endpoints.values()) {
      const ep = held.value;
      if (ep.kind !== EndpointKind.ENDPOINT_KIND_TASK) {
        continue;
      }
      const task = mirror.tasks.get(ep.ownerId)?.value;
      const done =
        !task ||
        (task.desiredState !== TaskState.TASK_STATE_RUNNING && (isEnded(stateOf(task)) || nodeLost(task, pass.nodes)));
      if (done) {
        const list = free.get(ep.ownerId);
        if (list) {
          list.push(held);
        } else {
          free.set(ep.ownerId, [held]);
        }
      }
    }
    for (const list of free.values()) {
      jobs.push(() => this.#deleteEndpoints(pass, list));
    }
    // History: at most TASK_HISTORY_LIMIT ended tasks per slot of a live service.
    const slots = new Map<string, Mirrored<Task>[]>();
    for (const held of mirror.tasks.values()) {
      const t = held.value;
      if (!mirror.services.get(t.serviceId) || t.desiredState === TaskState.TASK_STATE_RUNNING) {
        continue;
      }
      if (!isEnded(stateOf(t)) && !nodeLost(t, pass.nodes)) {
        continue;
      }
      const key = `${t.serviceId} ${slotKeyOf(t)}`;
      const list = slots.get(key);
      if (list) {
        list.push(held);
      } else {
        slots.set(key, [held]);
      }
    }
    for (const list of slots.values()) {
      if (list.length <= TASK_HISTORY_LIMIT) {
        continue;
      }
      list.sort((a, b) => (a.value.createdAt > b.value.createdAt ? -1 : a.value.createdAt < b.value.createdAt ? 1 : 0));
      for (const old of list.slice(TASK_HISTORY_LIMIT)) {
        jobs.push(() => this.#deleteTask(pass, old));
      }
    }
    return jobs;
  }

  async #deleteEndpoints(pass: Pass, held: readonly Mirrored<Endpoint>[]): Promise<void> {
    const write = new MirrorWrite(this.#mirror, pass.fence);
    for (const h of held) {
      write.deleteEndpoint(h);
    }
    if (await write.commit(this.#opts.store)) {
      await this.#release(held, write.committedAt);
    }
  }

  async #deleteTask(pass: Pass, held: Mirrored<Task>): Promise<void> {
    pass.touched.add(held.value.id);
    // Endpoints not listed by the task (none are written apart from it) are freed as orphans.
    const endpoints = held.value.networks
      .map((n) => this.#mirror.endpoints.get(n.endpointId))
      .filter((e): e is Mirrored<Endpoint> => e !== undefined);
    const write = new MirrorWrite(this.#mirror, pass.fence).deleteTask(held);
    for (const e of endpoints) {
      write.deleteEndpoint(e);
    }
    if (await write.commit(this.#opts.store)) {
      await this.#release(endpoints, write.committedAt);
    }
  }

  /**
   * Gives back the addresses of endpoints deleted at `deletedAt` (a removed network took its
   * own), fenced by that revision. Undefined only when nothing was written: nothing to give back.
   */
  async #release(held: readonly Mirrored<Endpoint>[], deletedAt: bigint | undefined): Promise<void> {
    if (deletedAt === undefined) {
      return;
    }
    const addresses = held.flatMap((h) => endpointAddresses(h.value, this.#mirror.networks.get(h.value.networkId)?.value));
    await releaseHeld(this.#opts.allocator, addresses, deletedAt);
  }

  /** The attach guard of a network, read once per pass (dropped after a failed write). */
  #guard(pass: Pass, networkId: string): Promise<Guard> {
    let guard = pass.guards.get(networkId);
    if (!guard) {
      guard = attachGuard(this.#opts.store, networkId, this.#opts.clock).then((g) => ({ compares: g.compares, ops: g.ops }));
      guard.catch(() => pass.guards.delete(networkId));
      pass.guards.set(networkId, guard);
    }
    return guard.catch((err: unknown) => {
      throw err instanceof VxmeshError && err.code === 'NOT_FOUND'
        ? new VxmeshError('NOT_FOUND', `network ${this.#mirror.networks.get(networkId)?.value.name ?? networkId} not found`)
        : err;
    });
  }
}
