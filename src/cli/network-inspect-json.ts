import type { Endpoint } from '../gen/vxmesh/v1/endpoint.js';
import type { SubnetAllocation, SubnetUsage } from '../gen/vxmesh/v1/network.js';
import type { NetworkRecord } from './daemon-api.js';
import { goMap } from './go-map.js';
import { jsonText } from './json-text.js';
import { NETWORK_SCOPE } from './network-list-filter.js';
import { rfc3339FromMillis } from './time-text.js';

/** One entry of docker's `IPAM.Config`; empty fields are omitted, as Go's `omitempty` does. */
export interface DockerIpamConfig {
  readonly Subnet?: string;
  readonly IPRange?: string;
  readonly Gateway?: string;
  readonly AuxiliaryAddresses?: Readonly<Record<string, string>>;
}

/** docker's `SubnetStatus`: uint64 counters, kept exact. */
export interface DockerSubnetStatus {
  readonly IPsInUse: bigint;
  readonly DynamicIPsAvailable: bigint;
}

/**
 * One entry of docker's `Containers` map (`EndpointResource`), with docker's fields in docker's
 * order, plus the endpoint's network-scoped aliases.
 */
export interface DockerNetworkContainer {
  /** Container (or task) name. */
  readonly Name: string;
  readonly EndpointID: string;
  readonly MacAddress: string;
  /** With prefix length, e.g. "10.0.1.5/24", as docker prints it; "" without IPv4. */
  readonly IPv4Address: string;
  readonly IPv6Address: string;
  /**
   * vxmesh's own addition (docker shows aliases only in container inspect): --network-alias /
   * connect --alias on this network; [] when none, so `jq '.Aliases[]'` works on every entry.
   */
  readonly Aliases: readonly string[];
}

/**
 * docker's `network.Inspect` of a swarm overlay (REFERENCE.md section 8.1), with its field names
 * and order, so `jq` filters written for `docker network inspect` work unchanged. `Containers`
 * lists every endpoint on the network cluster-wide (docker lists only the answering node's
 * containers), keyed by container ID. `Peers` appears when nodes serve the network, and `Services` appears only
 * with docker's --verbose, which vxmesh does not offer yet. `Status` is the per-subnet usage
 * docker 29 prints; vxmesh always has it.
 */
export interface DockerNetworkJson {
  readonly Name: string;
  readonly Id: string;
  /** RFC 3339 with nanoseconds, as Go prints a time.Time. */
  readonly Created: string;
  readonly Scope: string;
  readonly Driver: string;
  /** Always true for swarm networks (docker's BasicNetworkFromGRPC hard-codes it). */
  readonly EnableIPv4: true;
  readonly EnableIPv6: boolean;
  readonly IPAM: {
    readonly Driver: string;
    /** null when no --ipam-opt was given, as in docker's output for overlays. */
    readonly Options: Readonly<Record<string, string>> | null;
    readonly Config: readonly DockerIpamConfig[];
  };
  readonly Internal: boolean;
  readonly Attachable: boolean;
  readonly Ingress: boolean;
  /** vxmesh has no config-only networks, so both keep docker's zero values. */
  readonly ConfigFrom: { readonly Network: string };
  readonly ConfigOnly: false;
  /** Keyed by container ID (endpoint ID for an endpoint without owner), sorted as Go writes maps. */
  readonly Containers: Readonly<Record<string, DockerNetworkContainer>>;
  /** Driver options as the manager recorded them, including the vxlanid_list written back. */
  readonly Options: Readonly<Record<string, string>>;
  readonly Labels: Readonly<Record<string, string>>;
  /**
   * The nodes serving the network (docker's `Peers`, omitted when empty as docker's omitempty
   * does), with vxmesh's `MTU`: the overlay MTU each node reported programming, when known.
   */
  readonly Peers?: readonly { readonly Name: string; readonly IP: string; readonly MTU?: number }[];
  readonly Status: {
    readonly IPAM: { readonly Subnets: Readonly<Record<string, DockerSubnetStatus>> };
  };
}

function ipamConfig(subnet: SubnetAllocation): DockerIpamConfig {
  return {
    ...(subnet.subnet === '' ? {} : { Subnet: subnet.subnet }),
    ...(subnet.ipRange === '' ? {} : { IPRange: subnet.ipRange }),
    ...(subnet.gateway === '' ? {} : { Gateway: subnet.gateway }),
    ...(Object.keys(subnet.auxAddresses).length === 0 ? {} : { AuxiliaryAddresses: goMap(subnet.auxAddresses) }),
  };
}

function subnetStatuses(usage: readonly SubnetUsage[]): Record<string, DockerSubnetStatus> {
  return goMap(Object.fromEntries(usage.map((u) => [u.subnet, { IPsInUse: u.inUse, DynamicIPsAvailable: u.free }])));
}

function networkContainer(endpoint: Endpoint): DockerNetworkContainer {
  return {
    Name: endpoint.ownerName,
    EndpointID: endpoint.id,
    MacAddress: endpoint.macAddress,
    IPv4Address: endpoint.ipv4Address,
    IPv6Address: endpoint.ipv6Address,
    Aliases: [...endpoint.aliases],
  };
}

function networkContainers(endpoints: readonly Endpoint[]): Record<string, DockerNetworkContainer> {
  return goMap(Object.fromEntries(endpoints.map((e) => [e.ownerId || e.id, networkContainer(e)])));
}

/**
 * Converts a daemon network view into docker's inspect shape. Maps are written with their keys
 * sorted, as Go's encoder writes them, so the output is stable and matches docker's byte for byte.
 */
export function dockerNetworkJson(record: NetworkRecord): DockerNetworkJson {
  const { network } = record;
  return {
    Name: network.name,
    Id: network.id,
    Created: rfc3339FromMillis(network.createdAt),
    Scope: NETWORK_SCOPE,
    Driver: network.driver,
    EnableIPv4: true,
    EnableIPv6: network.enableIpv6,
    IPAM: {
      Driver: network.ipamDriver,
      Options: Object.keys(network.ipamOptions).length === 0 ? null : goMap(network.ipamOptions),
      Config: network.subnets.map(ipamConfig),
    },
    Internal: network.internal,
    Attachable: network.attachable,
    Ingress: network.ingress,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: networkContainers(record.endpoints),
    Options: goMap(network.options),
    Labels: goMap(network.labels),
    ...(record.peers.length === 0
      ? {}
      : {
          Peers: record.peers.map((p) => ({ Name: p.hostname, IP: p.ip, ...(p.mtu > 0 ? { MTU: p.mtu } : {}) })),
        }),
    Status: { IPAM: { Subnets: subnetStatuses(record.usage) } },
  };
}

/**
 * `network inspect` output, as docker's inspector writes it: a JSON array indented with 4 spaces,
 * or with `--format json` the same array compact on one line; then "\n".
 */
export function formatNetworkInspect(networks: readonly DockerNetworkJson[], compact = false): string {
  return `${jsonText(networks, compact ? '' : '    ')}\n`;
}
