import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { InvalidArgumentError, NotFoundError, UnavailableError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import { ContainerState } from '../../gen/vxmesh/v1/container.js';
import type { Container, ContainerNetwork } from '../../gen/vxmesh/v1/container.js';
import type {
  ContainerNetworkRequest,
  RunContainerRequest,
} from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../../gen/vxmesh/v1/resource.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import { taskContainerName, taskContainerNetworks } from '../tasks/task-container-spec.js';
import type { ReleaseEndpoint } from '../detach/index.js';
import { ContainerRecords } from './container-records.js';
import { deleteNamespace, ensureNamespace, writeNamespaceEtc } from './network-namespaces.js';

const log = createLogger('worker.containers');

/** Docker's rule for container names. */
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const DEFAULT_STOP_TIMEOUT_S = 10;
/**
 * The command runs through `sh -c 'exec "$0" "$@"'` so a command that cannot be run exits 127 (not
 * found) or 126 (not executable) like docker's, instead of `ip netns exec`'s 1, which a command's
 * own exit status cannot be told apart from. `exec` keeps the PID: the record's PID is the command's.
 */
const EXEC_WRAPPER = ['sh', '-c', 'exec "$0" "$@"'];

/** What the runtime needs from the cluster and the dataplane; injected by the daemon. */
export interface ContainerRuntimeDeps {
  readonly dataRoot: string;
  /** Prefix of every namespace this daemon creates. */
  readonly namespacePrefix: string;
  readonly clock: Clock;
  readonly attach: (req: AttachNetworkRequest) => Promise<AttachNetworkResponse>;
  /** The managers' DetachNetwork, where the caller must see a failure (disconnect). */
  readonly detach: (endpointId: string) => Promise<void>;
  /**
   * Gives an endpoint back for good when its container no longer uses it (rm, exit, a failed
   * run): kept as a pending detach and retried when the managers cannot remove it now.
   */
  readonly releaseEndpoint: ReleaseEndpoint;
  /** Endpoints the managers hold on this node for a container name on a network (for disconnect -f). */
  readonly staleEndpoints: (network: string, ownerName: string) => string[];
  /** Brings the kernel in line with the containers now; resolves when done. */
  readonly reconcile: () => Promise<void>;
  /** Local egress subnet (docker_gwbridge's), e.g. "172.18.0.0/16"; containers get addresses from .2 up. */
  readonly egressSubnet: () => string;
  /** The embedded DNS of container namespaces (issue 7); none: containers keep the host's resolv.conf. */
  readonly dns?: ContainerDnsHooks;
}

/**
 * How the runtime drives the embedded DNS: a container's resolver exists before its process
 * starts (run, start, and for running containers again after a daemon restart) and is released
 * before its namespace is deleted.
 */
export interface ContainerDnsHooks {
  /** Writes the namespace's resolv.conf and binds its resolver; idempotent. @throws when it cannot bind. */
  prepare(container: Container): Promise<void>;
  /** Closes the container's resolver; never throws. */
  release(containerId: string): Promise<void>;
}

/** An endpoint the managers could not remove when its container gave it up; released later. */
export interface DeferredRelease {
  readonly endpointId: string;
  readonly networkName: string;
  readonly ipv4Address: string;
  /** Why the managers could not remove it now. */
  readonly reason: string;
}

/** What `remove` did: the container as it was, and the endpoints left to release later. */
export interface RemovedContainer {
  readonly container: Container;
  /** Empty when the managers removed every endpoint. */
  readonly deferred: readonly DeferredRelease[];
}

/** A local endpoint as the dataplane needs it. */
export interface LocalAttachment {
  readonly container: Container;
  readonly network: ContainerNetwork;
}

interface Running {
  readonly pid: number;
  readonly exited: Promise<void>;
}

/**
 * Standalone containers without a container engine: a network namespace per container, a
 * process started in it with `ip netns exec`, and one overlay attachment per network. Records
 * persist under the data root; a failed run leaves no namespace, endpoint or record behind.
 */
export class ContainerRuntime {
  readonly #deps: ContainerRuntimeDeps;
  readonly #records: ContainerRecords;
  readonly #containers = new Map<string, Container>();
  readonly #running = new Map<string, Running>();
  /** Networks seen in attach answers, so the overlay can be built before the dispatcher's push. */
  readonly networks = new Map<string, Network>();
  #pollTimer: NodeJS.Timeout | undefined;
  /**
   * Endpoints the managers could not remove when a container's process ended, kept until the
   * container is started or removed: `rm -f` of a running container gives its endpoints back
   * through the exit, and must still warn about them.
   */
  readonly #deferredAtExit = new Map<string, readonly DeferredRelease[]>();
  /** Told about every container whose process ended (see onContainerExit). */
  readonly #exitListeners = new Set<(container: Container) => void>();
  /**
   * After close, exits are no longer recorded: a daemon restarted in the same process (tests) has
   * a new runtime on the same records, which must be the only writer.
   */
  #closed = false;

  constructor(deps: ContainerRuntimeDeps) {
    this.#deps = deps;
    this.#records = new ContainerRecords(deps.dataRoot);
  }

  /** Loads records; containers whose process died while the daemon was down become exited. */
  async load(): Promise<void> {
    for (const c of await this.#records.loadAll()) {
      this.#containers.set(c.id, c);
      if (c.state === ContainerState.CONTAINER_STATE_RUNNING && !isAlive(c.pid)) {
        await this.#markExited(c.id, -1);
      }
    }
    // DNS: running containers get their resolver back (its sockets died with the old daemon).
    const dns = this.#deps.dns;
    if (dns) {
      await Promise.all(
        this.list(false).map((c) =>
          dns.prepare(c).catch((err: unknown) => log.warn({ err, id: c.id }, 'could not restore the container resolver')),
        ),
      );
    }
    // Processes of a previous daemon are not our children: poll them for exit.
    this.#pollTimer = setInterval(() => void this.#pollOrphans(), 1000);
    this.#pollTimer.unref();
  }

  async #pollOrphans(): Promise<void> {
    for (const c of this.#containers.values()) {
      if (c.state === ContainerState.CONTAINER_STATE_RUNNING && !this.#running.has(c.id) && !isAlive(c.pid)) {
        await this.#markExited(c.id, -1).catch((err: unknown) => log.warn({ err }, 'could not record exit'));
      }
    }
  }

  list(all: boolean): Container[] {
    return [...this.#containers.values()]
      .filter((c) => all || c.state === ContainerState.CONTAINER_STATE_RUNNING)
      .sort((a, b) => Number(b.createdAt - a.createdAt));
  }

  /** By full ID, unique ID prefix or name. */
  resolve(ref: string): Container {
    const byName = [...this.#containers.values()].find((c) => c.name === ref || c.id === ref);
    if (byName) {
      return byName;
    }
    const byPrefix = [...this.#containers.values()].filter((c) => ref.length > 0 && c.id.startsWith(ref));
    if (byPrefix.length === 1 && byPrefix[0]) {
      return byPrefix[0];
    }
    if (byPrefix.length > 1) {
      throw new VxmeshError('INVALID_ARGUMENT', `container ${ref} is ambiguous (${byPrefix.length} matches)`);
    }
    throw new NotFoundError('container', ref);
  }

  /**
   * Calls `listener` with the record of every container whose process ended, once the exit is
   * recorded (its endpoints already dropped from `attachments()`), including processes of a
   * previous daemon found dead. A throwing listener is logged and does not stop the others.
   * @returns a function that removes the listener.
   */
  onContainerExit(listener: (container: Container) => void): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  /** Every attached endpoint of containers that are not exited, in interface order. */
  attachments(): LocalAttachment[] {
    const out: LocalAttachment[] = [];
    for (const container of this.#containers.values()) {
      for (const network of container.networks) {
        if (network.endpointId) {
          out.push({ container, network });
        }
      }
    }
    return out;
  }

  async run(req: RunContainerRequest): Promise<Container> {
    const name = req.name.trim();
    if (!CONTAINER_NAME.test(name)) {
      throw new InvalidArgumentError('name', `${JSON.stringify(req.name)} must match ${CONTAINER_NAME.source}`);
    }
    if ([...this.#containers.values()].some((c) => c.name === name)) {
      throw new VxmeshError('ALREADY_EXISTS', `the container name "${name}" is already in use on this node`);
    }
    if (req.command.length === 0) {
      throw new InvalidArgumentError('command', 'no command given');
    }
    checkResolvConfWords('dns-search', req.dnsSearch);
    checkResolvConfWords('dns-option', req.dnsOptions);
    const id = randomBytes(32).toString('hex');
    const namespace = `${this.#deps.namespacePrefix}c-${id.slice(0, 12)}`;
    const hostname = req.hostname || id.slice(0, 12);
    const container: Container = {
      id,
      name,
      hostname,
      command: [...req.command],
      state: ContainerState.CONTAINER_STATE_CREATED,
      pid: 0,
      exitCode: 0,
      createdAt: BigInt(this.#deps.clock.now()),
      startedAt: 0n,
      finishedAt: 0n,
      autoRemove: req.autoRemove,
      namespace,
      networks: [],
      dns: [...req.dns],
      error: '',
      egressAddress: '',
      dnsSearch: [...req.dnsSearch],
      dnsOptions: [...req.dnsOptions],
      taskId: '',
      serviceId: '',
    };
    return this.#provision(container, req.networks, !req.createOnly);
  }

  /**
   * Runs a service task (issue 8): a container named after the task with the endpoints the
   * managers allocated when they scheduled it (task.networks, eth0.. in order). Unlike `run`
   * nothing is attached or detached through the managers: they own those endpoints and free them
   * when the task ends; the node only wires them while the process runs. Not auto-removed: the
   * record keeps the exit code until the task leaves the node's assignments.
   * @param networks the networks the node knows from its assignments, by ID.
   * @throws UnavailableError when a network of the task is not known here yet (retry later);
   *   VxmeshError ALREADY_EXISTS when a container already has the task's name.
   */
  async runTask(task: Task, networks: ReadonlyMap<string, Network>): Promise<Container> {
    const name = taskContainerName(task);
    if (!CONTAINER_NAME.test(name)) {
      throw new InvalidArgumentError('task name', `${JSON.stringify(name)} must match ${CONTAINER_NAME.source}`);
    }
    if ([...this.#containers.values()].some((c) => c.name === name)) {
      throw new VxmeshError('ALREADY_EXISTS', `the container name "${name}" is already in use on this node`);
    }
    if (task.command.length === 0) {
      throw new InvalidArgumentError('command', `task ${name} has no command`);
    }
    for (const n of task.networks) {
      const network = networks.get(n.networkId) ?? this.networks.get(n.networkId);
      if (!network) {
        throw new UnavailableError(`network ${n.networkName || n.networkId} of task ${name} is not known on this node yet`);
      }
      // The dataplane builds the overlay from these until (and if) the dispatcher's copy differs.
      this.networks.set(network.id, network);
    }
    const id = randomBytes(32).toString('hex');
    const container: Container = {
      id,
      name,
      // Docker's task containers are named by their ID prefix too.
      hostname: id.slice(0, 12),
      command: [...task.command],
      state: ContainerState.CONTAINER_STATE_CREATED,
      pid: 0,
      exitCode: 0,
      createdAt: BigInt(this.#deps.clock.now()),
      startedAt: 0n,
      finishedAt: 0n,
      autoRemove: false,
      namespace: `${this.#deps.namespacePrefix}c-${id.slice(0, 12)}`,
      networks: taskContainerNetworks(task),
      dns: [],
      error: '',
      egressAddress: '',
      dnsSearch: [],
      dnsOptions: [],
      taskId: task.id,
      serviceId: task.serviceId,
    };
    return this.#provision(container, [], true);
  }

  /**
   * Creates the namespace, the resolver and the attachments of a new container, records it,
   * wires the kernel, then starts the command. A failure leaves no namespace, endpoint or record.
   */
  async #provision(created: Container, requests: readonly ContainerNetworkRequest[], start: boolean): Promise<Container> {
    let container = created;
    const { id, namespace, hostname } = container;
    await ensureNamespace(namespace);
    let resolverReady: Promise<void> | undefined;
    try {
      await writeNamespaceEtc(namespace, { hostname: `${hostname}\n`, hosts: `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n` });
      // The resolver's sockets are bound while the managers allocate and the kernel is wired: it
      // is needed before the command starts, not before the container is reachable.
      resolverReady = this.#deps.dns?.prepare(container);
      resolverReady?.catch(() => undefined);
      for (const request of requests) {
        container = { ...container, networks: [...container.networks, await this.#attach(container, request)] };
      }
      container = { ...container, egressAddress: this.#egressAddressFor(container) };
    } catch (err) {
      await resolverReady?.catch(() => undefined);
      await this.#deps.dns?.release(id);
      await this.#detachAll(container).catch((e: unknown) => log.warn({ err: e, id }, 'could not give back the endpoints of a failed run'));
      await deleteNamespace(namespace).catch(() => undefined);
      throw err;
    }
    this.#containers.set(id, container);
    await this.#records.save(container);
    await this.#deps.reconcile();
    try {
      await resolverReady;
    } catch (err) {
      await this.#removeRecord(id).catch(() => undefined);
      throw err;
    }
    if (start) {
      await this.#spawn(id);
    }
    return this.#get(id);
  }

  async #attach(container: Container, request: ContainerNetworkRequest): Promise<ContainerNetwork> {
    const res = await this.#deps.attach({
      network: request.network,
      ownerId: container.id,
      ownerName: container.name,
      hostname: container.hostname,
      ipv4Address: request.ipv4Address,
      ipv6Address: request.ipv6Address,
      aliases: request.aliases,
    });
    const endpoint = res.endpoint;
    if (!endpoint) {
      throw new VxmeshError('INTERNAL', 'the manager returned no endpoint');
    }
    if (res.network) {
      this.networks.set(res.network.id, res.network);
    }
    const used = new Set(container.networks.map((n) => n.ifName));
    let index = 0;
    while (used.has(`eth${index}`)) {
      index++;
    }
    return {
      networkId: endpoint.networkId,
      networkName: res.networkName,
      endpointId: endpoint.id,
      requestedIpv4: request.ipv4Address,
      requestedIpv6: request.ipv6Address,
      aliases: [...request.aliases],
      links: [...request.links],
      ipv4Address: endpoint.ipv4Address,
      ipv6Address: endpoint.ipv6Address,
      macAddress: endpoint.macAddress,
      gateway: res.gateway,
      ifName: `eth${index}`,
    };
  }

  /**
   * The container's address on the egress bridge: kept if it has one, else the lowest free one;
   * none when every network it is on is internal.
   */
  #egressAddressFor(container: Container): string {
    const needsEgress = container.networks.some((n) => this.networks.get(n.networkId)?.internal !== true);
    if (!needsEgress) {
      return '';
    }
    if (container.egressAddress) {
      return container.egressAddress;
    }
    const [base = '', prefix = '16'] = this.#deps.egressSubnet().split('/');
    const first = base.split('.').map(Number);
    const used = new Set([...this.#containers.values()].map((c) => c.egressAddress));
    const size = 2 ** (32 - Number(prefix));
    const start = (((first[0] ?? 0) << 24) >>> 0) + ((first[1] ?? 0) << 16) + ((first[2] ?? 0) << 8) + (first[3] ?? 0);
    // The last usable address is the ingress sandbox's (lb-spec-builder): never a container's.
    for (let offset = 2; offset < size - 2; offset++) {
      const n = start + offset;
      const text = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${prefix}`;
      if (!used.has(text)) {
        return text;
      }
    }
    throw new VxmeshError('EXHAUSTED', `no free address in the egress subnet ${this.#deps.egressSubnet()}`);
  }

  /**
   * Gives the container's endpoints back and forgets them locally, so the dataplane drops their
   * interfaces. One the managers cannot remove now is kept as a pending detach (released later,
   * see src/worker/detach) and listed in `deferred`. A task's endpoints belong to the managers
   * (freed when the task ends): only the local attachment is dropped.
   * @throws when a pending detach cannot be recorded: the caller keeps the container's record,
   *   which still names every endpoint not given back.
   */
  async #detachAll(container: Container): Promise<{ container: Container; deferred: DeferredRelease[] }> {
    const networks: ContainerNetwork[] = [];
    const deferred: DeferredRelease[] = [];
    for (const n of container.networks) {
      if (n.endpointId && !container.taskId) {
        const outcome = await this.#deps.releaseEndpoint({
          endpointId: n.endpointId,
          networkId: n.networkId,
          networkName: n.networkName,
          ownerId: container.id,
          ownerName: container.name,
          ipv4Address: n.ipv4Address,
          origin: 'container',
        });
        if (outcome.state === 'deferred') {
          deferred.push({ endpointId: n.endpointId, networkName: n.networkName || n.networkId, ipv4Address: n.ipv4Address, reason: outcome.reason });
        }
      }
      networks.push({ ...n, endpointId: '', ipv4Address: '', ipv6Address: '', macAddress: '' });
    }
    return { container: { ...container, networks }, deferred };
  }

  #get(id: string): Container {
    const c = this.#containers.get(id);
    if (!c) {
      throw new NotFoundError('container', id);
    }
    return c;
  }

  async #update(id: string, change: (c: Container) => Container): Promise<Container> {
    const next = change(this.#get(id));
    this.#containers.set(id, next);
    await this.#records.save(next);
    return next;
  }

  async #spawn(id: string): Promise<void> {
    const c = this.#get(id);
    const logFile = await open(this.#records.logPath(id), 'a');
    const [file = '', ...args] = c.command;
    const child = spawn('ip', ['netns', 'exec', c.namespace, ...EXEC_WRAPPER, file, ...args], {
      detached: true,
      stdio: ['ignore', logFile.fd, logFile.fd],
    });
    const logClosed = logFile.close();
    const pid = child.pid;
    if (pid === undefined) {
      await logClosed;
      throw new VxmeshError('FAILED_PRECONDITION', `could not start ${file} in container ${c.name}`);
    }
    // Everything below up to the first await runs before any exit can be seen: a command that
    // ends at once (`true`) gets its exit listened to, and recorded after its start, not before.
    const started = this.#update(id, (x) => ({
      ...x,
      state: ContainerState.CONTAINER_STATE_RUNNING,
      pid,
      startedAt: BigInt(this.#deps.clock.now()),
      error: '',
    }));
    const exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        this.#running.delete(id);
        if (this.#closed) {
          resolve();
          return;
        }
        const exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1);
        started
          .catch(() => undefined)
          .then(() => this.#markExited(id, exitCode))
          .then(resolve, (err: unknown) => {
            log.warn({ err, id }, 'could not record container exit');
            resolve();
          });
      });
    });
    child.unref();
    this.#running.set(id, { pid, exited });
    await logClosed;
    await started;
    log.info({ id, name: c.name, pid }, 'container started');
  }

  async #markExited(id: string, exitCode: number): Promise<void> {
    const c = this.#containers.get(id);
    if (!c) {
      return;
    }
    const detached = await this.#detachAll(c).then(
      (done) => {
        if (done.deferred.length > 0) {
          this.#deferredAtExit.set(id, done.deferred);
        }
        return done.container;
      },
      (err: unknown) => {
        log.warn({ err, id }, 'could not detach the endpoints of an exited container');
        return c;
      },
    );
    await this.#update(id, () => ({
      ...detached,
      state: ContainerState.CONTAINER_STATE_EXITED,
      pid: 0,
      exitCode,
      finishedAt: BigInt(this.#deps.clock.now()),
    }));
    await this.#deps.reconcile();
    if (c.autoRemove) {
      await this.#removeRecord(id);
    }
    const exited = this.#containers.get(id) ?? c;
    for (const listener of this.#exitListeners) {
      try {
        listener(exited);
      } catch (err) {
        log.warn({ err, id }, 'container exit listener failed');
      }
    }
  }

  async start(ref: string): Promise<Container> {
    const c = this.resolve(ref);
    if (c.state === ContainerState.CONTAINER_STATE_RUNNING) {
      return c;
    }
    refuseTaskContainer(c, 'start');
    this.#deferredAtExit.delete(c.id);
    await ensureNamespace(c.namespace);
    let attached: Container = { ...c, networks: [] };
    try {
      for (const n of c.networks) {
        const again = await this.#attach(attached, {
          network: n.networkId,
          ipv4Address: n.requestedIpv4,
          ipv6Address: n.requestedIpv6,
          aliases: n.aliases,
          links: n.links,
        });
        attached = { ...attached, networks: [...attached.networks, { ...again, ifName: n.ifName, networkName: n.networkName }] };
      }
      await this.#deps.dns?.prepare(attached);
    } catch (err) {
      await this.#detachAll(attached).catch((e: unknown) => log.warn({ err: e, id: c.id }, 'could not give back the endpoints of a failed start'));
      throw err;
    }
    await this.#update(c.id, () => attached);
    await this.#deps.reconcile();
    await this.#spawn(c.id);
    return this.#get(c.id);
  }

  async stop(ref: string, timeoutSeconds = DEFAULT_STOP_TIMEOUT_S): Promise<Container> {
    const c = this.resolve(ref);
    if (c.state !== ContainerState.CONTAINER_STATE_RUNNING) {
      return c;
    }
    const running = this.#running.get(c.id);
    signalGroup(c.pid, 'SIGTERM');
    const deadline = this.#deps.clock.now() + timeoutSeconds * 1000;
    while (isAlive(c.pid) && this.#deps.clock.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const killed = isAlive(c.pid);
    if (killed) {
      signalGroup(c.pid, 'SIGKILL');
    }
    if (running) {
      await running.exited;
    } else {
      // A previous daemon's process: its exit status is not ours to read; say which signal ended it.
      await this.#markExited(c.id, killed ? 137 : 143);
    }
    return this.#containers.get(c.id) ?? c;
  }

  /**
   * Removes the container: its process (with `force`), endpoints, resolver, namespace and record.
   * Endpoints the managers cannot remove now do not fail it (as docker's rm): they are kept as
   * pending detaches, on disk before this resolves, and listed in `deferred`.
   */
  async remove(ref: string, force: boolean): Promise<RemovedContainer> {
    const c = this.resolve(ref);
    if (c.state === ContainerState.CONTAINER_STATE_RUNNING) {
      if (!force) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `cannot remove container "${c.name}": container is running: stop the container before removing or force remove`,
        );
      }
      await this.stop(c.id, 0);
    }
    // Only what this removal's own stop deferred: an earlier exit's endpoints were reported (logged) then.
    const atExit = c.state === ContainerState.CONTAINER_STATE_RUNNING ? (this.#deferredAtExit.get(c.id) ?? []) : [];
    this.#deferredAtExit.delete(c.id);
    const deferred = await this.#removeRecord(c.id);
    return { container: c, deferred: [...atExit, ...deferred] };
  }

  /** @returns the endpoints left to release later. */
  async #removeRecord(id: string): Promise<DeferredRelease[]> {
    const c = this.#containers.get(id);
    if (!c) {
      return [];
    }
    // Throws only when a pending detach cannot be written: the record then stays, naming the
    // endpoints, and rm fails rather than forget them.
    const { deferred } = await this.#detachAll(c);
    this.#containers.delete(id);
    this.#deferredAtExit.delete(id);
    await this.#records.remove(id);
    await this.#deps.reconcile();
    await this.#deps.dns?.release(id);
    await deleteNamespace(c.namespace);
    return deferred;
  }

  async connect(ref: string, request: ContainerNetworkRequest): Promise<Container> {
    const c = this.resolve(ref);
    refuseTaskContainer(c, 'connect');
    if (c.state === ContainerState.CONTAINER_STATE_EXITED) {
      throw new VxmeshError('FAILED_PRECONDITION', `container ${c.name} is not running`);
    }
    const network = await this.#attach(c, request);
    if (c.networks.some((n) => n.networkId === network.networkId)) {
      // The managers answer a repeated attach of the same owner with its existing endpoint: only
      // a new one is given back, never the one the container uses.
      if (!c.networks.some((n) => n.endpointId === network.endpointId)) {
        await this.#deps.detach(network.endpointId);
      }
      throw new VxmeshError('ALREADY_EXISTS', `endpoint with name ${c.name} already exists in network ${network.networkName}`);
    }
    const next = await this.#update(c.id, (x) => {
      const withNetwork = { ...x, networks: [...x.networks, network] };
      return { ...withNetwork, egressAddress: this.#egressAddressFor(withNetwork) };
    });
    await this.#deps.reconcile();
    return next;
  }

  async disconnect(ref: string, networkRef: string, force: boolean): Promise<void> {
    let c: Container;
    try {
      c = this.resolve(ref);
    } catch (err) {
      if (force && err instanceof NotFoundError) {
        // The container is gone but the managers may still hold its endpoint (a crash between
        // attach and record): remove whatever they have for that name on this node.
        const stale = this.#deps.staleEndpoints(networkRef, ref);
        if (stale.length === 0) {
          throw err;
        }
        for (const endpointId of stale) {
          await this.#deps.detach(endpointId);
        }
        return;
      }
      throw err;
    }
    refuseTaskContainer(c, 'disconnect');
    const target = c.networks.find(
      (n) => n.networkId === networkRef || n.networkName === networkRef || n.networkId.startsWith(networkRef),
    );
    if (!target) {
      throw new VxmeshError('NOT_FOUND', `container ${c.name} is not connected to network ${networkRef}`);
    }
    if (target.endpointId) {
      await this.#deps.detach(target.endpointId);
    }
    await this.#update(c.id, (x) => ({ ...x, networks: x.networks.filter((n) => n !== target && n.networkId !== target.networkId) }));
    await this.#deps.reconcile();
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#pollTimer);
    return Promise.resolve();
  }
}

/**
 * --dns-search / --dns-option values become words of a resolv.conf line: one with whitespace
 * (a newline above all) would write lines the user never asked for, so it is refused here, where
 * every client's request arrives.
 */
function checkResolvConfWords(flag: string, values: readonly string[]): void {
  const bad = values.find((v) => v === '' || /\s/.test(v));
  if (bad !== undefined) {
    throw new InvalidArgumentError(flag, `${JSON.stringify(bad)} must be one word without spaces`);
  }
}

/**
 * A task container's endpoints and lifetime belong to the managers: starting it again (the
 * managers replace ended tasks) or changing its networks here would give the node endpoints the
 * managers do not know about, or take away ones they still count on.
 */
function refuseTaskContainer(c: Container, operation: string): void {
  if (c.taskId) {
    throw new VxmeshError(
      'FAILED_PRECONDITION',
      `cannot ${operation} container ${c.name}: it runs task ${c.taskId} of service ${c.serviceId}, which the managers own`,
    );
  }
}

function isAlive(pid: number): boolean {
  if (pid <= 0) {
    return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Signals the container's whole process group (the command was started as a group leader). */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}
