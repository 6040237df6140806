import type { Assignment } from '../../gen/vxmesh/v1/dispatcher.js';

/** IDs of the endpoints the managers pushed for this node with the given owner ID. Pure. */
export function endpointsOwnedBy(assignments: Iterable<Assignment>, nodeId: string, ownerId: string): string[] {
  const out: string[] = [];
  for (const a of assignments) {
    if (a.item?.$case === 'endpoint' && a.item.value.nodeId === nodeId && a.item.value.ownerId === ownerId) {
      out.push(a.item.value.id);
    }
  }
  return out;
}
