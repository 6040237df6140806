import type { DaemonApi, NetworkRecord, NodeRecord } from '../../../src/cli/daemon-api.js';
import type { Output } from '../../../src/cli/output.js';
import { NotFoundError, VxmeshError } from '../../../src/common/errors.js';
import { ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import type { Container, ContainerNetwork } from '../../../src/gen/vxmesh/v1/container.js';
import type {
  ContainerNetworkRequest,
  CreateNetworkRequest,
  InfoResponse,
  JoinTokens,
  PruneNetworksRequest,
  RunContainerRequest,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
  UpdateNodeRequest,
} from '../../../src/gen/vxmesh/v1/control.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { NodeAvailability, NodeRole } from '../../../src/gen/vxmesh/v1/node.js';

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

  removeContainer(ref: string, force: boolean): Promise<Container> {
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
      return c;
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

  close(): void {
    this.closed = true;
  }
}
