import type { DaemonApi, NetworkRecord, NodeRecord, ServiceRecord, TaskRecord } from '../../../src/cli/daemon-api.js';
import type { Output } from '../../../src/cli/output.js';
import type { Clock } from '../../../src/common/clock.js';
import { NotFoundError, VxmeshError } from '../../../src/common/errors.js';
import { ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import type { Container, ContainerNetwork } from '../../../src/gen/vxmesh/v1/container.js';
import type {
  ContainerNetworkRequest,
  CreateNetworkRequest,
  InfoResponse,
  JoinTokens,
  ListTasksRequest,
  PruneNetworksRequest,
  RunContainerRequest,
  ServiceTaskLog,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
  UpdateNodeRequest,
} from '../../../src/gen/vxmesh/v1/control.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../../../src/gen/vxmesh/v1/node.js';
import { EndpointMode, Service, ServiceMode, ServiceSpec } from '../../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState, TaskStatus } from '../../../src/gen/vxmesh/v1/task.js';

/** When the fake's services and tasks are created unless a test moves `nowMs`: 2026-08-01T16:00:00Z. */
export const FAKE_SERVICE_TIME_MS = 1_785_600_000_000;

/** A 25-character ID made from `seed`, shaped like the managers' (base 36). */
export function fakeId(seed: string): string {
  const base = [...seed.toLowerCase()].map((c) => (/[a-z0-9]/.test(c) ? c : '0')).join('');
  return `${base}${'0'.repeat(25)}`.slice(0, 25);
}

/**
 * A clock for the CLI's polling loops whose `sleep` returns at once, having moved time forward
 * and called `onSleep`, so a test can change the daemon's state between two polls. Like a real
 * sleep it rejects when its signal is aborted.
 */
export class SteppingClock implements Clock {
  /** Sleeps taken so far. */
  sleeps = 0;

  constructor(
    public nowMs = FAKE_SERVICE_TIME_MS,
    private readonly onSleep?: (sleeps: number, nowMs: number) => void,
  ) {}

  now(): number {
    return this.nowMs;
  }

  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    this.nowMs += ms;
    this.sleeps += 1;
    this.onSleep?.(this.sleeps, this.nowMs);
    await Promise.resolve();
    signal?.throwIfAborted();
  }
}

/** Runs `fn` as a daemon call would: a throw becomes a rejection. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Output kept in memory. */
export class MemoryOutput implements Output {
  stdout = '';
  stderr = '';
  out(text: string): void {
    this.stdout += text;
  }
  err(text: string): void {
    this.stderr += text;
  }
}

/**
 * An in-memory manager: nodes resolve by ID, unique prefix or hostname, networks by ID, unique
 * prefix or name, containers by ID, name or unique prefix, like the daemon's registries, and every
 * call is recorded by name.
 */
export class FakeDaemonApi implements DaemonApi {
  readonly calls: string[] = [];
  readonly nodes: Map<string, NodeRecord>;
  readonly networks: Map<string, NetworkRecord>;
  /** Requests of createNetwork and pruneNetworks, as the CLI sent them. */
  readonly createRequests: CreateNetworkRequest[] = [];
  readonly pruneRequests: PruneNetworksRequest[] = [];
  /** This node's containers, newest first, as the daemon lists them. */
  containers: Container[];
  /** Requests of runContainer and connectNetwork, as the CLI sent them. */
  readonly runRequests: RunContainerRequest[] = [];
  readonly connectRequests: { readonly container: string; readonly network: ContainerNetworkRequest }[] = [];
  tokens: JoinTokens = { worker: 'SWMTKN-1-w', manager: 'SWMTKN-1-m' };
  /** Services by ID, as the managers store them. */
  readonly services = new Map<string, ServiceRecord>();
  /** Every task, newest first, as ListTasks orders them. */
  tasks: TaskRecord[] = [];
  /** Requests of createService and updateService, as the CLI sent them. */
  readonly createServiceRequests: ServiceSpec[] = [];
  readonly updateServiceRequests: { readonly ref: string; readonly spec: ServiceSpec; readonly version: bigint }[] = [];
  /**
   * When true (the default), every service write gives each wanted slot (or, in global mode,
   * each ready and active node) a running task of the current spec at once, as if the cluster
   * converged instantly; tests of progress set it false and write `tasks` themselves.
   */
  autoConverge = true;
  /** The managers' clock, for record and task times. */
  nowMs = FAKE_SERVICE_TIME_MS;
  /** Store revision: every service write takes the next one, as etcd's would. */
  private revision = 100n;
  private taskCounter = 0;
  infoResponse: InfoResponse;
  closed = false;

