import { EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';

/**
 * Owner name of a node's ingress endpoint (docker's `ingress-endpoint` of the `ingress-sbox`):
 * the address of the node's ingress sandbox, and what makes every node a member of ingress.
 */
export function ingressEndpointName(nodeId: string): string {
  return `ingress-endpoint.${nodeId}`;
}

/** Whether an endpoint is a node's ingress (load-balancer) endpoint. */
export function isIngressEndpoint(endpoint: Endpoint): boolean {
  return endpoint.kind === EndpointKind.ENDPOINT_KIND_LOAD_BALANCER;
}

export interface IngressEndpointPlan {
  /** Nodes that need an ingress endpoint. */
  readonly create: string[];
  /** Ingress endpoints to delete: node Down or gone, not on the current ingress network, or a duplicate. */
  readonly remove: Endpoint[];
}

/**
 * One ingress endpoint per node that is not Down, on the current ingress network (none when
 * the cluster has no ingress). Pure. Ingress endpoints register no network attachment:
 * `network rm ingress` stays possible while no service publishes through it, and the endpoints
 * of a removed ingress are deleted here.
 */
export function planIngressEndpoints(
  ingressNetworkId: string | undefined,
  nodes: ReadonlyMap<string, Node>,
  endpoints: Iterable<Endpoint>,
): IngressEndpointPlan {
  const remove: Endpoint[] = [];
  const have = new Set<string>();
  const live = (nodeId: string): boolean => {
    const node = nodes.get(nodeId);
    return node !== undefined && node.status !== NodeStatus.NODE_STATUS_DOWN;
  };
  const sorted = [...endpoints].filter(isIngressEndpoint).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const ep of sorted) {
    if (!ingressNetworkId || ep.networkId !== ingressNetworkId || !live(ep.nodeId) || have.has(ep.nodeId)) {
      remove.push(ep);
    } else {
      have.add(ep.nodeId);
    }
  }
  const create = ingressNetworkId
    ? [...nodes.keys()].filter((id) => live(id) && !have.has(id)).sort()
    : [];
  return { create, remove };
}
