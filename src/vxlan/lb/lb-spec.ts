/**
 * The load-balancing part of a {@link NodeDataplaneSpec} (docs/services.md, "Load balancing"):
 * plain data computed by the worker (src/worker/lb-spec-builder.ts) from the services, task
 * endpoints and local containers, made real by the driver as one nftables table per namespace.
 * IPv4 only, like docker's routing mesh.
 */

/** Transport protocols a frontend or a published port can have. */
export type LbProtocol = 'tcp' | 'udp';

/** Which packets a namespace's table load-balances. */
export type LbHook =
  /** Connections the namespace itself opens (a container reaching a service VIP). */
  | 'output'
  /** Connections arriving from outside (the ingress sandbox forwarding published ports). */
  | 'prerouting';

/** A task serving a frontend: where connections go. */
export interface LbBackendSpec {
  /** IPv4 address, no prefix length. */
  readonly addr: string;
  readonly port: number;
}

/** One address . protocol . port that is spread over its backends. */
export interface LbFrontendSpec {
  /** IPv4 address (a VIP, or the ingress sandbox's egress address), no prefix length. */
  readonly addr: string;
  readonly protocol: LbProtocol;
  readonly port: number;
  /**
   * Serving backends, any order (the driver sorts them). Empty: the frontend is left out of the
   * kernel, so connections to it are not rewritten at all.
   */
  readonly backends: readonly LbBackendSpec[];
}

/** The load-balancing table (`ip vxmesh_lb`) of one namespace. */
export interface LbNamespaceSpec {
  /** A named namespace: a local container's, or the ingress sandbox. */
  readonly namespace: string;
  readonly hook: LbHook;
  /**
   * Interface out of which DNATed connections are masqueraded (the ingress sandbox's `eth0`), so
   * replies come back through this namespace; absent: the client's address is kept. A namespace
   * with this set also gets `net.ipv4.ip_forward=1`, since it forwards.
   */
  readonly masqueradeOut?: string;
  readonly frontends: readonly LbFrontendSpec[];
}

/** A port published on every local address of the daemon's namespace (`ip vxmesh_publish`). */
export interface PublishedPortSpec {
  readonly protocol: LbProtocol;
  /** The published port, kept as the match on the node's local addresses. */
  readonly port: number;
  /**
   * Where the connection is DNATed: the ingress sandbox's egress address with the same port
   * (ingress mode), or the local task's egress address and target port (host mode).
   */
  readonly target: LbBackendSpec;
  /** For logs and inspection only. */
  readonly mode: 'ingress' | 'host';
}

/**
 * The ingress sandbox of this node: a namespace holding the node's ingress endpoint (eth0, an
 * ordinary local endpoint of the ingress overlay) and an egress-bridge port (eth1, an ordinary
 * egress attachment). The daemon creates and deletes the namespace itself (like a container's);
 * the driver only programs it.
 */
export interface IngressSandboxSpec {
  readonly namespace: string;
  /** Its address on the egress bridge, no prefix length: the published ports' DNAT target. */
  readonly egressAddr: string;
  /**
   * Local tasks on the ingress network: ingress address → the task's egress address (both without
   * prefix length; the task's default route must be its egress attachment). An ingress-mode port
   * whose sandbox frontend has such a backend is balanced in the daemon namespace already: the
   * connections of the local backends' slots are DNATed straight to the task's egress address
   * (the client's address is kept, no sandbox, no masquerade), the others go to the sandbox, which
   * hashes them to the same slot and so to the same remote backend (lb/README.md).
   */
  readonly localBackends?: readonly { readonly addr: string; readonly egressAddr: string }[];
}

/**
 * Everything load-balanced on the node. When a spec carries this section, the driver owns the
 * `ip vxmesh_lb` table of every namespace the spec names (container namespaces of overlays and
 * egress, and the ones listed here) and the `ip vxmesh_publish` table of the daemon namespace:
 * a namespace not listed in `namespaces` has its table removed, and without published ports the
 * publish table goes. Without the section the driver neither reads nor touches those tables.
 */
export interface LoadBalancingSpec {
  readonly namespaces: readonly LbNamespaceSpec[];
  readonly publishedPorts: readonly PublishedPortSpec[];
  readonly ingressSandbox?: IngressSandboxSpec;
}
