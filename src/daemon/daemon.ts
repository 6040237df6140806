import { chmod, mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { handleUnaryCall, UntypedHandleCall } from '@grpc/grpc-js';
import { InvalidArgumentError, UnavailableError, VxmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { formatHostPort, parseHostPort, parseIp } from '../common/net/host-port.js';
import type { HostPort } from '../common/net/host-port.js';
import { toServiceError } from '../common/rpc/service-error.js';
import { unaryHandler } from '../common/rpc/server-handlers.js';
import { certificateIdentity } from '../common/tls/certificate-identity.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';
import type { Clock } from '../common/clock.js';
import { EmbeddedKvStore, EtcdKvStore } from '../kvstore/index.js';
import type { KvStore } from '../kvstore/index.js';
import { ClusterControlService, LocalControlService } from '../gen/vxmesh/v1/control.js';
import type {
  ClusterControlServer,
  InfoResponse,
  LocalControlServer,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
} from '../gen/vxmesh/v1/control.js';
import { NodeAvailability, NodeRole } from '../gen/vxmesh/v1/node.js';
import { initializeCluster } from '../manager/cluster-init.js';
import { Manager } from '../manager/manager.js';
import { joinCluster, localAddressToward } from '../worker/join-cluster.js';
import { AssignmentState } from '../worker/assignment-state.js';
import { NodeAgent } from '../worker/node-agent.js';
import type { ContainerRuntime, DeferredRelease } from '../worker/containers/container-runtime.js';
import type { DataplaneReconciler } from '../worker/dataplane-controller.js';
import { NamespaceControl } from '../worker/external/index.js';
import { DaemonDockerPluginBackend, DockerPluginServer } from './docker-plugin/index.js';
import { DebouncedWriter } from './debounced-writer.js';
import { readTaskLogs } from './task-log-reader.js';
import { NodeWorkload } from './node-workload.js';
import { soleHostAddress } from './advertise-address.js';
import { localAuthorize } from './local-authorizer.js';
import { NodeStateFiles } from './node-state-files.js';
import type { NodeState, StoreLocation } from './node-state-files.js';
import { socketIsLive } from '../common/net/unix-socket-live.js';

const log = createLogger('daemon');

export const DEFAULT_CLUSTER_PORT = 2377;
/** Applied assignments are written at most this often; a crash loses at most this much, and the next COMPLETE restores it. */
const ASSIGNMENTS_SAVE_DELAY_MS = 200;
/** How soon a role change that failed (store unreachable) is tried again. */
const ROLE_RETRY_MS = 5000;
const ETCD_NAMESPACE = '/vxmesh/';
/** Bounds of `swarm init --dispatcher-heartbeat` (managers' leases last three periods). */
const MIN_HEARTBEAT_MS = 1000;
const MAX_HEARTBEAT_MS = 3_600_000;

export interface DaemonOptions {
  readonly dataRoot: string;
  readonly socketPath: string;
  /** Name reported to the managers; several daemons on one machine need distinct ones. */
  readonly hostname: string;
  readonly clock: Clock;
  /** Prefix of every network namespace this daemon creates; unique per daemon on a machine. */
  readonly namespacePrefix: string;
  /** Programs the kernel (src/vxlan); tests without a kernel pass a fake. */
  readonly driver: DataplaneReconciler;
  /**
   * Where to serve the Docker remote network and IPAM plugin API (issue 11), e.g.
   * /run/docker/plugins/vxmesh.sock; absent: not served.
   */
  readonly dockerPluginSocket?: string;
  /**
   * Files this host's manager presents to etcd when the cluster's endpoints are `https://`
   * (etcd's `--client-cert-auth`): the CA that signed etcd's certificates, and this host's client
   * certificate and key. Read each time the store is opened. Absent: plain `http://` endpoints.
   */
  readonly etcdTls?: EtcdTlsFiles;
  /**
   * How long an endpoint placed on this node with no local container or attachment waits before
   * it is released (NodeWorkloadOptions.orphanGraceMs); default 30 s. Tests shorten it.
   */
  readonly orphanGraceMs?: number;
}

/** PEM files for TLS to etcd (vxmeshd `--etcd-cacert`, `--etcd-cert`, `--etcd-key`). */
export interface EtcdTlsFiles {
  readonly caFile: string;
  readonly certFile?: string;
  readonly keyFile?: string;
}

const NOT_A_MANAGER =
  "This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. " +
  'Please run this command on a manager node or promote the current node to a manager.';
const NOT_A_MEMBER =
  'This node is not a swarm manager. Use "vxmesh swarm init" or "vxmesh swarm join" to connect this node to swarm and try again.';
const ALREADY_MEMBER =
  'This node is already part of a swarm. Use "vxmesh swarm leave" to leave this swarm and join another one.';

/** What `rm` tells the user about an endpoint the managers could not remove yet. */
function deferredReleaseWarning(containerName: string, d: DeferredRelease): string {
  const address = d.ipv4Address === '' ? '' : ` (${d.ipv4Address.split('/')[0] ?? ''})`;
  return (
    `the endpoint of ${containerName} on network ${d.networkName}${address} could not be released now: ${d.reason}; ` +
    'this node releases it (its address and DNS name) once a manager is reachable'
  );
}

function checkEtcdEndpoints(endpoints: readonly string[]): string[] {
  return endpoints.map((e) => {
    const url = e.trim();
    if (!/^https?:\/\/[^/\s]+$/.test(url)) {
      throw new InvalidArgumentError('etcd-endpoints', `${e} is not an http:// or https:// URL with host and port`);
    }
    return url;
  });
}

/**
 * vxmeshd: the per-host daemon. Serves the local control socket, and, once the host is a member,
 * runs the node agent and (on managers) the manager. Lifecycle changes (init, join, leave, role
 * changes) run one at a time.
 */
export class Daemon implements AsyncDisposable {
  readonly #opts: DaemonOptions;
  readonly #files: NodeStateFiles;
  readonly #socketServer = new Server();
  #state: NodeState | undefined;
  #store: KvStore | undefined;
  #manager: Manager | undefined;
  #managerControl: ClusterControlServer | undefined;
  #agent: NodeAgent | undefined;
  #workload: NodeWorkload | undefined;
  #persistAssignments: DebouncedWriter | undefined;
  #dockerPlugin: { server: DockerPluginServer; backend: DaemonDockerPluginBackend } | undefined;
  #lifecycle: Promise<unknown> = Promise.resolve();
  #closed = false;

  private constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#files = new NodeStateFiles(opts.dataRoot);
  }

  /** Restores membership from the data root (no re-join needed after a restart) and opens the socket. */
  static async start(opts: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(opts);
    await mkdir(opts.dataRoot, { recursive: true, mode: 0o700 });
    const state = await daemon.#files.loadState();
    const identity = await daemon.#files.loadIdentity();
    if (state && identity) {
      await daemon.#startMember(state, identity);
    }
    try {
      await daemon.#serveSocket();
      await daemon.#serveDockerPlugin();
    } catch (err) {
      await daemon.close();
      throw err;
    }
    log.info({ socket: opts.socketPath, member: state !== undefined }, 'vxmeshd ready');
    return daemon;
  }

  /** Runs lifecycle changes one at a time, in call order. */
  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lifecycle.then(fn, fn);
    this.#lifecycle = run.catch(() => undefined);
    return run;
  }

  async #serveSocket(): Promise<void> {
    const path = this.#opts.socketPath;
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    if (await socketIsLive(path)) {
      throw new UnavailableError(`another vxmeshd is already serving ${path}`);
    }
    // A killed daemon leaves its socket file behind; nothing answers on it (checked above).
    await rm(path, { force: true });
    this.#socketServer.addService(LocalControlService, this.#localControl());
    this.#socketServer.addService(ClusterControlService, this.#clusterControlDelegate());
    await new Promise<void>((resolve, reject) => {
      this.#socketServer.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(new UnavailableError(`cannot listen on ${path}: ${err.message}`, { cause: err })) : resolve(),
      );
    });
    await chmod(path, 0o600);
  }

  async #serveDockerPlugin(): Promise<void> {
    const socketPath = this.#opts.dockerPluginSocket;
    if (!socketPath) {
      return;
    }
    const backend = new DaemonDockerPluginBackend(this.#opts.socketPath, () => this.#workload?.external);
    try {
      const server = await DockerPluginServer.start({ socketPath, dataRoot: this.#opts.dataRoot, backend });
      this.#dockerPlugin = { server, backend };
    } catch (err) {
      backend.close();
      throw err;
    }
  }

  async #openStore(location: StoreLocation): Promise<KvStore> {
    if (location.kind === 'etcd') {
      const files = this.#opts.etcdTls;
      const secure = location.endpoints.some((e) => e.startsWith('https://'));
      if (secure && !files) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `etcd endpoints ${location.endpoints.join(',')} use TLS: start vxmeshd with --etcd-cacert ` +
            '(and --etcd-cert/--etcd-key when etcd requires client certificates)',
        );
      }
      const read = (path: string | undefined): Promise<string | undefined> =>
        path === undefined
          ? Promise.resolve(undefined)
          : readFile(path, 'utf8').catch((err: unknown) => {
              throw new VxmeshError(
                'FAILED_PRECONDITION',
                `cannot read etcd TLS file ${path}: ${(err as Error).message}`,
              );
            });
      const tls =
        secure && files
          ? { ca: await read(files.caFile), cert: await read(files.certFile), key: await read(files.keyFile) }
          : undefined;
      return new EtcdKvStore({
        endpoints: location.endpoints,
        namespace: ETCD_NAMESPACE,
        ...(tls
          ? {
              tls: {
                ...(tls.ca === undefined ? {} : { ca: tls.ca }),
                ...(tls.cert === undefined ? {} : { cert: tls.cert }),
                ...(tls.key === undefined ? {} : { key: tls.key }),
              },
            }
          : {}),
      });
    }
    await mkdir(this.#files.storeDir, { recursive: true, mode: 0o700 });
    return EmbeddedKvStore.open({ path: join(this.#files.storeDir, 'state.db') });
  }

  async #startMember(state: NodeState, identity: TlsIdentity): Promise<void> {
    this.#state = state;
    let managerFailed = false;
    if (state.role === 'manager') {
      try {
        await this.#startManager(state, identity);
      } catch (err) {
        // The store may be down (etcd outage): run as an agent and keep trying to manage.
        log.error({ err }, 'could not start the manager; retrying in the background');
        managerFailed = true;
      }
    }
    const saved = await this.#files.loadAssignments();
    let assignments = new AssignmentState();
    try {
      assignments = saved ? AssignmentState.fromBytes(saved) : assignments;
    } catch (err) {
      log.warn({ err }, 'saved assignments do not decode; waiting for the managers');
    }
    const persist = new DebouncedWriter(ASSIGNMENTS_SAVE_DELAY_MS, () => this.#files.saveAssignments(assignments.toBytes()));
    this.#persistAssignments = persist;
    const managerAddrs =
      state.role === 'manager'
        ? [state.advertiseAddr, ...state.managerAddrs.filter((a) => a !== state.advertiseAddr)]
        : state.managerAddrs;
    const agent = new NodeAgent({
      identity,
      managerAddrs,
      hostname: this.#opts.hostname,
      clock: this.#opts.clock,
      // The role in the state file changes only once the manager has really started or stopped
      // (#applyRole), so a restart never finds a "manager" without its store.
      saveIdentity: async (renewed) => {
        await this.#files.saveIdentity(renewed);
        this.#manager?.updateIdentity(renewed);
      },
      saveManagers: (addrs) => this.#saveState({ managerAddrs: addrs }),
      assignments,
      onAssignments: () => {
        persist.schedule();
        this.#workload?.onAssignments();
        if (agent.dataPathPort !== 0 && agent.dataPathPort !== this.#state?.dataPathPort) {
          void this.#saveState({ dataPathPort: agent.dataPathPort }).catch((err: unknown) =>
            log.warn({ err }, 'could not save the data path port'),
          );
        }
      },
      onRenewed: (role, etcdEndpoints) => this.#scheduleRole(agent, role, etcdEndpoints, 0),
      // The workload is built just below; heartbeats before that carry no counters.
      resolverCounters: () => this.#workload?.resolverCounters(),
      overlayMtus: () => this.#workload?.overlayMtus() ?? {},
      pendingDetaches: () => this.#workload?.pendingDetaches.count,
      taskLogs: (taskIds, tail) =>
        readTaskLogs(this.#opts.dataRoot, this.#workload?.runtime.list(true) ?? [], taskIds, tail),
    });
    this.#agent = agent;
    agent.start();
    const workload = new NodeWorkload({
      dataRoot: this.#opts.dataRoot,
      namespacePrefix: this.#opts.namespacePrefix,
      nodeId: state.nodeId,
      dataPathAddr: state.dataPathAddr,
      dataPathPort: state.dataPathPort ?? 0,
      agent,
      driver: this.#opts.driver,
      clock: this.#opts.clock,
      ...(this.#opts.orphanGraceMs === undefined ? {} : { orphanGraceMs: this.#opts.orphanGraceMs }),
    });
    this.#workload = workload;
    await workload.start();
    if (managerFailed && state.store.kind === 'etcd') {
      this.#scheduleRole(agent, NodeRole.NODE_ROLE_MANAGER, state.store.endpoints, ROLE_RETRY_MS);
    }
    if (certificateIdentity(identity.certPem).role !== state.role) {
      // A crash came between saving a renewed certificate and applying its role: renew again to
      // learn the role (and the store endpoints) from the managers.
      agent.renew().catch((err: unknown) => log.warn({ err }, 'could not renew to recover the role'));
    }
  }

  async #startManager(state: NodeState, identity: TlsIdentity): Promise<void> {
    const store = await this.#openStore(state.store);
    try {
      this.#manager = await Manager.start({
        store,
        nodeId: state.nodeId,
        identity,
        listen: parseHostPort(state.listenAddr, DEFAULT_CLUSTER_PORT, 'listen-addr'),
        advertiseAddr: state.advertiseAddr,
        clock: this.#opts.clock,
      });
    } catch (err) {
      await store.close();
      throw err;
    }
    this.#store = store;
    this.#managerControl = this.#manager.clusterControl(localAuthorize);
  }

  async #stopManager(): Promise<void> {
    await this.#manager?.close();
    await this.#store?.close();
    this.#manager = undefined;
    this.#managerControl = undefined;
    this.#store = undefined;
  }

  /** Applies a role after `delayMs`, retrying every few seconds until it holds or the agent is replaced. */
  #scheduleRole(agent: NodeAgent, role: NodeRole, etcdEndpoints: readonly string[], delayMs: number): void {
    const timer = setTimeout(() => {
      if (this.#agent !== agent || this.#closed) {
        return;
      }
      this.#serialize(() => this.#applyRole(role, etcdEndpoints)).catch((err: unknown) => {
        log.error({ err }, 'could not apply the new role; retrying');
        this.#scheduleRole(agent, role, etcdEndpoints, ROLE_RETRY_MS);
      });
    }, delayMs);
    timer.unref();
  }

  async #applyRole(role: NodeRole, etcdEndpoints: readonly string[]): Promise<void> {
    const state = this.#state;
    const agent = this.#agent;
    if (!state || !agent) {
      return;
    }
    if (role === NodeRole.NODE_ROLE_MANAGER && !this.#manager) {
      if (etcdEndpoints.length === 0) {
        throw new VxmeshError('FAILED_PRECONDITION', 'promoted to manager but the managers sent no store endpoints');
      }
      const next: NodeState = { ...state, role: 'manager', store: { kind: 'etcd', endpoints: etcdEndpoints } };
      await this.#startManager(next, agent.identity);
      this.#state = next;
      await this.#files.saveState(next);
      log.info('this node is now a manager');
    } else if (role === NodeRole.NODE_ROLE_WORKER && (this.#manager || state.role === 'manager')) {
      await this.#stopManager();
      await this.#saveState({ role: 'worker' });
      log.info('this node is now a worker');
    }
  }

  async #saveState(change: Partial<NodeState>): Promise<void> {
    if (!this.#state) {
      return;
    }
    this.#state = { ...this.#state, ...change };
    await this.#files.saveState(this.#state);
  }

  async #stopMember(): Promise<void> {
    await this.#workload?.close();
    this.#workload = undefined;
    await this.#agent?.close();
    this.#agent = undefined;
    await this.#persistAssignments?.flush();
    this.#persistAssignments = undefined;
    await this.#stopManager();
    this.#state = undefined;
  }

  /** A member whose certificate expired while it was offline may join again with a token. */
  async #memberWithValidCertificate(): Promise<boolean> {
    if (!this.#state) {
      return false;
    }
    const identity = await this.#files.loadIdentity();
    return identity !== undefined && certificateIdentity(identity.certPem).notAfter.getTime() > this.#opts.clock.now();
  }

  async swarmInit(req: SwarmInitRequest): Promise<SwarmInitResponse> {
    if (this.#state) {
      throw new VxmeshError('FAILED_PRECONDITION', ALREADY_MEMBER);
    }
    const { listen, advertise } = await listenAndAdvertise(req, () =>
      Promise.resolve(soleHostAddress()),
    );
    const dataPathAddr = req.dataPathAddr ? parseIp(req.dataPathAddr, 'data-path-addr') : advertise.host;
    const etcdEndpoints = checkEtcdEndpoints(req.etcdEndpoints);
    const heartbeat = req.dispatcherHeartbeatMs;
    if (heartbeat !== 0 && (heartbeat < MIN_HEARTBEAT_MS || heartbeat > MAX_HEARTBEAT_MS)) {
      throw new InvalidArgumentError('dispatcher-heartbeat', `${heartbeat} ms is not between 1s and 1h`);
    }
    const location: StoreLocation =
      etcdEndpoints.length > 0 ? { kind: 'etcd', endpoints: etcdEndpoints } : { kind: 'embedded' };
    const store = await this.#openStore(location);
    let init;
    try {
      init = await initializeCluster(
        store,
        {
          hostname: this.#opts.hostname,
          advertiseAddr: formatHostPort(advertise),
          dataPathAddr,
          ...(req.dataPathPort ? { dataPathPort: req.dataPathPort } : {}),
          defaultAddrPools: req.defaultAddrPools,
          ...(req.defaultAddrPoolMaskLength ? { defaultAddrPoolMaskLength: req.defaultAddrPoolMaskLength } : {}),
          ...(req.certExpiryMs ? { certExpiryMs: Number(req.certExpiryMs) } : {}),
          ...(req.dispatcherHeartbeatMs ? { heartbeatPeriodMs: req.dispatcherHeartbeatMs } : {}),
          etcdEndpoints,
        },
        this.#opts.clock,
      );
    } catch (err) {
      if (location.kind === 'embedded') {
        await store.close();
        await rm(this.#files.storeDir, { recursive: true, force: true });
      }
      throw err;
    } finally {
      // The manager opens its own handle on the store.
      await store.close();
    }
    const state: NodeState = {
      version: 1,
      nodeId: init.nodeId,
      clusterId: init.clusterId,
      role: 'manager',
      managerAddrs: [formatHostPort(advertise)],
      listenAddr: formatHostPort(listen),
      advertiseAddr: formatHostPort(advertise),
      dataPathAddr,
      store: location,
    };
    await this.#files.saveIdentity(init.identity);
    await this.#files.saveState(state);
    await this.#startMember(state, init.identity);
    log.info({ nodeId: init.nodeId, clusterId: init.clusterId }, 'cluster initialised');
    const target = formatHostPort(advertise);
    return {
      nodeId: init.nodeId,
      workerJoinCommand: `vxmesh swarm join --token ${init.tokens.worker} ${target}`,
      managerJoinCommand: `vxmesh swarm join --token ${init.tokens.manager} ${target}`,
    };
  }

  async swarmJoin(req: SwarmJoinRequest): Promise<SwarmJoinResponse> {
    if (await this.#memberWithValidCertificate()) {
      throw new VxmeshError('FAILED_PRECONDITION', ALREADY_MEMBER);
    }
    const remote = parseHostPort(req.remoteAddr, DEFAULT_CLUSTER_PORT, 'remote-addr');
    const { listen, advertise } = await listenAndAdvertise(req, () => localAddressToward(remote));
    const dataPathAddr = req.dataPathAddr ? parseIp(req.dataPathAddr, 'data-path-addr') : advertise.host;
    const joined = await joinCluster({
      remote,
      token: req.token,
      hostname: this.#opts.hostname,
      advertiseAddr: formatHostPort(advertise),
      dataPathAddr,
      availability:
        req.availability === NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED
          ? NodeAvailability.NODE_AVAILABILITY_ACTIVE
          : req.availability,
    });
    // Replaces the state of an expired membership, if any.
    await this.#stopMember();
    await this.#files.clear();
    const manager = joined.role === NodeRole.NODE_ROLE_MANAGER;
    const state: NodeState = {
      version: 1,
      nodeId: joined.nodeId,
      clusterId: joined.clusterId,
      role: manager ? 'manager' : 'worker',
      managerAddrs: joined.managerAddrs,
      listenAddr: formatHostPort(listen),
      advertiseAddr: formatHostPort(advertise),
      dataPathAddr,
      store: manager ? { kind: 'etcd', endpoints: joined.etcdEndpoints } : { kind: 'embedded' },
    };
    await this.#files.saveIdentity(joined.identity);
    await this.#files.saveState(state);
    await this.#startMember(state, joined.identity);
    log.info({ nodeId: joined.nodeId, role: state.role }, 'joined cluster');
    return { nodeId: joined.nodeId, role: joined.role };
  }

  async swarmLeave(force: boolean): Promise<void> {
    const state = this.#state;
    if (!state) {
      throw new VxmeshError('FAILED_PRECONDITION', 'This node is not part of a swarm');
    }
    if (state.role === 'manager' && !force) {
      const managers = this.#manager
        ? (await this.#manager.registry.list()).filter((n) => n.node.role === NodeRole.NODE_ROLE_MANAGER).length
        : 1;
      if (managers <= 1) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          'You are attempting to leave the swarm on a node that is participating as a manager. ' +
            'Removing the last manager erases all current state of the swarm. Use `--force` to ignore this message.',
        );
      }
    }
    // Leaving takes the node's containers and overlays with it, as the managers forget it.
    const workload = this.#workload;
    if (workload) {
      for (const c of workload.runtime.list(true)) {
        await workload.runtime.remove(c.id, true).catch((err: unknown) => log.warn({ err, id: c.id }, 'could not remove container'));
      }
      for (const a of workload.external.list()) {
        await workload.external
          .release(a.id)
          .catch((err: unknown) => log.warn({ err, id: a.id }, 'could not release an attachment'));
      }
    }
    await this.#stopMember();
    await this.#files.clear();
    log.info({ nodeId: state.nodeId }, 'left the cluster');
  }

  info(): InfoResponse {
    const state = this.#state;
    const session = this.#agent?.state;
    const identity = this.#agent?.identity;
    return {
      localNodeState: state ? 'active' : 'inactive',
      nodeId: state?.nodeId ?? '',
      clusterId: state?.clusterId ?? '',
      role:
        state?.role === 'manager'
          ? NodeRole.NODE_ROLE_MANAGER
          : state
            ? NodeRole.NODE_ROLE_WORKER
            : NodeRole.NODE_ROLE_UNSPECIFIED,
      managerAddrs: [...(this.#agent?.managerAddrs ?? state?.managerAddrs ?? [])],
      sessionState: session?.phase ?? '',
      lastError: session?.phase === 'disconnected' ? session.lastError : '',
      certNotAfter: identity ? certificateIdentity(identity.certPem).notAfter.toISOString() : '',
      agent: this.#agent?.status,
    };
  }

  #localControl(): LocalControlServer {
    return {
      swarmInit: unaryHandler(localAuthorize, (req: SwarmInitRequest) => this.#serialize(() => this.swarmInit(req))),
      swarmJoin: unaryHandler(localAuthorize, (req: SwarmJoinRequest) => this.#serialize(() => this.swarmJoin(req))),
      swarmLeave: unaryHandler(localAuthorize, async (req) => {
        await this.#serialize(() => this.swarmLeave(req.force));
        return {};
      }),
      info: unaryHandler(localAuthorize, () => Promise.resolve(this.info())),
      runContainer: unaryHandler(localAuthorize, async (req) => ({ container: await this.#containers().run(req) })),
      listContainers: unaryHandler(localAuthorize, (req) =>
        Promise.resolve({ containers: this.#containers().list(req.all) }),
      ),
      inspectContainer: unaryHandler(localAuthorize, (req) =>
        Promise.resolve({ container: this.#containers().resolve(req.ref) }),
      ),
      startContainer: unaryHandler(localAuthorize, async (req) => ({ container: await this.#containers().start(req.ref) })),
      stopContainer: unaryHandler(localAuthorize, async (req) => ({
        container: await this.#containers().stop(req.ref, req.timeoutSeconds || undefined),
      })),
      removeContainer: unaryHandler(localAuthorize, async (req) => {
        const removed = await this.#containers().remove(req.ref, req.force);
        return { container: removed.container, warnings: removed.deferred.map((d) => deferredReleaseWarning(removed.container.name, d)) };
      }),
      connectNetwork: unaryHandler(localAuthorize, async (req) => {
        if (!req.network) {
          throw new InvalidArgumentError('network', 'is required');
        }
        return { container: await this.#containers().connect(req.container, req.network) };
      }),
      disconnectNetwork: unaryHandler(localAuthorize, async (req) => {
        await this.#containers().disconnect(req.container, req.network, req.force);
        return {};
      }),
      // Namespaces of other runtimes: the CNI plugin's ADD/DEL/CHECK/GC (issue 11).
      attachNamespace: unaryHandler(localAuthorize, (req) => this.#namespaces().attach(req)),
      detachNamespace: unaryHandler(localAuthorize, (req) => this.#namespaces().detach(req)),
      checkNamespace: unaryHandler(localAuthorize, (req) => this.#namespaces().check(req)),
      gcNamespaces: unaryHandler(localAuthorize, (req) => this.#namespaces().gc(req)),
      listNamespaces: unaryHandler(localAuthorize, () => Promise.resolve(this.#namespaces().list())),
    };
  }

  #namespaces(): NamespaceControl {
    const external = this.#workload?.external;
    if (!external) {
      throw new VxmeshError('FAILED_PRECONDITION', NOT_A_MEMBER);
    }
    return new NamespaceControl(external);
  }

  #containers(): ContainerRuntime {
    const runtime = this.#workload?.runtime;
    if (!runtime) {
      throw new VxmeshError('FAILED_PRECONDITION', NOT_A_MEMBER);
    }
    return runtime;
  }

  /** Forwards cluster-control calls to this node's manager, or refuses them on a worker. */
  #clusterControlDelegate(): ClusterControlServer {
    const methods = Object.keys(ClusterControlService) as (keyof ClusterControlServer)[];
    const delegate = Object.fromEntries(
      methods.map((name) => {
        const handler: handleUnaryCall<unknown, unknown> = (call, callback) => {
          const target = this.#managerControl?.[name] as handleUnaryCall<unknown, unknown> | undefined;
          if (target) {
            target(call, callback);
          } else {
            callback(
              toServiceError(new VxmeshError('FAILED_PRECONDITION', this.#state ? NOT_A_MANAGER : NOT_A_MEMBER)),
            );
          }
        };
        return [name, handler as UntypedHandleCall];
      }),
    );
    return delegate as unknown as ClusterControlServer;
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    await this.#dockerPlugin?.server.close();
    this.#dockerPlugin?.backend.close();
    await this.#lifecycle;
    await this.#stopMember();
    await new Promise<void>((resolve) => this.#socketServer.tryShutdown(() => resolve()));
    await rm(this.#opts.socketPath, { force: true });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The cluster-API listen address (default 0.0.0.0:2377) and the advertised one: as given, else the
 * listen host when it is specific, else `guess()` (init: the host's only address; join: the
 * address the kernel would use toward the manager), with the listen port.
 */
async function listenAndAdvertise(
  req: { readonly listenAddr: string; readonly advertiseAddr: string },
  guess: () => Promise<string>,
): Promise<{ listen: HostPort; advertise: HostPort }> {
  const listen = parseHostPort(req.listenAddr || `0.0.0.0:${DEFAULT_CLUSTER_PORT}`, DEFAULT_CLUSTER_PORT, 'listen-addr');
  if (req.advertiseAddr) {
    return { listen, advertise: parseHostPort(req.advertiseAddr, listen.port, 'advertise-addr') };
  }
  const wildcard = listen.host === '0.0.0.0' || listen.host === '::';
  return { listen, advertise: { host: wildcard ? await guess() : listen.host, port: listen.port } };
}

