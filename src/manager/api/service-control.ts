import { VxmeshError } from '../../common/errors.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer } from '../../gen/vxmesh/v1/control.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';

/** Service operations of ClusterControl. */
export type ServiceControlHandlers = Pick<
  ClusterControlServer,
  'createService' | 'updateService' | 'removeService' | 'listServices' | 'getService' | 'listTasks'
>;

const notYet = (): never => {
  throw new VxmeshError('FAILED_PRECONDITION', 'services are not available yet');
};

/** Handlers over the service records (issue 8). */
export function serviceControlHandlers(_deps: ClusterControlDeps, authorize: Authorize): ServiceControlHandlers {
  return {
    createService: unaryHandler(authorize, notYet),
    updateService: unaryHandler(authorize, notYet),
    removeService: unaryHandler(authorize, notYet),
    listServices: unaryHandler(authorize, notYet),
    getService: unaryHandler(authorize, notYet),
    listTasks: unaryHandler(authorize, notYet),
  };
}