  constructor(
    nodes: readonly NodeRecord[],
    selfId: string,
    networks: readonly NetworkRecord[] = [],
    containers: readonly Container[] = [],
  ) {
    this.nodes = new Map(nodes.map((n) => [n.node.id, n]));
    this.networks = new Map(networks.map((n) => [n.network.id, n]));
    this.containers = [...containers];
    this.infoResponse = {
      localNodeState: 'active',
      nodeId: selfId,
      clusterId: 'c1',
      role: NodeRole.NODE_ROLE_MANAGER,
      managerAddrs: ['10.0.0.10:2377'],
      sessionState: 'connected',
      lastError: '',
      certNotAfter: '',
      agent: undefined,
    };
  }

  private resolve(ref: string): NodeRecord {
    const all = [...this.nodes.values()];
    const exact = this.nodes.get(ref);
    const matches = exact ? [exact] : all.filter((n) => n.node.id.startsWith(ref) || n.node.hostname === ref);
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('node', ref);
    }
    return matches[0];
  }

  swarmInit(_request: SwarmInitRequest): Promise<SwarmInitResponse> {
    this.calls.push('swarmInit');
    return Promise.resolve({ nodeId: 'n1', workerJoinCommand: 'w', managerJoinCommand: 'm' });
  }

  swarmJoin(_request: SwarmJoinRequest): Promise<SwarmJoinResponse> {
    this.calls.push('swarmJoin');
    return Promise.resolve({ nodeId: 'n2', role: NodeRole.NODE_ROLE_MANAGER });
  }

  swarmLeave(force: boolean): Promise<void> {
    this.calls.push(`swarmLeave force=${force}`);
    return Promise.resolve();
  }

  info(): Promise<InfoResponse> {
    this.calls.push('info');
    return Promise.resolve(this.infoResponse);
  }

  listNodes(): Promise<NodeRecord[]> {
    this.calls.push('listNodes');
    return Promise.resolve([...this.nodes.values()]);
  }

  getNode(ref: string): Promise<NodeRecord> {
    this.calls.push(`getNode ${ref}`);
    return settle(() => this.resolve(ref));
  }

  updateNode(request: UpdateNodeRequest): Promise<NodeRecord> {
    this.calls.push(`updateNode ${request.ref} role=${request.role} availability=${request.availability}`);
    return settle(() => this.update(request));
  }

  private update(request: UpdateNodeRequest): NodeRecord {
    const current = this.resolve(request.ref);
    const node = {
      ...current.node,
      role: request.role === NodeRole.NODE_ROLE_UNSPECIFIED ? current.node.role : request.role,
      availability:
        request.availability === NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED
          ? current.node.availability
          : request.availability,
    };
    const updated = { ...current, node };
    this.nodes.set(node.id, updated);
    return updated;
  }

  removeNode(ref: string, force: boolean): Promise<void> {
    this.calls.push(`removeNode ${ref} force=${force}`);
    return settle(() => {
      const target = this.resolve(ref);
      if (target.node.role === NodeRole.NODE_ROLE_MANAGER) {
        throw new VxmeshError('FAILED_PRECONDITION', `node ${target.node.id} is a cluster manager`);
      }
      this.nodes.delete(target.node.id);
    });
  }

  getJoinTokens(): Promise<JoinTokens> {
    this.calls.push('getJoinTokens');
    return Promise.resolve(this.tokens);
  }

  rotateJoinToken(role: NodeRole): Promise<JoinTokens> {
    this.calls.push(`rotateJoinToken ${role}`);
    return Promise.resolve(this.tokens);
  }

  private resolveNetwork(ref: string): NetworkRecord {
    const all = [...this.networks.values()];
    const exact = this.networks.get(ref) ?? all.find((n) => n.network.name === ref);
    const matches = exact ? [exact] : all.filter((n) => n.network.id.startsWith(ref));
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('network', ref);
    }
    return matches[0];
  }

  createNetwork(request: CreateNetworkRequest): Promise<Network> {
    this.calls.push(`createNetwork ${request.name}`);
    this.createRequests.push(request);
    return settle(() => {
      if ([...this.networks.values()].some((n) => n.network.name === request.name)) {
        throw new VxmeshError('ALREADY_EXISTS', `network with name ${request.name} already exists`);
      }
      const id = `${request.name}${'0'.repeat(25)}`.slice(0, 25);
      const network = Network.create({ id, name: request.name, driver: request.driver, labels: request.labels });
      this.networks.set(id, { network, version: 1n, usage: [], endpoints: [], peers: [] });
      return network;
    });
  }

  listNetworks(): Promise<NetworkRecord[]> {
    this.calls.push('listNetworks');
    return Promise.resolve([...this.networks.values()]);
  }

  getNetwork(ref: string): Promise<NetworkRecord> {
    this.calls.push(`getNetwork ${ref}`);
    return settle(() => this.resolveNetwork(ref));
  }

  removeNetwork(ref: string): Promise<{ readonly wasIngress: boolean }> {
    this.calls.push(`removeNetwork ${ref}`);
    return settle(() => {
      const { network } = this.resolveNetwork(ref);
      this.networks.delete(network.id);
      return { wasIngress: network.ingress };
    });
  }

  /** Removes every network but ingress; filters are only recorded. */
  pruneNetworks(request: PruneNetworksRequest): Promise<string[]> {
    this.calls.push('pruneNetworks');
    this.pruneRequests.push(request);
    const pruned = [...this.networks.values()].filter((n) => !n.network.ingress).map((n) => n.network);
    for (const network of pruned) {
      this.networks.delete(network.id);
    }
    return Promise.resolve(pruned.map((n) => n.name));
  }

  private resolveContainer(ref: string): Container {
    const exact = this.containers.find((c) => c.id === ref || c.name === ref);
    const matches = exact ? [exact] : this.containers.filter((c) => ref !== '' && c.id.startsWith(ref));
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('container', ref);
    }
    return matches[0];
  }

  private replaceContainer(next: Container): Container {
    this.containers = this.containers.map((c) => (c.id === next.id ? next : c));
    return next;
  }

  private attachment(request: ContainerNetworkRequest, index: number): ContainerNetwork {
    const { network } = this.resolveNetwork(request.network);
    return {
      networkId: network.id,
      networkName: network.name,
      endpointId: `ep${network.id}`.slice(0, 25),
      requestedIpv4: request.ipv4Address,
      requestedIpv6: request.ipv6Address,
      aliases: [...request.aliases],
      links: [...request.links],
      ipv4Address: `${request.ipv4Address || '10.0.9.2'}/24`,
      ipv6Address: request.ipv6Address === '' ? '' : `${request.ipv6Address}/64`,
      macAddress: '02:42:0a:00:09:02',
      gateway: network.subnets[0]?.gateway ?? '',
      ifName: `eth${index}`,
    };
  }

  runContainer(request: RunContainerRequest): Promise<Container> {
    this.calls.push(`runContainer ${request.name}`);
    this.runRequests.push(request);
    return settle(() => {
      if (this.containers.some((c) => c.name === request.name)) {
        throw new VxmeshError('ALREADY_EXISTS', `the container name "${request.name}" is already in use on this node`);
      }
      const id = Buffer.from(request.name).toString('hex').padEnd(64, '0').slice(0, 64);
      const container: Container = {
        id,
        name: request.name,
        hostname: request.hostname || id.slice(0, 12),
        command: [...request.command],
        state: request.createOnly ? ContainerState.CONTAINER_STATE_CREATED : ContainerState.CONTAINER_STATE_RUNNING,
        pid: request.createOnly ? 0 : 4000 + this.containers.length,
        exitCode: 0,
        createdAt: 1_785_600_000_000n,
        startedAt: request.createOnly ? 0n : 1_785_600_000_100n,
        finishedAt: 0n,
        autoRemove: request.autoRemove,
        namespace: `vxm-c-${id.slice(0, 12)}`,
        networks: request.networks.map((n, i) => this.attachment(n, i)),
        dns: [...request.dns],
        error: '',
        egressAddress: '',
        dnsSearch: [...request.dnsSearch],
        dnsOptions: [...request.dnsOptions],
        taskId: '',
        serviceId: '',
      };
      this.containers = [container, ...this.containers];
      return container;
    });
  }

  listContainers(all: boolean): Promise<Container[]> {
    this.calls.push(`listContainers all=${all}`);
    return Promise.resolve(this.containers.filter((c) => all || c.state === ContainerState.CONTAINER_STATE_RUNNING));
  }

  inspectContainer(ref: string): Promise<Container> {
    this.calls.push(`inspectContainer ${ref}`);
    return settle(() => this.resolveContainer(ref));
  }

  startContainer(ref: string): Promise<Container> {
    this.calls.push(`startContainer ${ref}`);
    return settle(() => {
      const c = this.resolveContainer(ref);
      return this.replaceContainer({ ...c, state: ContainerState.CONTAINER_STATE_RUNNING });
    });
  }

  stopContainer(ref: string, timeoutSeconds: number): Promise<Container> {
    this.calls.push(`stopContainer ${ref} timeout=${timeoutSeconds}`);
    return settle(() => {
      const c = this.resolveContainer(ref);
      return this.replaceContainer({ ...c, state: ContainerState.CONTAINER_STATE_EXITED, pid: 0 });
    });
  }

  removeContainer(ref: string, force: boolean): Promise<{ container: Container; warnings: string[] }> {
    this.calls.push(`removeContainer ${ref} force=${force}`);
    return settle(() => {
      const c = this.resolveContainer(ref);
      if (c.state === ContainerState.CONTAINER_STATE_RUNNING && !force) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `cannot remove container "${c.name}": container is running: stop the container before removing or force remove`,
        );
      }
      this.containers = this.containers.filter((x) => x.id !== c.id);
      return { container: c, warnings: [] };
    });
  }

  connectNetwork(container: string, network: ContainerNetworkRequest): Promise<Container> {
    this.calls.push(`connectNetwork ${container} ${network.network}`);
    this.connectRequests.push({ container, network });
    return settle(() => {
      const c = this.resolveContainer(container);
      if (c.state === ContainerState.CONTAINER_STATE_EXITED) {
        throw new VxmeshError('FAILED_PRECONDITION', `container ${c.name} is not running`);
      }
      return this.replaceContainer({ ...c, networks: [...c.networks, this.attachment(network, c.networks.length)] });
    });
  }

  disconnectNetwork(container: string, network: string, force: boolean): Promise<void> {
    this.calls.push(`disconnectNetwork ${container} ${network} force=${force}`);
    return settle(() => {
      const c = this.resolveContainer(container);
      const target = c.networks.find((n) => n.networkId === network || n.networkName === network);
      if (target === undefined) {
        throw new VxmeshError('NOT_FOUND', `container ${c.name} is not connected to network ${network}`);
      }
      this.replaceContainer({ ...c, networks: c.networks.filter((n) => n !== target) });
    });
  }

  private resolveService(ref: string): ServiceRecord {
    const all = [...this.services.values()];
    const exact = this.services.get(ref) ?? all.find((s) => s.service.spec.name === ref);
    const matches = exact ? [exact] : all.filter((s) => ref !== '' && s.service.id.startsWith(ref));
    if (matches.length !== 1 || matches[0] === undefined) {
      throw new NotFoundError('service', ref);
    }
    return matches[0];
  }

  /** The spec as the managers store it: networks by ID, VIPs allocated per network (vip mode). */
  private storedSpec(spec: ServiceSpec): ServiceSpec {
    return ServiceSpec.create({
      ...spec,
      networks: spec.networks.map((n) => ({ ...n, network: this.resolveNetwork(n.network).network.id })),
    });
  }

  private virtualIps(spec: ServiceSpec): { networkId: string; addr: string }[] {
    if (spec.endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR) {
      return [];
    }
    return spec.networks.map((n, i) => ({ networkId: n.network, addr: `10.0.${i + 1}.2/24` }));
  }

  /** The running and desired task counts the managers would report with the record. */
  private withCounts(record: ServiceRecord): ServiceRecord {
    const { service } = record;
    const own = this.tasks.filter((t) => t.task.serviceId === service.id);
    const wanted = own.filter((t) => t.task.desiredState === TaskState.TASK_STATE_RUNNING);
    return {
      ...record,
      runningTasks: wanted.filter((t) => t.task.status.state === TaskState.TASK_STATE_RUNNING).length,
      desiredTasks:
        service.spec.mode === ServiceMode.SERVICE_MODE_GLOBAL ? this.eligibleNodes().length : service.spec.replicas,
    };
  }

  private eligibleNodes(): NodeRecord[] {
    return [...this.nodes.values()].filter(
      (n) =>
        n.node.status === NodeStatus.NODE_STATUS_READY &&
        n.node.availability === NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    );
  }

  /** A new task of `service` for `slot` (replicated) or `nodeId` (global), in `state`. */
  makeTask(
    service: ServiceRecord['service'],
    placement: { readonly slot?: number; readonly nodeId?: string },
    state: TaskState,
    err = '',
  ): TaskRecord {
    this.taskCounter += 1;
    // Replicated slots go round-robin over the ready, active nodes, as a scheduler would spread them.
    const eligible = this.eligibleNodes()
      .map((n) => n.node.id)
      .sort();
    const nodeId = placement.nodeId ?? eligible[((placement.slot ?? 1) - 1) % Math.max(eligible.length, 1)] ?? '';
    const task = Task.create({
      id: fakeId(`t${this.taskCounter}${service.spec.name}`),
      serviceId: service.id,
      serviceName: service.spec.name,
      slot: placement.slot ?? 0,
      nodeId: state <= TaskState.TASK_STATE_PENDING ? '' : nodeId,
      desiredState: TaskState.TASK_STATE_RUNNING,
      status: TaskStatus.create({
        state,
        timestamp: BigInt(this.nowMs),
        message: state === TaskState.TASK_STATE_RUNNING ? 'started' : '',
        err,
        containerId: state === TaskState.TASK_STATE_RUNNING ? `c${this.taskCounter}`.padEnd(64, 'f') : '',
      }),
      specVersion: service.specVersion,
      command: [...service.spec.command],
      createdAt: BigInt(this.nowMs),
      updatedAt: BigInt(this.nowMs),
    });
    const record: TaskRecord = {
      task: { ...task, status: task.status ?? TaskStatus.create() },
      nodeHostname: task.nodeId === '' ? '' : (this.nodes.get(task.nodeId)?.node.hostname ?? ''),
    };
    return record;
  }

  /** What the orchestrator would converge to at once: see `autoConverge`. */
  private converge(service: ServiceRecord['service']): void {
    const current = (t: TaskRecord): boolean =>
      t.task.serviceId === service.id &&
      t.task.desiredState === TaskState.TASK_STATE_RUNNING &&
      t.task.specVersion === service.specVersion;
    const stale = (t: TaskRecord): boolean =>
      t.task.serviceId === service.id && t.task.desiredState === TaskState.TASK_STATE_RUNNING && !current(t);
    const slots =
      service.spec.mode === ServiceMode.SERVICE_MODE_GLOBAL
        ? this.eligibleNodes().map((n) => ({ nodeId: n.node.id }))
        : Array.from({ length: service.spec.replicas }, (_, i) => ({ slot: i + 1 }));
    const keep = (t: TaskRecord): boolean =>
      slots.some((p) => ('slot' in p ? p.slot === t.task.slot : p.nodeId === t.task.nodeId));
    // Out-of-date tasks, and tasks of slots no longer wanted, are shut down.
    this.tasks = this.tasks.map((t) =>
      stale(t) || (current(t) && !keep(t))
        ? {
            ...t,
            task: {
              ...t.task,
              desiredState: TaskState.TASK_STATE_SHUTDOWN,
              status: { ...t.task.status, state: TaskState.TASK_STATE_SHUTDOWN, timestamp: BigInt(this.nowMs) },
            },
          }
        : t,
    );
    const fresh = slots
      .filter(
        (p) =>
          !this.tasks.some((t) => current(t) && ('slot' in p ? p.slot === t.task.slot : p.nodeId === t.task.nodeId)),
      )
      .map((p) => this.makeTask(service, p, TaskState.TASK_STATE_RUNNING));
    this.tasks = [...fresh, ...this.tasks];
  }

  createService(spec: ServiceSpec): Promise<ServiceRecord> {
    this.calls.push(`createService ${spec.name}`);
    this.createServiceRequests.push(spec);
    return settle(() => {
      if ([...this.services.values()].some((s) => s.service.spec.name === spec.name)) {
        throw new VxmeshError('ALREADY_EXISTS', `service ${spec.name} already exists`);
      }
      const stored = this.storedSpec(spec);
      const service = Service.create({
        id: fakeId(`s${spec.name}`),
        spec: stored,
        specVersion: 1n,
        createdAt: BigInt(this.nowMs),
        updatedAt: BigInt(this.nowMs),
        virtualIps: this.virtualIps(stored),
      });
      this.revision += 1n;
      const record: ServiceRecord = {
        service: { ...service, spec: stored },
        version: this.revision,
        runningTasks: 0,
        desiredTasks: 0,
      };
      this.services.set(service.id, record);
      if (this.autoConverge) {
        this.converge(record.service);
      }
      return this.withCounts(record);
    });
  }

  updateService(ref: string, spec: ServiceSpec, version: bigint): Promise<ServiceRecord> {
    this.calls.push(`updateService ${ref} version=${version}`);
    this.updateServiceRequests.push({ ref, spec, version });
    return settle(() => {
      const current = this.resolveService(ref);
      if (version !== 0n && version !== current.version) {
        throw new VxmeshError(
          'CONFLICT',
          `update out of sequence: service ${current.service.spec.name} changed since it was read (version ${version}, now ${current.version})`,
        );
      }
      const stored = this.storedSpec(spec);
      const before = current.service.spec;
      // What a task runs with: a change replaces every task (rolling update).
      const rolled =
        JSON.stringify([before.command, before.networks, before.ports, before.forceUpdate.toString()]) !==
        JSON.stringify([stored.command, stored.networks, stored.ports, stored.forceUpdate.toString()]);
      this.revision += 1n;
      const record: ServiceRecord = {
        ...current,
        service: {
          ...current.service,
          spec: stored,
          previousSpec: before,
          specVersion: current.service.specVersion + (rolled ? 1n : 0n),
          updatedAt: BigInt(this.nowMs),
          virtualIps: this.virtualIps(stored),
        },
        version: this.revision,
      };
      this.services.set(record.service.id, record);
      if (this.autoConverge) {
        this.converge(record.service);
      }
      return this.withCounts(record);
    });
  }

  removeService(ref: string): Promise<void> {
    this.calls.push(`removeService ${ref}`);
    return settle(() => {
      const { service } = this.resolveService(ref);
      this.services.delete(service.id);
      this.tasks = this.tasks.filter((t) => t.task.serviceId !== service.id);
    });
  }

  listServices(): Promise<ServiceRecord[]> {
    this.calls.push('listServices');
    return Promise.resolve([...this.services.values()].map((s) => this.withCounts(s)));
  }

  getService(ref: string): Promise<ServiceRecord> {
    this.calls.push(`getService ${ref}`);
    return settle(() => this.withCounts(this.resolveService(ref)));
  }

  listTasks(request: ListTasksRequest): Promise<TaskRecord[]> {
    this.calls.push(`listTasks service=${request.service} node=${request.node}`);
    return settle(() => {
      const serviceId = request.service === '' ? undefined : this.resolveService(request.service).service.id;
      const nodeId = request.node === '' ? undefined : this.resolve(request.node).node.id;
      return this.tasks.filter(
        (t) =>
          (serviceId === undefined || t.task.serviceId === serviceId) &&
          (nodeId === undefined || t.task.nodeId === nodeId),
      );
    });
  }

  /** Output per task ID that `serviceLogs` returns. */
  readonly taskOutput = new Map<string, string[]>();

  serviceLogs(ref: string, tail: number): Promise<ServiceTaskLog[]> {
    this.calls.push(`serviceLogs ${ref} tail=${tail}`);
    return settle(() => {
      const { service } = this.resolveService(ref);
      return this.tasks
        .filter((t) => t.task.serviceId === service.id && t.task.nodeId !== '')
        .map((t) => {
          const lines = this.taskOutput.get(t.task.id);
          return {
            taskId: t.task.id,
            taskName: `${t.task.serviceName}.${t.task.slot}`,
            nodeHostname: t.nodeHostname,
            lines: lines === undefined ? [] : tail > 0 ? lines.slice(-tail) : lines,
            err: lines === undefined ? 'the task has no container on this node' : '',
          };
        });
    });
  }

  close(): void {
    this.closed = true;
  }
}
