import type { Assignment } from '../../gen/vxmesh/v1/dispatcher.js';
import type { Container } from '../../gen/vxmesh/v1/container.js';
import { EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { EndpointMode } from '../../gen/vxmesh/v1/service.js';
import type { PortConfig } from '../../gen/vxmesh/v1/service.js';
import type { DnsContainer, DnsEndpoint, DnsNetwork, DnsService, DnsState } from './dns-state.js';

export interface DnsStateInputs {
  /** This node's ID: its own container endpoints come from `containers`, not the assignments. */
  readonly nodeId: string;
  /** What the managers pushed (networks, endpoints, peers); any iterable, read once. */
  readonly assignments: Iterable<Assignment>;
  /** Every local container record (any state). */
  readonly containers: readonly Container[];
  /** Networks learnt from attach answers, before the managers push them. */
  readonly knownNetworks: ReadonlyMap<string, Network>;
}

/**
 * The DNS state of a node. Pure.
 *
 * - Networks: the pushed ones, plus those only known from local attach answers.
 * - Endpoints: other nodes' (and non-container) endpoints as pushed; this node's container
 *   endpoints from the local container records instead, so a local run, connect, disconnect or
 *   removal shows in DNS at once rather than after the managers' next push, and a stale pushed
 *   copy of a removed local container never answers.
 * - Containers: every local container, with its attached networks (in interface order), links
 *   and --dns servers.
 */
export function dnsStateFromAssignments(inputs: DnsStateInputs): DnsState {
  // Read twice below: an iterator (e.g. a Map's values()) must be taken once.
  const assignments = [...inputs.assignments];
  const networks = new Map<string, DnsNetwork>();
  const endpoints: DnsEndpoint[] = [];
  const addNetwork = (n: Network): void => {
    if (!networks.has(n.id)) {
      networks.set(n.id, {
        id: n.id,
        name: n.name,
        subnets: n.subnets.map((s) => s.subnet).filter((s) => s !== ''),
        internal: n.internal,
      });
    }
  };
  for (const a of assignments) {
    if (a.item?.$case === 'network') {
      addNetwork(a.item.value);
    }
  }
  for (const n of inputs.knownNetworks.values()) {
    addNetwork(n);
  }
  for (const a of assignments) {
    if (a.item?.$case !== 'endpoint') {
      continue;
    }
    const ep = a.item.value;
    if (ep.nodeId === inputs.nodeId && ep.kind === EndpointKind.ENDPOINT_KIND_CONTAINER) {
      continue;
    }
    endpoints.push({
      id: ep.id,
      networkId: ep.networkId,
      ownerName: ep.ownerName,
      hostname: ep.hostname,
      aliases: ep.aliases,
      ipv4Address: ep.ipv4Address,
      ipv6Address: ep.ipv6Address,
      serviceName: ep.serviceName,
      serving: ep.serving,
    });
  }
  const services: DnsService[] = [];
  for (const a of assignments) {
    if (a.item?.$case !== 'service') {
      continue;
    }
    const s = a.item.value;
    services.push({
      id: s.id,
      name: s.spec?.name ?? '',
      endpointMode: s.spec?.endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR ? 'dnsrr' : 'vip',
      networks: (s.spec?.networks ?? []).map((n) => ({ networkId: n.network, aliases: n.aliases })),
      vips: s.virtualIps.map((v) => ({ networkId: v.networkId, addr: v.addr })),
      ports: uniquePorts(s.spec?.ports ?? []),
    });
  }
  const containers: DnsContainer[] = [];
  for (const c of inputs.containers) {
    const attached = c.networks.filter((n) => n.endpointId !== '');
    // A task's endpoints come from the managers (with their service and serving flag), not from here.
    for (const n of c.taskId ? [] : attached) {
      endpoints.push({
        id: n.endpointId,
        networkId: n.networkId,
        ownerName: c.name,
        hostname: c.hostname,
        aliases: n.aliases,
        ipv4Address: n.ipv4Address,
        ipv6Address: n.ipv6Address,
      });
    }
    containers.push({
      id: c.id,
      namespace: c.namespace,
      networks: attached.map((n) => ({ networkId: n.networkId, networkName: n.networkName, links: n.links })),
      dns: c.dns,
    });
  }
  return { networks: [...networks.values()], endpoints, containers, services };
}

/** Target ports for SRV, once each (a port published twice is still one listener). */
function uniquePorts(ports: readonly PortConfig[]): { protocol: string; port: number }[] {
  const seen = new Map<string, { protocol: string; port: number }>();
  for (const p of ports) {
    const protocol = p.protocol || 'tcp';
    if (p.targetPort > 0) {
      seen.set(`${protocol}/${p.targetPort}`, { protocol, port: p.targetPort });
    }
  }
  return [...seen.values()];
}
