import ipaddr from 'ipaddr.js';
import type { Assignment } from '../gen/vxmesh/v1/dispatcher.js';
import type { Endpoint } from '../gen/vxmesh/v1/endpoint.js';
import type { Network } from '../gen/vxmesh/v1/network.js';
import type {
  EgressAttachmentSpec,
  LocalEndpointSpec,
  NodeDataplaneSpec,
  OverlaySpec,
  OverlaySubnetSpec,
  RemoteEndpointSpec,
} from '../vxlan/dataplane-spec.js';
import { encryptedOverlayMtu } from '../vxlan/ipsec/ipsec-mtu.js';
import type { EncryptionPeerSpec, EncryptionSpec } from '../vxlan/ipsec/ipsec-spec.js';
import type { LocalAttachment } from './containers/container-runtime.js';
import { buildLoadBalancingSpec, ingressSandboxOf } from './lb-spec-builder.js';

/** VXLAN adds 50 bytes (outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8) to every frame. */
export const VXLAN_OVERHEAD = 50;
const MIN_MTU = 68;

export interface DataplaneInputs {
  readonly nodeId: string;
  readonly namespacePrefix: string;
  readonly dataPathAddr: string;
  readonly dataPathPort: number;
  /** MTU of the interface holding the data-path address. */
  readonly underlayMtu: number;
  /** Path MTU measured toward a peer's data-path address, when known (smaller hops on the way). */
  readonly pathMtuOf?: (vtep: string) => number | undefined;
  /** What the managers assigned (networks, endpoints, peers), keyed as the dispatcher keys them. */
  readonly assignments: ReadonlyMap<string, Assignment>;
  /** Networks learnt from attach answers, used until the dispatcher's copy arrives. */
  readonly attachedNetworks: ReadonlyMap<string, Network>;
  /** Attached endpoints of local containers. */
  readonly attachments: readonly LocalAttachment[];
  /** The egress bridge; absent disables egress (and with it the ingress sandbox and published ports). */
  readonly egress?: { readonly bridge: string; readonly gatewayCidr: string };
  /** Program service load balancing (VIPs, routing mesh, published ports); default true. */
  readonly loadBalancing?: boolean;
  /**
   * Present when this node's kernel can enforce encrypted overlays (the IPsec probe passed), with
   * its boot ID. Absent: encrypted networks get no overlay at all here (fail closed: no
   * plaintext path), whatever is attached to them.
   */
  readonly ipsec?: { readonly bootId: string };
}

/** The smallest of the interface MTU and the measured path MTUs toward the overlay's peers. */
function narrowestPath(inputs: DataplaneInputs, remotes: readonly RemoteEndpointSpec[]): number {
  let mtu = inputs.underlayMtu;
  for (const vtep of new Set(remotes.map((r) => r.vtep))) {
    const path = inputs.pathMtuOf?.(vtep);
    if (path !== undefined && path < mtu) {
      mtu = path;
    }
  }
  return mtu;
}

/** The overlay namespace of a network on this node. */
export function overlayNamespace(prefix: string, networkId: string): string {
  return `${prefix}o-${networkId.slice(0, 12)}`;
}

function withoutPrefix(cidr: string): string {
  return cidr.split('/')[0] ?? '';
}

function subnetIndexOf(subnets: readonly OverlaySubnetSpec[], network: Network, address: string): number {
  if (!address) {
    return subnets[0]?.index ?? 0;
  }
  const ip = ipaddr.parse(withoutPrefix(address));
  const v4 = network.subnets.filter((s) => !s.subnet.includes(':'));
  const found = v4.findIndex((s) => ip.kind() === 'ipv4' && ip.match(ipaddr.parseCIDR(s.subnet)));
  return found >= 0 ? found : (subnets[0]?.index ?? 0);
}

function subnetsOf(network: Network): OverlaySubnetSpec[] {
  const v4 = network.subnets.filter((s) => !s.subnet.includes(':'));
  const v6 = network.subnets.find((s) => s.subnet.includes(':'));
  return v4.map((s, index) => ({
    index,
    vni: s.vni,
    gatewayCidr: `${s.gateway}/${s.subnet.split('/')[1] ?? '32'}`,
    ...(index === 0 && v6 ? { ipv6GatewayCidr: `${v6.gateway}/${v6.subnet.split('/')[1] ?? '128'}` } : {}),
  }));
}

/**
 * The node's desired kernel state: one overlay per network that has a local endpoint, with every
 * other node's endpoints on it as static peers, plus the egress bridge for containers on a
 * non-internal network. Pure: same inputs, same spec.
 */
