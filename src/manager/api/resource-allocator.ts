import { VxmeshError } from '../../common/errors.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize, CallContext } from '../../common/rpc/server-handlers.js';
import type { ResourceAllocatorServer } from '../../gen/vxmesh/v1/resource.js';
import type { EndpointService } from '../endpoints/endpoint-service.js';

function callerNode(ctx: CallContext): { nodeId: string; role: 'manager' | 'worker' } {
  if (ctx.caller.kind !== 'node') {
    throw new VxmeshError('UNAUTHENTICATED', 'attachments need a node certificate');
  }
  return { nodeId: ctx.caller.nodeId, role: ctx.caller.role };
}

/** Attach/detach for standalone containers; the endpoint always lands on the calling node. */
export function resourceAllocatorServer(endpoints: EndpointService, authorize: Authorize): ResourceAllocatorServer {
  return {
    attachNetwork: unaryHandler(authorize, (req, ctx) => endpoints.attach(callerNode(ctx).nodeId, req)),
    detachNetwork: unaryHandler(authorize, async (req, ctx) => {
      await endpoints.detach(callerNode(ctx), req.endpointId);
      return {};
    }),
  };
}
