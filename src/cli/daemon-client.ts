import { createConnection } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { InternalError, UnavailableError, VxmeshError } from '../common/errors.js';
import { callUnary } from '../common/rpc/call-unary.js';
import type { UnaryMethod } from '../common/rpc/call-unary.js';
import type { Container } from '../gen/vxmesh/v1/container.js';
import { ClusterControlClient, LocalControlClient } from '../gen/vxmesh/v1/control.js';
import type {
  ContainerNetworkRequest,
  CreateNetworkRequest,
  InfoResponse,
  JoinTokens,
  ListTasksRequest,
  NetworkView,
  NodeView,
  PruneNetworksRequest,
  ServiceTaskLog,
  ServiceView,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
  RunContainerRequest,
  TaskView,
  UpdateNodeRequest,
} from '../gen/vxmesh/v1/control.js';
import type { Network } from '../gen/vxmesh/v1/network.js';
import type { NodeRole } from '../gen/vxmesh/v1/node.js';
import type { ServiceSpec } from '../gen/vxmesh/v1/service.js';
import { TaskStatus } from '../gen/vxmesh/v1/task.js';
import type { DaemonApi, NetworkRecord, NodeRecord, ServiceRecord, TaskRecord } from './daemon-api.js';
import type { DaemonAddress } from './daemon-address.js';

/** The daemon's socket is missing, refuses connections, or may not be opened by this user. */
export class DaemonUnreachableError extends UnavailableError {
  constructor(
    readonly address: DaemonAddress,
    /** errno of a direct connect to the socket (ENOENT, ECONNREFUSED, EACCES, ...). */
    readonly errno: string,
    options?: ErrorOptions,
  ) {
    super(
      errno === 'EACCES' || errno === 'EPERM'
        ? `permission denied while connecting to the vxmesh daemon at ${address.display}: run vxmesh as root`
        : `cannot connect to the vxmesh daemon at ${address.display}: is vxmeshd running?`,
      options,
    );
  }
}

/** How long the reachability probe may take; the socket is local, so this only bounds a hung accept. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Connects to the socket directly and reports the errno, or undefined when it accepts. Used only
 * after an UNAVAILABLE failure, to tell "no daemon" from a daemon that answered UNAVAILABLE
 * itself without parsing grpc-js message text.
 */
function probeSocket(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (errno: string | undefined): void => {
      socket.destroy();
      resolve(errno);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done('ETIMEDOUT'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'ECONNREFUSED'));
  });
}

function present(view: NodeView | undefined, what: string): NodeRecord {
  if (view?.node === undefined) {
    throw new InternalError(`${what}: the daemon answered without a node`);
  }
  return { ...view, node: view.node };
}

function presentNetwork(view: NetworkView | undefined, what: string): NetworkRecord {
  if (view?.network === undefined) {
    throw new InternalError(`${what}: the daemon answered without a network`);
  }
  return { ...view, network: view.network };
}

function presentTokens(tokens: JoinTokens | undefined, what: string): JoinTokens {
  if (tokens === undefined) {
    throw new InternalError(`${what}: the daemon answered without join tokens`);
  }
  return tokens;
}

function presentContainer(container: Container | undefined, what: string): Container {
  if (container === undefined) {
    throw new InternalError(`${what}: the daemon answered without a container`);
  }
  return container;
}

function presentService(view: ServiceView | undefined, what: string): ServiceRecord {
  const service = view?.service;
  if (view === undefined || service?.spec === undefined) {
    throw new InternalError(`${what}: the daemon answered without a service`);
  }
  return { ...view, service: { ...service, spec: service.spec } };
}

function presentTask(view: TaskView, what: string): TaskRecord {
  if (view.task === undefined) {
    throw new InternalError(`${what}: the daemon answered without a task`);
  }
  // A task the scheduler has not touched yet may come without a status: read it as the empty one.
  return { ...view, task: { ...view.task, status: view.task.status ?? TaskStatus.create() } };
}