export function buildDataplaneSpec(inputs: DataplaneInputs): NodeDataplaneSpec {
  // The ingress sandbox is a local "container": eth0 on the ingress overlay, eth1 on the egress bridge.
  const lbInputs = {
    nodeId: inputs.nodeId,
    namespacePrefix: inputs.namespacePrefix,
    dataPathPort: inputs.dataPathPort,
    assignments: inputs.assignments,
    attachments: inputs.attachments,
    ...(inputs.egress === undefined ? {} : { egressGatewayCidr: inputs.egress.gatewayCidr }),
  };
  const lbEnabled = inputs.loadBalancing ?? true;
  const sandbox = lbEnabled ? ingressSandboxOf(lbInputs) : undefined;
  const attachments = sandbox === undefined ? inputs.attachments : [...inputs.attachments, sandbox.attachment];
  const assigned = new Map<string, Network>();
  const remote = new Map<string, Endpoint[]>();
  const vteps = new Map<string, string>();
  const bootIds = new Map<string, string>();
  let keys: EncryptionSpec['keys'] = [];
  for (const a of inputs.assignments.values()) {
    switch (a.item?.$case) {
      case 'network': {
        assigned.set(a.item.value.id, a.item.value);
        break;
      }
      case 'endpoint': {
        const ep = a.item.value;
        if (ep.nodeId !== inputs.nodeId) {
          remote.set(ep.networkId, [...(remote.get(ep.networkId) ?? []), ep]);
        }
        break;
      }
      case 'peer': {
        vteps.set(a.item.value.nodeId, a.item.value.dataPathAddr);
        bootIds.set(a.item.value.nodeId, a.item.value.bootId ?? '');
        break;
      }
      case 'networkKeys': {
        keys = a.item.value.keys.map((k) => ({ tag: k.tag, key: Buffer.from(k.key).toString('hex') }));
        break;
      }
      default: {
        break;
      }
    }
  }

  const localByNetwork = new Map<string, LocalAttachment[]>();
  for (const att of attachments) {
    localByNetwork.set(att.network.networkId, [...(localByNetwork.get(att.network.networkId) ?? []), att]);
  }

  const overlays: OverlaySpec[] = [];
  const encryptionPeers = new Map<string, EncryptionPeerSpec>();
  for (const [networkId, locals] of [...localByNetwork].sort(([a], [b]) => a.localeCompare(b))) {
    const network = assigned.get(networkId) ?? inputs.attachedNetworks.get(networkId);
    if (!network || (network.encrypted && inputs.ipsec === undefined)) {
      continue;
    }
    const subnets = subnetsOf(network);
    if (subnets.length === 0) {
      continue;
    }
    const v4Subnets = network.subnets.filter((s) => !s.subnet.includes(':'));
    const localEndpoints: LocalEndpointSpec[] = locals.map(({ container, network: n }) => {
      const subnetIndex = subnetIndexOf(subnets, network, n.ipv4Address);
      return {
        endpointId: n.endpointId,
        subnetIndex,
        containerNamespace: container.namespace,
        ifName: n.ifName,
        mac: n.macAddress,
        ...(n.ipv4Address ? { ipv4Cidr: n.ipv4Address } : {}),
        ...(n.ipv6Address ? { ipv6Cidr: n.ipv6Address } : {}),
        gateway: v4Subnets[subnetIndex]?.gateway ?? '',
        otherSubnets: v4Subnets.filter((_, i) => i !== subnetIndex).map((s) => s.subnet),
      };
    });
    const remoteEndpoints: RemoteEndpointSpec[] = [];
    for (const ep of remote.get(networkId) ?? []) {
      const vtep = vteps.get(ep.nodeId);
      if (!vtep || !ep.macAddress) {
        continue;
      }
      remoteEndpoints.push({
        endpointId: ep.id,
        subnetIndex: subnetIndexOf(subnets, network, ep.ipv4Address),
        mac: ep.macAddress,
        ...(ep.ipv4Address ? { ipv4: withoutPrefix(ep.ipv4Address) } : {}),
        ...(ep.ipv6Address ? { ipv6: withoutPrefix(ep.ipv6Address) } : {}),
        vtep,
      });
    }
    const plainMtu = Math.max(MIN_MTU, narrowestPath(inputs, remoteEndpoints) - VXLAN_OVERHEAD);
    if (network.encrypted) {
      for (const ep of remote.get(networkId) ?? []) {
        const addr = vteps.get(ep.nodeId);
        if (addr) {
          encryptionPeers.set(ep.nodeId, { nodeId: ep.nodeId, bootId: bootIds.get(ep.nodeId) ?? '', addr });
        }
      }
    }
    overlays.push({
      networkId,
      namespace: overlayNamespace(inputs.namespacePrefix, networkId),
      mtu: network.mtu > 0 ? network.mtu : network.encrypted ? encryptedOverlayMtu(plainMtu) : plainMtu,
      ...(network.encrypted ? { encrypted: true } : {}),
      subnets,
      localEndpoints: localEndpoints.sort((a, b) => a.endpointId.localeCompare(b.endpointId)),
      remoteEndpoints: remoteEndpoints.sort((a, b) => a.endpointId.localeCompare(b.endpointId)),
    });
  }

  const spec: NodeDataplaneSpec = {
    namespacePrefix: inputs.namespacePrefix,
    dataPathAddr: inputs.dataPathAddr,
    dataPathPort: inputs.dataPathPort,
    memberVteps: [...new Set(vteps.values())].sort(),
    overlays,
    ...(lbEnabled ? { loadBalancing: buildLoadBalancingSpec(lbInputs, sandbox) } : {}),
    ...(inputs.ipsec === undefined
      ? {}
      : {
          encryption: {
            nodeId: inputs.nodeId,
            bootId: inputs.ipsec.bootId,
            keys,
            peers: [...encryptionPeers.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId)),
          },
        }),
  };
  if (!inputs.egress) {
    return spec;
  }
  const egressAttachments: EgressAttachmentSpec[] = [];
  const seen = new Set<string>();
  for (const { container } of attachments) {
    if (seen.has(container.id) || !container.egressAddress) {
      continue;
    }
    seen.add(container.id);
    const used = new Set(container.networks.map((n) => n.ifName));
    let index = 0;
    while (used.has(`eth${index}`)) {
      index++;
    }
    const internalOnly = container.networks.every(
      (n) => (assigned.get(n.networkId) ?? inputs.attachedNetworks.get(n.networkId))?.internal === true,
    );
    if (internalOnly) {
      // Like docker: a container only on --internal networks gets no egress interface at all.
      continue;
    }
    egressAttachments.push({
      containerId: container.id,
      containerNamespace: container.namespace,
      ifName: `eth${index}`,
      ipv4Cidr: container.egressAddress,
      defaultRoute: true,
    });
  }
  return egressAttachments.length > 0
    ? { ...spec, egress: { ...inputs.egress, attachments: egressAttachments } }
    : spec;
}
