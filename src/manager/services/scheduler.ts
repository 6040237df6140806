import { NodeAvailability, NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';
import { constraintsHold } from './constraints.js';
import type { PlacementConstraint } from './constraints.js';

/** What a node already runs, as the scheduler weighs it. */
export interface NodeLoad {
  /** Tasks of the service being placed that the orchestrator wants running there. */
  readonly serviceTasks: number;
  /** Tasks of every service wanted running there. */
  readonly totalTasks: number;
  /** The node still holds a task of this service that publishes host-mode ports. */
  readonly holdsHostPorts: boolean;
}

export interface PlacementRequest {
  readonly nodes: Iterable<Node>;
  readonly constraints: readonly PlacementConstraint[];
  /** The service publishes host-mode ports: at most one of its tasks per node. */
  readonly hostPorts: boolean;
  readonly load: (nodeId: string) => NodeLoad;
}

export type Placement = { readonly node: Node } | { readonly reason: string };

/** Why a node cannot take the task, in the order they are checked; undefined: it can. */
export type Unfit = 'drained' | 'paused' | 'down' | 'not ready' | 'constraints' | 'host ports';

/** How the reasons read in a message, in the order they are listed. */
const REASON_TEXT: readonly (readonly [Unfit, string])[] = [
  ['drained', 'drained'],
  ['paused', 'paused'],
  ['down', 'down'],
  ['not ready', 'not ready'],
  ['constraints', 'not matching the placement constraints'],
  ['host ports', 'already running a task of the service with host-mode ports'],
];

/** How a reason reads after "node h1 is ...". */
export function unfitText(reason: Unfit): string {
  return REASON_TEXT.find(([k]) => k === reason)?.[1] ?? reason;
}

/** Whether (and why not) a node can take a new task; the availability checks of {@link pickNode}. */
export function unfitReason(
  node: Node,
  constraints: readonly PlacementConstraint[],
  hostPorts: boolean,
  load: NodeLoad | undefined,
): Unfit | undefined {
  if (node.status === NodeStatus.NODE_STATUS_DOWN) {
    return 'down';
  }
  if (node.status !== NodeStatus.NODE_STATUS_READY) {
    return 'not ready';
  }
  if (node.availability === NodeAvailability.NODE_AVAILABILITY_DRAIN) {
    return 'drained';
  }
  if (node.availability === NodeAvailability.NODE_AVAILABILITY_PAUSE) {
    return 'paused';
  }
  if (!constraintsHold(node, constraints)) {
    return 'constraints';
  }
  if (hostPorts && load?.holdsHostPorts) {
    return 'host ports';
  }
  return undefined;
}

/**
 * Picks the node for a new task, as swarmkit's spread strategy does: among Ready, Active nodes
 * satisfying every constraint (and, with host-mode ports, not already holding a task of the
 * service), the one with the fewest tasks of this service, then the fewest tasks overall, then
 * the lowest ID. Pure: the caller updates the load after placing.
 * Without a candidate, says why: "no suitable node (3 nodes not available: 1 drained, 2 down)".
 */
export function pickNode(req: PlacementRequest): Placement {
  let best: { node: Node; load: NodeLoad } | undefined;
  const unfit = new Map<Unfit, number>();
  let total = 0;
  for (const node of req.nodes) {
    total++;
    const load = req.load(node.id);
    const reason = unfitReason(node, req.constraints, req.hostPorts, load);
    if (reason) {
      unfit.set(reason, (unfit.get(reason) ?? 0) + 1);
      continue;
    }
    if (
      !best ||
      load.serviceTasks < best.load.serviceTasks ||
      (load.serviceTasks === best.load.serviceTasks &&
        (load.totalTasks < best.load.totalTasks ||
          (load.totalTasks === best.load.totalTasks && node.id < best.node.id)))
    ) {
      best = { node, load };
    }
  }
  if (best) {
    return { node: best.node };
  }
  if (total === 0) {
    return { reason: 'no suitable node (no nodes in the cluster)' };
  }
  const parts = REASON_TEXT.filter(([k]) => unfit.has(k)).map(([k, text]) => `${unfit.get(k) ?? 0} ${text}`);
  return { reason: `no suitable node (${total} node${total === 1 ? '' : 's'} not available: ${parts.join(', ')})` };
}
