import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer } from '../../gen/vxmesh/v1/control.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';
import { networkControlHandlers } from './network-control.js';
import { nodeControlHandlers } from './node-control.js';
import { serviceControlHandlers } from './service-control.js';
import { serviceLogsHandler } from './service-logs.js';

/**
 * Cluster state operations for operators. The same handlers serve the cluster port (manager
 * certificates only) and a manager's local socket; `authorize` decides which.
 */
export function clusterControlServer(deps: ClusterControlDeps, authorize: Authorize): ClusterControlServer {
  return {
    ...nodeControlHandlers(deps, authorize),
    ...networkControlHandlers(deps, authorize),
    ...serviceControlHandlers(deps, authorize),
    ...serviceLogsHandler(deps, authorize),
  };
}
