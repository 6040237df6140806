import { VxmeshError } from '../../common/errors.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer } from '../../gen/vxmesh/v1/control.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';

/** Network operations of ClusterControl. */
export type NetworkControlHandlers = Pick<
  ClusterControlServer,
  'createNetwork' | 'listNetworks' | 'getNetwork' | 'removeNetwork' | 'pruneNetworks'
>;

export function networkControlHandlers(_deps: ClusterControlDeps, authorize: Authorize): NetworkControlHandlers {
  const notYet = (): Promise<never> => Promise.reject(new VxmeshError('FAILED_PRECONDITION', 'networks are not implemented yet'));
  return {
    createNetwork: unaryHandler(authorize, notYet),
    listNetworks: unaryHandler(authorize, notYet),
    getNetwork: unaryHandler(authorize, notYet),
    removeNetwork: unaryHandler(authorize, notYet),
    pruneNetworks: unaryHandler(authorize, notYet),
  };
}