/**
 * `DaemonApi` over gRPC on the daemon's unix socket. Insecure credentials are deliberate: the
 * socket is root-only, and file permissions are the authentication (as for docker.sock).
 * Both services share one channel, so a command opens one connection.
 */
export class GrpcDaemonClient implements DaemonApi {
  private readonly local: LocalControlClient;
  private readonly cluster: ClusterControlClient;
  private closed = false;

  constructor(private readonly address: DaemonAddress) {
    this.local = new LocalControlClient(address.grpcTarget, credentials.createInsecure());
    this.cluster = new ClusterControlClient(address.grpcTarget, credentials.createInsecure(), {
      channelOverride: this.local.getChannel(),
    });
  }

  private async call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, what: string): Promise<Res> {
    try {
      return await callUnary(method, request, what);
    } catch (err) {
      if (err instanceof VxmeshError && err.code === 'UNAVAILABLE') {
        const errno = await probeSocket(this.address.socketPath);
        if (errno !== undefined) {
          throw new DaemonUnreachableError(this.address, errno, { cause: err });
        }
      }
      throw err;
    }
  }

  swarmInit(request: SwarmInitRequest): Promise<SwarmInitResponse> {
    return this.call(this.local.swarmInit.bind(this.local), request, 'initialize swarm');
  }

  swarmJoin(request: SwarmJoinRequest): Promise<SwarmJoinResponse> {
    return this.call(this.local.swarmJoin.bind(this.local), request, 'join swarm');
  }

  async swarmLeave(force: boolean): Promise<void> {
    await this.call(this.local.swarmLeave.bind(this.local), { force }, 'leave swarm');
  }

  info(): Promise<InfoResponse> {
    return this.call(this.local.info.bind(this.local), {}, 'read daemon info');
  }

  async listNodes(): Promise<NodeRecord[]> {
    const res = await this.call(this.cluster.listNodes.bind(this.cluster), {}, 'list nodes');
    return res.nodes.map((view) => present(view, 'list nodes'));
  }

  async getNode(ref: string): Promise<NodeRecord> {
    const res = await this.call(this.cluster.getNode.bind(this.cluster), { ref }, `inspect node ${ref}`);
    return present(res.node, `inspect node ${ref}`);
  }

  async updateNode(request: UpdateNodeRequest): Promise<NodeRecord> {
    const what = `update node ${request.ref}`;
    const res = await this.call(this.cluster.updateNode.bind(this.cluster), request, what);
    return present(res.node, what);
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.call(this.cluster.removeNode.bind(this.cluster), { ref, force }, `remove node ${ref}`);
  }

  async getJoinTokens(): Promise<JoinTokens> {
    const res = await this.call(this.cluster.getJoinTokens.bind(this.cluster), {}, 'read join tokens');
    return presentTokens(res.tokens, 'read join tokens');
  }

  async rotateJoinToken(role: NodeRole): Promise<JoinTokens> {
    const res = await this.call(this.cluster.rotateJoinToken.bind(this.cluster), { role }, 'rotate join token');
    return presentTokens(res.tokens, 'rotate join token');
  }

  async createNetwork(request: CreateNetworkRequest): Promise<Network> {
    const what = `create network ${request.name}`;
    const res = await this.call(this.cluster.createNetwork.bind(this.cluster), request, what);
    if (res.network === undefined) {
      throw new InternalError(`${what}: the daemon answered without a network`);
    }
    return res.network;
  }

  async listNetworks(): Promise<NetworkRecord[]> {
    const res = await this.call(this.cluster.listNetworks.bind(this.cluster), {}, 'list networks');
    return res.networks.map((view) => presentNetwork(view, 'list networks'));
  }

  async getNetwork(ref: string): Promise<NetworkRecord> {
    const what = `inspect network ${ref}`;
    const res = await this.call(this.cluster.getNetwork.bind(this.cluster), { ref }, what);
    return presentNetwork(res.network, what);
  }

  async removeNetwork(ref: string): Promise<{ readonly wasIngress: boolean }> {
    const res = await this.call(this.cluster.removeNetwork.bind(this.cluster), { ref }, `remove network ${ref}`);
    return { wasIngress: res.wasIngress };
  }

  async pruneNetworks(request: PruneNetworksRequest): Promise<string[]> {
    const res = await this.call(this.cluster.pruneNetworks.bind(this.cluster), request, 'prune networks');
    return res.deletedNames;
  }

  async runContainer(request: RunContainerRequest): Promise<Container> {
    const what = `run container ${request.name}`;
    const res = await this.call(this.local.runContainer.bind(this.local), request, what);
    return presentContainer(res.container, what);
  }

  async listContainers(all: boolean): Promise<Container[]> {
    const res = await this.call(this.local.listContainers.bind(this.local), { all }, 'list containers');
    return res.containers;
  }

  async inspectContainer(ref: string): Promise<Container> {
    const what = `inspect container ${ref}`;
    const res = await this.call(this.local.inspectContainer.bind(this.local), { ref }, what);
    return presentContainer(res.container, what);
  }

  async startContainer(ref: string): Promise<Container> {
    const what = `start container ${ref}`;
    const res = await this.call(this.local.startContainer.bind(this.local), { ref }, what);
    return presentContainer(res.container, what);
  }

  async stopContainer(ref: string, timeoutSeconds: number): Promise<Container> {
    const what = `stop container ${ref}`;
    const res = await this.call(this.local.stopContainer.bind(this.local), { ref, timeoutSeconds }, what);
    return presentContainer(res.container, what);
  }

  async removeContainer(ref: string, force: boolean): Promise<{ container: Container; warnings: string[] }> {
    const what = `remove container ${ref}`;
    const res = await this.call(this.local.removeContainer.bind(this.local), { ref, force }, what);
    return { container: presentContainer(res.container, what), warnings: res.warnings };
  }

  async connectNetwork(container: string, network: ContainerNetworkRequest): Promise<Container> {
    const what = `connect container ${container} to network ${network.network}`;
    const res = await this.call(this.local.connectNetwork.bind(this.local), { container, network }, what);
    return presentContainer(res.container, what);
  }

  async disconnectNetwork(container: string, network: string, force: boolean): Promise<void> {
    const what = `disconnect container ${container} from network ${network}`;
    await this.call(this.local.disconnectNetwork.bind(this.local), { container, network, force }, what);
  }

  async createService(spec: ServiceSpec): Promise<ServiceRecord> {
    const what = `create service ${spec.name}`;
    const res = await this.call(this.cluster.createService.bind(this.cluster), { spec }, what);
    return presentService(res.service, what);
  }

  async updateService(ref: string, spec: ServiceSpec, version: bigint): Promise<ServiceRecord> {
    const what = `update service ${ref}`;
    const res = await this.call(this.cluster.updateService.bind(this.cluster), { ref, spec, version }, what);
    return presentService(res.service, what);
  }

  async removeService(ref: string): Promise<void> {
    await this.call(this.cluster.removeService.bind(this.cluster), { ref }, `remove service ${ref}`);
  }

  async listServices(): Promise<ServiceRecord[]> {
    const res = await this.call(this.cluster.listServices.bind(this.cluster), {}, 'list services');
    return res.services.map((view) => presentService(view, 'list services'));
  }

  async getService(ref: string): Promise<ServiceRecord> {
    const what = `inspect service ${ref}`;
    const res = await this.call(this.cluster.getService.bind(this.cluster), { ref }, what);
    return presentService(res.service, what);
  }

  async listTasks(request: ListTasksRequest): Promise<TaskRecord[]> {
    const what = request.service === '' ? 'list tasks' : `list tasks of service ${request.service}`;
    const res = await this.call(this.cluster.listTasks.bind(this.cluster), request, what);
    return res.tasks.map((view) => presentTask(view, what));
  }

  async serviceLogs(ref: string, tail: number): Promise<ServiceTaskLog[]> {
    const res = await this.call(this.cluster.serviceLogs.bind(this.cluster), { service: ref, tail }, `logs of service ${ref}`);
    return res.logs;
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      // The cluster client rides on the local client's channel; closing that closes both.
      this.local.close();
    }
  }
}
