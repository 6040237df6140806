import type { Container } from '../gen/vxmesh/v1/container.js';
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
import type { Node, NodeRole } from '../gen/vxmesh/v1/node.js';
import type { Service, ServiceSpec } from '../gen/vxmesh/v1/service.js';
import type { Task, TaskStatus } from '../gen/vxmesh/v1/task.js';

/** A node view whose node is present (the client rejects answers without one). */
export type NodeRecord = Omit<NodeView, 'node'> & { readonly node: Node };

/** A network view whose network is present (the client rejects answers without one). */
export type NetworkRecord = Omit<NetworkView, 'network'> & { readonly network: Network };

/** A service view whose service and spec are present (the client rejects answers without them). */
export type ServiceRecord = Omit<ServiceView, 'service'> & {
  readonly service: Service & { readonly spec: ServiceSpec };
};

/** A task view whose task is present and has a status (an absent status reads as the empty one). */
export type TaskRecord = Omit<TaskView, 'task'> & { readonly task: Task & { readonly status: TaskStatus } };

/**
 * What the CLI asks of its local daemon: the LocalControl and ClusterControl services of
 * control.proto as promises. Container methods are LocalControl's: they act on this node only. Every method fails with a `VxmeshError` whose message can be shown
 * to the user as is; a daemon that cannot be reached fails with `DaemonUnreachableError`.
 * ClusterControl methods fail with FAILED_PRECONDITION on a node that is not a manager.
 */
export interface DaemonApi {
  swarmInit(request: SwarmInitRequest): Promise<SwarmInitResponse>;
  swarmJoin(request: SwarmJoinRequest): Promise<SwarmJoinResponse>;
  swarmLeave(force: boolean): Promise<void>;
  info(): Promise<InfoResponse>;
  listNodes(): Promise<NodeRecord[]>;
  /** Resolves a full ID, unique ID prefix or hostname; NOT_FOUND when nothing matches. */
  getNode(ref: string): Promise<NodeRecord>;
  /** Changes the fields of `request` that are not UNSPECIFIED. */
  updateNode(request: UpdateNodeRequest): Promise<NodeRecord>;
  removeNode(ref: string, force: boolean): Promise<void>;
  getJoinTokens(): Promise<JoinTokens>;
  /** Replaces the token of `role`; the old one stops working at once. */
  rotateJoinToken(role: NodeRole): Promise<JoinTokens>;
  /** Creates an overlay network and returns it with its subnets, gateways and VNIs allocated. */
  createNetwork(request: CreateNetworkRequest): Promise<Network>;
  listNetworks(): Promise<NetworkRecord[]>;
  /** Resolves a full ID, unique ID prefix or name; NOT_FOUND when nothing matches. */
  getNetwork(ref: string): Promise<NetworkRecord>;
  /** Refused while the network is in use; resolves to whether it was the ingress network. */
  removeNetwork(ref: string): Promise<{ readonly wasIngress: boolean }>;
  /** Removes unused networks (never ingress) matching the filters; resolves to their names. */
  pruneNetworks(request: PruneNetworksRequest): Promise<string[]>;
  /** Creates a container on this node, attaches it and, unless `createOnly`, starts its command. */
  runContainer(request: RunContainerRequest): Promise<Container>;
  /** This node's containers, newest first; only running ones unless `all`. */
  listContainers(all: boolean): Promise<Container[]>;
  /** Resolves a full ID, unique ID prefix or name; NOT_FOUND when nothing matches. */
  inspectContainer(ref: string): Promise<Container>;
  /** Re-attaches and starts a stopped container; a running one is left as is. */
  startContainer(ref: string): Promise<Container>;
  /** SIGTERM, then SIGKILL after `timeoutSeconds` (0: the daemon's default, 10 s). */
  stopContainer(ref: string, timeoutSeconds: number): Promise<Container>;
  /**
   * Refused for a running container unless `force`. `warnings`: endpoints the managers could not
   * remove yet (the daemon keeps releasing them); the removal itself succeeded.
   */
  removeContainer(ref: string, force: boolean): Promise<{ container: Container; warnings: string[] }>;
  /** Attaches a container to one more (attachable) network. */
  connectNetwork(container: string, network: ContainerNetworkRequest): Promise<Container>;
  /** Detaches a container from a network; `force` also removes an endpoint whose container is gone. */
  disconnectNetwork(container: string, network: string, force: boolean): Promise<void>;
  /**
   * Creates a service: the managers validate the spec (errors name the flag), resolve network
   * names, refuse published ports held by another service and allocate its virtual IPs.
   */
  createService(spec: ServiceSpec): Promise<ServiceRecord>;
  /**
   * Replaces the spec of the service `ref` (full ID, unique ID prefix or name). `version` is the
   * `version` the spec was read at; a service changed since then is refused (0n skips the check).
   */
  updateService(ref: string, spec: ServiceSpec, version: bigint): Promise<ServiceRecord>;
  /** Removes a service; its tasks are stopped in the background. NOT_FOUND when nothing matches. */
  removeService(ref: string): Promise<void>;
  listServices(): Promise<ServiceRecord[]>;
  /** Resolves a full ID, unique ID prefix or name; NOT_FOUND when nothing matches. */
  getService(ref: string): Promise<ServiceRecord>;
  /**
   * Tasks of `request.service` (name, ID or unique ID prefix; "" for every service) on
   * `request.node` (ID or hostname; "" for every node), history included, newest first per slot.
   */
  listTasks(request: ListTasksRequest): Promise<TaskRecord[]>;
  /**
   * The output of every task of a service that ran on a node, gathered by the managers from the
   * nodes (the last `tail` lines each; 0: all). A node that cannot answer gives an entry with `err`.
   */
  serviceLogs(ref: string, tail: number): Promise<ServiceTaskLog[]>;
  /** Releases the connection. Idempotent. */
  close(): void;
}
