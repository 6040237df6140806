import { experimental, Server } from '@grpc/grpc-js';
import { UnavailableError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { formatHostPort } from '../common/net/host-port.js';
import type { HostPort } from '../common/net/host-port.js';
import type { Authorize } from '../common/rpc/server-handlers.js';
import { MutableCertificateProvider } from '../common/tls/mutable-certificate-provider.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';
import type { Clock } from '../common/clock.js';
import type { KvStore } from '../kvstore/index.js';
import { CertificateAuthorityService } from '../gen/vxmesh/v1/ca.js';
import type { Cluster } from '../gen/vxmesh/v1/cluster.js';
import { ClusterControlService } from '../gen/vxmesh/v1/control.js';
import type { ClusterControlServer } from '../gen/vxmesh/v1/control.js';
import { DispatcherService } from '../gen/vxmesh/v1/dispatcher.js';
import { HealthService, ServingStatus } from '../gen/vxmesh/v1/health.js';
import { clusterAuthorizer } from './api/authorization.js';
import { clusterControlServer } from './api/cluster-control.js';
import { certificateAuthorityServer } from './ca/ca-service.js';
import { readCluster } from './cluster-records.js';
import { ClusterView } from './dispatcher/cluster-view.js';
import { ResourceAllocatorService } from '../gen/vxmesh/v1/resource.js';
import { resourceAllocatorServer } from './api/resource-allocator.js';
import { EndpointService } from './endpoints/endpoint-service.js';
import { Dispatcher } from './dispatcher/dispatcher.js';
import type { DispatcherOptions } from './dispatcher/dispatcher.js';
import { AddressAllocator } from './ipam/address-allocator.js';
import { AddressSweeper } from './ipam/address-sweeper.js';
import type { AddressSweeperOptions } from './ipam/address-sweeper.js';
import { NodeRegistry } from './node-registry.js';
import { ManagerPresence } from './manager-presence.js';
import { KeyManager } from './keys/index.js';
import { Orchestrator } from './services/orchestrator.js';
import type { OrchestratorOptions } from './services/orchestrator.js';
import { ServiceService } from './services/service-service.js';
import { TaskStatusRecorder } from './services/task-status.js';
import { unaryHandler } from '../common/rpc/server-handlers.js';

const log = createLogger('manager');

export interface ManagerOptions {
  readonly store: KvStore;
  readonly nodeId: string;
  readonly identity: TlsIdentity;
  readonly listen: HostPort;
  /** "host:port" other nodes reach this manager on. */
  readonly advertiseAddr: string;
  readonly clock: Clock;
  /** Batching and fault injection for the dispatcher (tests and benchmarks). */
  readonly dispatcherTuning?: Pick<DispatcherOptions, 'batchWindowMs' | 'batchLimit' | 'outboundFilter'>;
  /**
   * Timing of the service orchestrator (runs while this manager leads), or false for none: tests
   * of the dispatcher alone that must not see ingress endpoints or tasks appear.
   */
  readonly orchestrator?: false | Pick<OrchestratorOptions, 'periodMs' | 'debounceMs' | 'concurrency'>;
  /** Rotation period of the IPsec key ring of encrypted overlays (issue 9); default 12 h. */
  readonly networkKeyRotationMs?: number;
  /**
   * Timing of the sweep that frees addresses no endpoint or VIP holds (runs while this manager
   * leads; defaults 5 min and 60 s), or false for none.
   */
  readonly addressSweep?: false | Pick<AddressSweeperOptions, 'sweepIntervalMs' | 'minOrphanAgeMs'>;
}

/**
 * The manager role of a node: serves the CA, the dispatcher and cluster control on the cluster
 * port with mutual TLS, over the state in the store. Owns the gRPC server and the registry; the
 * store is the caller's.
 */
export class Manager implements AsyncDisposable {
  readonly cluster: Cluster;
  readonly registry: NodeRegistry;
  readonly view: ClusterView;
  readonly presence: ManagerPresence;
  readonly dispatcher: Dispatcher;
  /** Address allocation for endpoints, VIPs and tasks (one per manager: it caches and batches). */
  readonly addresses: AddressAllocator;
  /** Service API operations (any manager). */
  readonly services: ServiceService;
  /** Keeps tasks as the services say; passes run only while this manager leads. Absent when disabled. */
  readonly orchestrator: Orchestrator | undefined;
  /** The IPsec key ring (src/manager/keys): created and rotated while this manager leads. */
  readonly networkKeys: KeyManager;
  /** Frees leaked addresses while this manager leads (`lastSweep`, `releasedTotal`). Absent when disabled. */
  readonly addressSweeper: AddressSweeper | undefined;
  readonly #opts: ManagerOptions;
  readonly #server: Server;
  readonly #certificates: MutableCertificateProvider;
  #closed = false;

  private constructor(
    opts: ManagerOptions,
    cluster: Cluster,
    registry: NodeRegistry,
    view: ClusterView,
    presence: ManagerPresence,
    server: Server,
  ) {
    this.#opts = opts;
    this.cluster = cluster;
    this.registry = registry;
    this.view = view;
    this.presence = presence;
    this.#server = server;
    this.#certificates = new MutableCertificateProvider(opts.identity);
    this.addresses = new AddressAllocator(opts.store, { clock: opts.clock });
    this.services = new ServiceService(opts.store, this.addresses, opts.clock, registry);
    const taskStatus = new TaskStatusRecorder(opts.store, opts.clock);
    this.orchestrator =
      opts.orchestrator === false
        ? undefined
        : new Orchestrator({
            store: opts.store,
            allocator: this.addresses,
            clock: opts.clock,
            leaderFence: () => presence.leaderFence(),
            ...opts.orchestrator,
          });
    this.networkKeys = new KeyManager({
      store: opts.store,
      clock: opts.clock,
      leaderFence: () => presence.leaderFence(),
      ...(opts.networkKeyRotationMs === undefined ? {} : { rotationIntervalMs: opts.networkKeyRotationMs }),
    });
    this.addressSweeper =
      opts.addressSweep === false
        ? undefined
        : new AddressSweeper({
            store: opts.store,
            clock: opts.clock,
            leaderFence: () => presence.leaderFence(),
            ...opts.addressSweep,
          });
    const authorize = clusterAuthorizer(registry, cluster.id);
    this.dispatcher = new Dispatcher({
      store: opts.store,
      registry,
      view,
      presence,
      clock: opts.clock,
      heartbeatPeriodMs: cluster.heartbeatPeriodMs,
      dataPathPort: cluster.dataPathPort,
      authorize,
      reportTaskStatus: (nodeId, updates) => taskStatus.report(nodeId, updates),
      ...opts.dispatcherTuning,
    });
    server.addService(
      CertificateAuthorityService,
      certificateAuthorityServer({ store: opts.store, registry, clock: opts.clock, authorize }),
    );
    server.addService(DispatcherService, this.dispatcher.server);
    server.addService(
      ResourceAllocatorService,
      resourceAllocatorServer(new EndpointService(opts.store, this.addresses, opts.clock), authorize(['worker', 'manager'])),
    );
    server.addService(ClusterControlService, this.clusterControl(authorize(['manager'])));
    server.addService(HealthService, {
      check: unaryHandler(authorize(['anonymous', 'worker', 'manager']), () =>
        Promise.resolve({ status: ServingStatus.SERVING_STATUS_SERVING }),
      ),
    });
  }

  /** Loads the cluster from the store and starts serving on `opts.listen`. */
  static async start(opts: ManagerOptions): Promise<Manager> {
    const cluster = await readCluster(opts.store);
    const registry = new NodeRegistry(opts.store, opts.clock);
    await registry.start();
    const view = new ClusterView(opts.store);
    await view.start();
    const presence = new ManagerPresence({
      store: opts.store,
      clock: opts.clock,
      nodeId: opts.nodeId,
      // A dead manager's sessions lapse within about three heartbeat periods.
      ttlSeconds: Math.max(2, Math.ceil((3 * cluster.heartbeatPeriodMs) / 1000)),
    });
    const manager = new Manager(
      opts,
      cluster,
      registry,
      view,
      presence,
      new Server({
        'grpc.keepalive_permit_without_calls': 1,
        // Nothing here serves channelz, and grpc-js otherwise keeps a tracker and counters per
        // connection and four closures per call for it: memory on each of thousands of idle
        // agent sessions.
        'grpc.enable_channelz': 0,
      }),
    );
    try {
      await manager.#listen();
      await presence.start(opts.advertiseAddr);
    } catch (err) {
      await presence.close();
      await view.close();
      await registry.close();
      throw err;
    }
    manager.dispatcher.start();
    manager.networkKeys.start();
    manager.addressSweeper?.start();
    try {
      await manager.orchestrator?.start();
    } catch (err) {
      await manager.close();
      throw err;
    }
    log.info({ nodeId: opts.nodeId, clusterId: cluster.id, listen: formatHostPort(opts.listen) }, 'manager started');
    return manager;
  }

  async #listen(): Promise<void> {
    // Client certificates are requested and verified but not required: joining nodes have none yet,
    // and each method's policy decides whether an anonymous caller may proceed.
    const credentials = experimental.createCertificateProviderServerCredentials(
      this.#certificates,
      this.#certificates,
      false,
    );
    const address = formatHostPort(this.#opts.listen);
    await new Promise<number>((resolve, reject) => {
      this.#server.bindAsync(address, credentials, (err, port) => {
        if (err) {
          reject(new UnavailableError(`cannot listen on ${address}: ${err.message}`, { cause: err }));
        } else {
          resolve(port);
        }
      });
    });
  }

  /** The cluster-control handlers under a given authorization (manager certs, or the local socket). */
  clusterControl(authorize: Authorize): ClusterControlServer {
    return clusterControlServer(
      {
        store: this.#opts.store,
        registry: this.registry,
        clock: this.#opts.clock,
        leaderId: () => this.presence.leaderId(),
        isServing: (nodeId) => this.presence.isServing(nodeId),
        agentStatus: (nodeId) => this.dispatcher.agentStatus(nodeId),
        requestTaskLogs: (nodeId, taskIds, tail) => this.dispatcher.requestTaskLogs(nodeId, taskIds, tail),
        services: this.services,
      },
      authorize,
    );
  }

  /** Serves a renewed certificate from now on. */
  updateIdentity(identity: TlsIdentity): void {
    this.#certificates.update(identity);
  }

  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    // First, while this manager still holds its lease: no orchestrator write is left in flight.
    await this.orchestrator?.close();
    await this.networkKeys.close();
    await this.addressSweeper?.close();
    await this.dispatcher.close();
    await this.presence.close();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#server.forceShutdown();
        resolve();
      }, 2000);
      timer.unref();
      this.#server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.view.close();
    await this.registry.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
