/**
 * What the embedded DNS serves, as plain data: the networks and endpoints this node knows of
 * (pushed by the managers, plus the local containers' own attachments) and the local containers
 * that ask. Built from assignments by `dnsStateFromAssignments`; tests build it by hand.
 *
 * Services add `<service>` and its aliases (→ VIP, or the serving task addresses in dnsrr mode),
 * `tasks.<service>` / `tasks.<alias>` (→ serving task addresses) and SRV `_<port>._<proto>.<service>`
 * (see service-records.ts).
 */
export interface DnsState {
  readonly networks: readonly DnsNetwork[];
  readonly endpoints: readonly DnsEndpoint[];
  readonly containers: readonly DnsContainer[];
  /** Absent: no services (states built by hand in tests). */
  readonly services?: readonly DnsService[];
}

/** A service as DNS needs it. Its task addresses are the serving endpoints carrying its name. */
export interface DnsService {
  readonly id: string;
  readonly name: string;
  /** dnsrr: the name resolves to the task addresses; vip: to the VIP of the asker's network. */
  readonly endpointMode: 'vip' | 'dnsrr';
  /** Networks of the service with its aliases there. */
  readonly networks: readonly { readonly networkId: string; readonly aliases: readonly string[] }[];
  /** VIPs with or without prefix length. */
  readonly vips: readonly { readonly networkId: string; readonly addr: string }[];
  /** Target ports, for SRV. */
  readonly ports: readonly { readonly protocol: string; readonly port: number }[];
}

/** An overlay network some local container may be attached to. */
export interface DnsNetwork {
  readonly id: string;
  /** The network's name; `<name>.<network>` resolves with it. */
  readonly name: string;
  /** CIDRs of its subnets (IPv4 and IPv6); reverse lookups inside them are never forwarded. */
  readonly subnets: readonly string[];
  /** No egress: a container only on internal networks gets no forwarding. */
  readonly internal: boolean;
}

/** An interface of a container (local or on another node) on one network. */
export interface DnsEndpoint {
  readonly id: string;
  readonly networkId: string;
  /** Container (or task) name: resolvable and the PTR target `<ownerName>.<network>`. */
  readonly ownerName: string;
  /** Container hostname, also resolvable; '' for none. */
  readonly hostname: string;
  /** Network-scoped aliases (--network-alias, connect --alias); several endpoints may share one. */
  readonly aliases: readonly string[];
  /** Address with or without prefix length ("10.0.1.5/24"); '' for none. */
  readonly ipv4Address: string;
  readonly ipv6Address: string;
  /** A task endpoint: its service's name ('' for a container). */
  readonly serviceName?: string;
  /** A task endpoint answers for its service only while serving (running, not being stopped). */
  readonly serving?: boolean;
}

/** A local container: the resolver in its namespace answers it from its own networks only. */
export interface DnsContainer {
  readonly id: string;
  readonly namespace: string;
  /** Attached networks in interface order (detached ones are left out); names resolve in this order. */
  readonly networks: readonly DnsContainerNetwork[];
  /** --dns servers; empty: the host's resolv.conf servers. */
  readonly dns: readonly string[];
}

export interface DnsContainerNetwork {
  readonly networkId: string;
  readonly networkName: string;
  /** --link entries given on this network, `NAME:ALIAS` or `NAME`. */
  readonly links: readonly string[];
}

/** The state with nothing in it. */
export const EMPTY_DNS_STATE: DnsState = { networks: [], endpoints: [], containers: [], services: [] };
