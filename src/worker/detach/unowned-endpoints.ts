import { EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import type { Assignment } from '../../gen/vxmesh/v1/dispatcher.js';

/**
 * The endpoints the managers say live on `nodeId` for a standalone container or an external
 * attachment (kind CONTAINER) that no local record holds: what a crash, a lost attach answer or a
 * removal before pending detaches existed left behind. Task and load-balancer endpoints are the
 * managers' to remove and never listed. Pure; ordered as the assignments are.
 */
export function unownedEndpoints(
  assignments: Iterable<Assignment>,
  nodeId: string,
  localEndpointIds: ReadonlySet<string>,
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const a of assignments) {
    if (a.item?.$case !== 'endpoint') {
      continue;
    }
    const ep = a.item.value;
    if (ep.nodeId === nodeId && ep.kind === EndpointKind.ENDPOINT_KIND_CONTAINER && !localEndpointIds.has(ep.id)) {
      out.push(ep);
    }
  }
  return out;
}
