import type { EncryptionSpec } from './ipsec/ipsec-spec.js';
import type { LoadBalancingSpec } from './lb/lb-spec.js';

export type * from './ipsec/ipsec-spec.js';
export type * from './lb/lb-spec.js';

/**
 * The desired kernel state of one node, computed by the worker from what the managers assigned
 * and the containers running here. The overlay driver makes the kernel match it; everything in
 * it is plain data so a spec can be compared, logged and saved.
 */
export interface NodeDataplaneSpec {
  /** Prefix of every network namespace this daemon creates (overlays, containers); unique per daemon. */
  readonly namespacePrefix: string;
  /** This node's VXLAN source address (its data-path address). */
  readonly dataPathAddr: string;
  /** The cluster's VXLAN UDP port (4789 unless `swarm init --data-path-port`). */
  readonly dataPathPort: number;
  /** Data-path addresses of every current cluster node: VXLAN from anyone else is dropped and counted. */
  readonly memberVteps: readonly string[];
  readonly overlays: readonly OverlaySpec[];
  /** The docker_gwbridge-like egress bridge; absent when no local container needs egress. */
  readonly egress?: EgressSpec;
  /**
   * Service load balancing: VIPs in container namespaces, the ingress sandbox, published ports
   * (src/vxlan/lb/README.md). Absent: the driver leaves every LB table alone (neither reads nor
   * removes them); present: it owns them (see {@link LoadBalancingSpec}).
   */
  readonly loadBalancing?: LoadBalancingSpec;
  /**
   * IPsec for the overlays marked `encrypted` (src/vxlan/ipsec/README.md). Absent: the kernel
   * cannot enforce it, and no encrypted overlay is built at all (fail closed).
   */
  readonly encryption?: EncryptionSpec;
}

/** One overlay network with at least one local endpoint. */
export interface OverlaySpec {
  readonly networkId: string;
  /** Name of the overlay's own network namespace (holds bridges and VXLAN devices). */
  readonly namespace: string;
  /** MTU of bridges, VXLAN devices and endpoint interfaces. */
  readonly mtu: number;
  /** One bridge + VXLAN device per IPv4 subnet, in network order. */
  readonly subnets: readonly OverlaySubnetSpec[];
  readonly localEndpoints: readonly LocalEndpointSpec[];
  readonly remoteEndpoints: readonly RemoteEndpointSpec[];
  /**
   * `--opt encrypted`: every VXLAN packet of the overlay is ESP-protected between nodes and
   * plaintext for its VNIs is dropped; its VXLAN devices exist only while the kernel enforces
   * that (see `encryption`).
   */
  readonly encrypted?: boolean;
}

export interface OverlaySubnetSpec {
  /** Position in the network's subnet list; names devices `br<index>` / `vxlan<index>`. */
  readonly index: number;
  readonly vni: number;
  /** Gateway with prefix, set on the bridge, e.g. "10.0.1.1/24". */
  readonly gatewayCidr: string;
  /** An IPv6 gateway on the same bridge, e.g. "fd00:1::1/64". */
  readonly ipv6GatewayCidr?: string;
}

/** An interface of a local container on the overlay. */
export interface LocalEndpointSpec {
  readonly endpointId: string;
  /** Which subnet's bridge the endpoint joins. */
  readonly subnetIndex: number;
  /** The container's network namespace (created by the container runtime, not by the driver). */
  readonly containerNamespace: string;
  /** Interface name inside the container: eth0, eth1, ... */
  readonly ifName: string;
  readonly mac: string;
  /** e.g. "10.0.1.5/24". */
  readonly ipv4Cidr?: string;
  readonly ipv6Cidr?: string;
  /** Routes to the network's other IPv4 subnets go through this gateway. */
  readonly gateway: string;
  /** Routes to the network's other IPv6 subnets go through this gateway; required when one is listed. */
  readonly ipv6Gateway?: string;
  /** The network's other subnets (IPv4 via `gateway`, IPv6 via `ipv6Gateway`), for multi-subnet overlays. */
  readonly otherSubnets: readonly string[];
}

/** An endpoint on another node, programmed as a static FDB + neighbour entry. */
export interface RemoteEndpointSpec {
  readonly endpointId: string;
  readonly subnetIndex: number;
  readonly mac: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  /** Data-path address of the node holding the endpoint. */
  readonly vtep: string;
}

/** The local egress bridge and which containers hang off it. */
export interface EgressSpec {
  /** Bridge name in the daemon's (host) namespace. */
  readonly bridge: string;
  /** e.g. "172.18.0.1/16". */
  readonly gatewayCidr: string;
  /** MTU of the bridge and of every attachment's veth; default 1500 (docker_gwbridge's). */
  readonly mtu?: number;
  readonly attachments: readonly EgressAttachmentSpec[];
}

export interface EgressAttachmentSpec {
  readonly containerId: string;
  readonly containerNamespace: string;
  /** Interface name inside the container (after the overlay interfaces). */
  readonly ifName: string;
  /** e.g. "172.18.0.5/16". */
  readonly ipv4Cidr: string;
  /** False when every network of the container is --internal: then no default route at all. */
  readonly defaultRoute: boolean;
}

/** What a reconcile pass did, for logs, tests and `node inspect`. */
export interface ReconcileReport {
  /** Commands applied, per namespace ("" = the daemon's own namespace). */
  readonly commands: ReadonlyMap<string, number>;
  readonly removedNamespaces: readonly string[];
  readonly errors: readonly string[];
  /**
   * Encrypted overlays (network IDs) not built by this pass: the kernel did not enforce their
   * encryption yet, or cannot (ipsec/ipsec-diff.ts).
   */
  readonly heldBack?: readonly string[];
}
