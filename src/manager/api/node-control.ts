import { VxmeshError } from '../../common/errors.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer, NodeView } from '../../gen/vxmesh/v1/control.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../../gen/vxmesh/v1/node.js';
import { readCaSecret, readCluster, readJoinTokens, rotateJoinToken } from '../cluster-records.js';
import type { StoredNode } from '../node-registry.js';

function view(stored: StoredNode, deps: ClusterControlDeps): NodeView {
  const leaderId = deps.leaderId();
  const agent = deps.agentStatus(stored.node.id);
  const { node } = stored;
  const manager = node.role === NodeRole.NODE_ROLE_MANAGER;
  return {
    node,
    version: BigInt(stored.modRevision),
    leader: manager && node.id === leaderId,
    reachability: manager ? (deps.isServing(node.id) ? 'reachable' : 'unreachable') : '',
    certNotAfter: '',
    agent,
    sessionState: agent ? 'connected' : '',
  };
}

/** Node and join-token operations of ClusterControl. */
export type NodeControlHandlers = Pick<
  ClusterControlServer,
  'listNodes' | 'getNode' | 'updateNode' | 'removeNode' | 'getJoinTokens' | 'rotateJoinToken'
>;

export function nodeControlHandlers(deps: ClusterControlDeps, authorize: Authorize): NodeControlHandlers {
  const { store, registry } = deps;
  return {
    listNodes: unaryHandler(authorize, async () => ({
      nodes: (await registry.list()).map((n) => view(n, deps)),
    })),

    getNode: unaryHandler(authorize, async (req) => ({ node: view(await registry.resolve(req.ref), deps) })),

    updateNode: unaryHandler(authorize, async (req) => {
      const target = await registry.resolve(req.ref);
      if (req.role === NodeRole.NODE_ROLE_MANAGER && target.node.role !== NodeRole.NODE_ROLE_MANAGER) {
        const cluster = await readCluster(store);
        if (cluster.etcdEndpoints.length === 0) {
          throw new VxmeshError(
            'FAILED_PRECONDITION',
            `cannot promote node ${target.node.id}: this cluster keeps its state in the embedded store of ` +
              'its first manager; re-create it with `swarm init --etcd-endpoints` to run several managers',
          );
        }
      }
      if (req.role === NodeRole.NODE_ROLE_WORKER && target.node.role === NodeRole.NODE_ROLE_MANAGER) {
        const managers = (await registry.list()).filter((n) => n.node.role === NodeRole.NODE_ROLE_MANAGER);
        if (managers.length <= 1) {
          throw new VxmeshError(
            'FAILED_PRECONDITION',
            `cannot demote ${target.node.id}: it is the last manager of the cluster`,
          );
        }
      }
      const updated = await registry.update(target.node.id, (n) => {
        const role = req.role === NodeRole.NODE_ROLE_UNSPECIFIED ? n.role : req.role;
        const availability =
          req.availability === NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED ? n.availability : req.availability;
        return role === n.role && availability === n.availability ? n : { ...n, role, availability };
      });
      return { node: view(updated, deps) };
    }),

    removeNode: unaryHandler(authorize, async (req) => {
      const target = await registry.resolve(req.ref);
      if (target.node.role === NodeRole.NODE_ROLE_MANAGER) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `node ${target.node.id} is a cluster manager; demote it to a worker before removing it`,
        );
      }
      if (target.node.status === NodeStatus.NODE_STATUS_READY && !req.force) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `node ${target.node.id} is not down and can't be removed; use --force to remove it anyway`,
        );
      }
      await registry.remove(target.node.id);
      return {};
    }),

    getJoinTokens: unaryHandler(authorize, async () => ({ tokens: await readJoinTokens(store) })),

    rotateJoinToken: unaryHandler(authorize, async (req) => {
      if (req.role !== NodeRole.NODE_ROLE_MANAGER && req.role !== NodeRole.NODE_ROLE_WORKER) {
        throw new VxmeshError('INVALID_ARGUMENT', 'invalid role: must be worker or manager');
      }
      const ca = await readCaSecret(store);
      const role = req.role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
      return { tokens: await rotateJoinToken(store, role, ca.certificatePem) };
    }),
  };
}
