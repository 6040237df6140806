import { hostPart } from '../../common/net/host-part.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer, NetworkPeer, NetworkView } from '../../gen/vxmesh/v1/control.js';
import { NetworkService } from '../network/network-service.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';

/** Network operations of ClusterControl. */
export type NetworkControlHandlers = Pick<
  ClusterControlServer,
  'createNetwork' | 'listNetworks' | 'getNetwork' | 'removeNetwork' | 'pruneNetworks'
>;

/**
 * The nodes that have an endpoint on the network, with the overlay MTU each reported in its
 * heartbeats (known to the manager holding its session; 0 otherwise).
 */
async function withPeers(deps: ClusterControlDeps, view: NetworkView): Promise<NetworkView> {
  const networkId = view.network?.id ?? '';
  const peers: NetworkPeer[] = [];
  for (const nodeId of new Set(view.endpoints.map((e) => e.nodeId))) {
    const node = await deps.registry.lookup(nodeId);
    if (!node) {
      continue;
    }
    peers.push({
      nodeId,
      hostname: node.hostname,
      ip: node.dataPathAddr || hostPart(node.advertiseAddr),
      mtu: deps.agentStatus(nodeId)?.overlayMtus[networkId] ?? 0,
    });
  }
  return { ...view, peers: peers.sort((a, b) => a.hostname.localeCompare(b.hostname)) };
}

/**
 * Handlers over {@link NetworkService}; errors are VxmeshErrors mapped to gRPC status by
 * `unaryHandler`, and every call is cancelled with its client.
 */
export function networkControlHandlers(deps: ClusterControlDeps, authorize: Authorize): NetworkControlHandlers {
  const networks = new NetworkService(deps.store, deps.clock);
  return {
    createNetwork: unaryHandler(authorize, async (req, { signal }) => ({
      network: (await networks.create(req, { signal })).network,
    })),
    listNetworks: unaryHandler(authorize, async (_req, { signal }) => ({
      networks: await Promise.all((await networks.list({ signal })).map((v) => withPeers(deps, v))),
    })),
    getNetwork: unaryHandler(authorize, async (req, { signal }) => ({
      network: await withPeers(deps, await networks.get(req.ref, { signal })),
    })),
    removeNetwork: unaryHandler(authorize, async (req, { signal }) => ({
      wasIngress: (await networks.remove(req.ref, { signal })).ingress,
    })),
    pruneNetworks: unaryHandler(authorize, async (req, { signal }) => ({
      deletedNames: await networks.prune(
        { labels: req.labelFilters, notLabels: req.labelNotFilters, until: req.until },
        { signal },
      ),
    })),
  };
}
