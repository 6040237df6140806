import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { ClusterControlServer } from '../../gen/vxmesh/v1/control.js';
import type { ClusterControlDeps } from './cluster-control-deps.js';

/** Service operations of ClusterControl. */
export type ServiceControlHandlers = Pick<
  ClusterControlServer,
  'createService' | 'updateService' | 'removeService' | 'listServices' | 'getService' | 'listTasks'
>;

/**
 * Handlers over {@link ServiceService} (src/manager/services); errors are VxmeshErrors mapped to
 * gRPC status by `unaryHandler`, and every call is cancelled with its client.
 */
export function serviceControlHandlers(deps: ClusterControlDeps, authorize: Authorize): ServiceControlHandlers {
  const { services } = deps;
  return {
    createService: unaryHandler(authorize, async (req, { signal }) => ({
      service: await services.create(req.spec, { signal }),
    })),
    updateService: unaryHandler(authorize, async (req, { signal }) => ({
      service: await services.update(req.ref, req.spec, req.version, { signal }),
    })),
    removeService: unaryHandler(authorize, async (req, { signal }) => {
      await services.remove(req.ref, { signal });
      return {};
    }),
    listServices: unaryHandler(authorize, async (_req, { signal }) => ({
      services: await services.list({ signal }),
    })),
    getService: unaryHandler(authorize, async (req, { signal }) => ({
      service: await services.get(req.ref, { signal }),
    })),
    listTasks: unaryHandler(authorize, async (req, { signal }) => ({
      tasks: await services.listTasks(req.service, req.node, { signal }),
    })),
  };
}
