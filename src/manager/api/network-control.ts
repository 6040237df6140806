import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer } from '../../gen/vxmesh/v1/control.js';
import { NetworkService } from '../network/network-service.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';

/** Network operations of ClusterControl. */
export type NetworkControlHandlers = Pick<
  ClusterControlServer,
  'createNetwork' | 'listNetworks' | 'getNetwork' | 'removeNetwork' | 'pruneNetworks'
>;

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
    listNetworks: unaryHandler(authorize, async (_req, { signal }) => ({ networks: await networks.list({ signal }) })),
    getNetwork: unaryHandler(authorize, async (req, { signal }) => ({
      network: await networks.get(req.ref, { signal }),
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
