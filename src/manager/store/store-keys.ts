/** A CIDR as one key segment: "10.0.1.0/24" → "10.0.1.0_24" ('/' would split the key). */
const cidrSegment = (cidr: string): string => cidr.replace('/', '_');

/**
 * Key layout of cluster state. Every key lives under the store's namespace; bumping the `v1`
 * segment is how an incompatible layout change would be introduced.
 * The network and IPAM keys are described in src/manager/ipam/README.md.
 */
export const storeKeys = {
  cluster: 'v1/cluster',
  caSecret: 'v1/ca',
  joinTokens: 'v1/join-tokens',
  nodesPrefix: 'v1/nodes/',
  node: (id: string): string => `v1/nodes/${id}`,

  /** Network records (protobuf `Network`), by ID. */
  networksPrefix: 'v1/networks/',
  network: (id: string): string => `v1/networks/${id}`,
  /** One key per running manager, attached to its lease: present means serving. Value: advertise address. */
  managersPrefix: 'v1/managers/',
  manager: (nodeId: string): string => `v1/managers/${nodeId}`,
  /** Which manager holds a node's session, attached to that manager's lease. Value: manager node ID. */
  sessionsPrefix: 'v1/sessions/',
  session: (nodeId: string): string => `v1/sessions/${nodeId}`,
  /** Endpoint records (protobuf `Endpoint`), by ID; the dispatcher watches this prefix. */
  endpointsPrefix: 'v1/endpoints/',
  endpoint: (id: string): string => `v1/endpoints/${id}`,
  /** Owner-name index of endpoints per network (value: endpoint ID); makes container names unique per network. */
  endpointNamesPrefix: (networkId: string): string => `v1/endpoint-names/${networkId}/`,
  /** Name index: value is the network ID; makes names unique. */
  networkName: (name: string): string => `v1/network-names/${name}`,
  /** Holds the ID of the ingress network; makes it unique. */
  ingressNetwork: 'v1/network-ingress',
  /** Present while a removal of the network is in progress; attach transactions refuse it. */
  networkRemoval: (id: string): string => `v1/network-removals/${id}`,
  /** Everything that uses a network (endpoints, services) registers a key under here. */
  networkAttachmentsPrefix: (id: string): string => `v1/network-attachments/${id}/`,

  /** Service records (protobuf `Service`), by ID. */
  servicesPrefix: 'v1/services/',
  service: (id: string): string => `v1/services/${id}`,
  /** Name index of services: value is the service ID; makes names unique. */
  serviceName: (name: string): string => `v1/service-names/${name}`,
  /** Published ports, cluster-wide: value is the service ID; makes a port+protocol unique. */
  publishedPort: (protocol: string, port: number): string => `v1/published-ports/${protocol}/${port}`,
  /** Task records (protobuf `Task`), by ID. */
  tasksPrefix: 'v1/tasks/',
  task: (id: string): string => `v1/tasks/${id}`,

  /** Subnet claims of every network plus the guard key, read together by one range. */
  subnetClaimsPrefix: 'v1/ipam/subnets/',
  /** Rewritten by every transaction that adds claims, so two creates that read the same claims can't both commit. */
  subnetClaimsGuard: 'v1/ipam/subnets/guard',
  subnetClaim: (cidr: string): string => `v1/ipam/subnets/claims/${cidrSegment(cidr)}`,

  /** The cluster-wide VNI bitmap (cursor + chunks). */
  vniBitmapPrefix: 'v1/ipam/vnis/',

  /** Address bitmaps of every network. */
  addressesPrefix: 'v1/ipam/addresses/',
  /** Address bitmaps of every subnet of a network. */
  networkAddressesPrefix: (networkId: string): string => `v1/ipam/addresses/${networkId}/`,
  /** Address bitmap (cursor + chunks) of one subnet. */
  subnetAddressesPrefix: (networkId: string, cidr: string): string =>
    `v1/ipam/addresses/${networkId}/${cidrSegment(cidr)}/`,
  /**
   * Sweep epoch of one subnet (value: ms of the sweep, informational): rewritten by every sweep
   * step that may free addresses; owner writes and give-backs compare its modRevision (ipam/
   * address-fence.ts). Under the subnet's prefix: read with its bitmap, deleted with the network.
   */
  subnetSweepEpoch: (networkId: string, cidr: string): string =>
    `v1/ipam/addresses/${networkId}/${cidrSegment(cidr)}/swept`,
} as const;
