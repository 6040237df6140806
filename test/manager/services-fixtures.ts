import { systemClock } from '../../src/common/clock.js';
import type { Clock } from '../../src/common/clock.js';
import type { Compare, KvStore } from '../../src/kvstore/index.js';
import { Endpoint } from '../../src/gen/vxmesh/v1/endpoint.js';
import type { Network } from '../../src/gen/vxmesh/v1/network.js';
import { Node, NodeAvailability, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import { EndpointMode, PublishMode, RestartCondition, ServiceMode, ServiceSpec } from '../../src/gen/vxmesh/v1/service.js';
import type { Service } from '../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import { loadNetworkUsage } from '../../src/manager/ipam/address-usage.js';
import { rangeAll } from '../../src/manager/ipam/range-all.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { newObjectId, NodeRegistry } from '../../src/manager/node-registry.js';
import { Orchestrator } from '../../src/manager/services/orchestrator.js';
import { ServiceService } from '../../src/manager/services/service-service.js';
import { TaskStatusRecorder } from '../../src/manager/services/task-status.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { createRequest, openTestStore, seedCluster } from './network-fixtures.js';
import type { StoreKind, TestStore } from './network-fixtures.js';

export { createRequest };

/** A fence that always holds (an absent key has version 0): the test's orchestrator always leads. */
export const ALWAYS_LEADER: Compare = { key: 'v1/test-no-such-key', target: 'version', op: '==', value: 0n };

/** A service spec with docker's CLI defaults; override what the test is about. */
export function serviceSpec(name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec {
  return ServiceSpec.fromPartial({
    name,
    mode: ServiceMode.SERVICE_MODE_REPLICATED,
    replicas: 1,
    endpointMode: EndpointMode.ENDPOINT_MODE_VIP,
    restartCondition: RestartCondition.RESTART_CONDITION_ANY,
    command: ['sleep', 'infinity'],
    ...extra,
  });
}

/** A published port as `--publish published=P,target=T[,mode=host][,protocol=udp]` gives it. */
export function port(published: number, target: number, mode: 'ingress' | 'host' = 'ingress', protocol = 'tcp') {
  return {
    protocol,
    targetPort: target,
    publishedPort: published,
    publishMode: mode === 'host' ? PublishMode.PUBLISH_MODE_HOST : PublishMode.PUBLISH_MODE_INGRESS,
  };
}

export interface HarnessOptions {
  readonly kind?: StoreKind;
  readonly clock?: Clock;
  /** Start an orchestrator (default true). */
  readonly orchestrate?: boolean;
  /** Default address pools of the seeded cluster (ingress comes from them). */
  readonly pools?: string[];
}

/**
 * A manager's service machinery over a real store, without gRPC: networks, nodes (written
 * through NodeRegistry), the service API, the task status recorder, and an orchestrator that
 * always leads. Workers are simulated by {@link ServicesHarness.work}.
 */
export class ServicesHarness implements AsyncDisposable {
  readonly store: KvStore;
  readonly clock: Clock;
  readonly allocator: AddressAllocator;
  readonly registry: NodeRegistry;
  readonly networks: NetworkService;
  readonly services: ServiceService;
  readonly status: TaskStatusRecorder;
  readonly orchestrator: Orchestrator | undefined;
  readonly #t: TestStore;

  private constructor(t: TestStore, clock: Clock, registry: NodeRegistry, orchestrate: boolean) {
    this.#t = t;
    this.store = t.store;
    this.clock = clock;
    this.registry = registry;
    this.allocator = new AddressAllocator(t.store, { clock });
    this.networks = new NetworkService(t.store, clock);
    this.services = new ServiceService(t.store, this.allocator, clock, registry);
    this.status = new TaskStatusRecorder(t.store, clock);
    this.orchestrator = orchestrate
      ? new Orchestrator({ store: t.store, allocator: this.allocator, clock, leaderFence: () => ALWAYS_LEADER })
      : undefined;
  }

  static async open(opts: HarnessOptions = {}): Promise<ServicesHarness> {
    const t = await openTestStore(opts.kind ?? 'embedded');
    await seedCluster(t.store, { defaultAddrPools: opts.pools ?? ['10.0.0.0/8'] });
    const clock = opts.clock ?? systemClock;
    const registry = new NodeRegistry(t.store, clock);
    await registry.start();
    const h = new ServicesHarness(t, clock, registry, opts.orchestrate ?? true);
    await h.orchestrator?.start();
    return h;
  }

  /** Registers a node (Ready, Active, worker unless told otherwise). */
  async addNode(hostname: string, extra: Partial<Node> = {}): Promise<Node> {
    const stored = await this.registry.create(
      Node.fromPartial({
        id: newObjectId(),
        hostname,
        role: NodeRole.NODE_ROLE_WORKER,
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
        status: NodeStatus.NODE_STATUS_READY,
        advertiseAddr: `192.0.2.${Math.floor(Math.random() * 200) + 1}:2377`,
        ...extra,
      }),
    );
    return stored.node;
  }

  async updateNode(id: string, change: Partial<Node>): Promise<void> {
    await this.registry.update(id, (n) => ({ ...n, ...change }));
  }

  async createNetwork(name: string, subnet?: string): Promise<Network> {
    return (await this.networks.create(createRequest(name, subnet ? { subnets: [subnet] } : {}))).network;
  }

  async tasks(service?: Service | string): Promise<Task[]> {
    const id = typeof service === 'string' ? service : service?.id;
    const { kvs } = await rangeAll(this.store, storeKeys.tasksPrefix);
    return kvs.map((kv) => Task.decode(kv.value)).filter((t) => id === undefined || t.serviceId === id);
  }

  /** Tasks the orchestrator wants running. */
  async running(service?: Service | string): Promise<Task[]> {
    return (await this.tasks(service)).filter((t) => t.desiredState === TaskState.TASK_STATE_RUNNING);
  }

  async endpoints(): Promise<Endpoint[]> {
    const { kvs } = await rangeAll(this.store, storeKeys.endpointsPrefix);
    return kvs.map((kv) => Endpoint.decode(kv.value));
  }

  async service(ref: string): Promise<Service> {
    const view = await this.services.get(ref);
    if (!view.service) {
      throw new Error(`no service ${ref}`);
    }
    return view.service;
  }

  /** Addresses in use on a network (gateway included), summed over its subnets. */
  async inUse(network: Network): Promise<bigint> {
    return (await loadNetworkUsage(this.store, network)).reduce((sum, u) => sum + u.inUse, 0n);
  }

  /**
   * One round of simulated workers: a placed task wanted running reports RUNNING; a task told to
   * stop that has not ended reports SHUTDOWN. `fail` picks tasks that report FAILED instead of
   * RUNNING. Skips nodes in `dead`.
   */
  async work(opts: { fail?: (t: Task) => boolean; dead?: ReadonlySet<string> } = {}): Promise<void> {
    const byNode = new Map<string, { taskId: string; state: TaskState }[]>();
    for (const t of await this.tasks()) {
      const state = t.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
      if (t.nodeId === '' || state < TaskState.TASK_STATE_ASSIGNED || state > TaskState.TASK_STATE_RUNNING) {
        continue;
      }
      if (opts.dead?.has(t.nodeId)) {
        continue;
      }
      let next: TaskState | undefined;
      if (t.desiredState !== TaskState.TASK_STATE_RUNNING) {
        next = TaskState.TASK_STATE_SHUTDOWN;
      } else if (state < TaskState.TASK_STATE_RUNNING) {
        next = opts.fail?.(t) ? TaskState.TASK_STATE_FAILED : TaskState.TASK_STATE_RUNNING;
      }
      if (next !== undefined) {
        const list = byNode.get(t.nodeId) ?? [];
        list.push({ taskId: t.id, state: next });
        byNode.set(t.nodeId, list);
      }
    }
    for (const [nodeId, updates] of byNode) {
      await this.status.report(
        nodeId,
        updates.map((u) => ({
          taskId: u.taskId,
          status: {
            state: u.state,
            timestamp: 0n,
            message: u.state === TaskState.TASK_STATE_RUNNING ? 'started' : 'finished',
            err: u.state === TaskState.TASK_STATE_FAILED ? 'exit code 1' : '',
            exitCode: u.state === TaskState.TASK_STATE_FAILED ? 1 : 0,
            containerId: `c-${u.taskId}`,
          },
        })),
      );
    }
  }

  /** Polls `check` (simulating workers first when `work` is set) until it holds. */
  async until(
    check: () => boolean | Promise<boolean>,
    what: string,
    opts: { work?: boolean | Parameters<ServicesHarness['work']>[0]; timeoutMs?: number } = {},
  ): Promise<void> {
    await waitUntil(
      async () => {
        if (opts.work) {
          await this.work(opts.work === true ? {} : opts.work);
        }
        return check();
      },
      opts.timeoutMs ?? 10_000,
      what,
    );
  }

  async close(): Promise<void> {
    await this.orchestrator?.close();
    await this.registry.close();
    await this.#t.dispose();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Count of items per key. */
export function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of items) {
    out.set(key(item), (out.get(key(item)) ?? 0) + 1);
  }
  return out;
}
