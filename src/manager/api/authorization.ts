import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { VxmeshError } from '../../common/errors.js';
import { roleFromOu } from '../../common/tls/node-role.js';
import type { Authorize, Caller } from '../../common/rpc/server-handlers.js';
import { NodeRole } from '../../gen/vxmesh/v1/node.js';
import type { NodeRegistry } from '../node-registry.js';

/** Who may call a method: callers without a certificate, and/or node roles. */
export type Allowed = ReadonlyArray<'anonymous' | 'worker' | 'manager'>;

function subjectField(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Builds per-method authorizers for the cluster port. The transport has already verified any
 * client certificate against the cluster CA (grpc-js exposes a peer certificate only when it did);
 * here we check it names this cluster and a node that is still registered, and take the lower of
 * the certificate's role and the registry's, so a demotion takes effect before renewal.
 */
export function clusterAuthorizer(registry: NodeRegistry, clusterId: string): (allowed: Allowed) => Authorize {
  return (allowed) =>
    async (call: ServerSurfaceCall): Promise<Caller> => {
      const method = call.getPath();
      const peer = call.getAuthContext().sslPeerCertificate;
      if (!peer) {
        if (allowed.includes('anonymous')) {
          return { kind: 'anonymous' };
        }
        throw new VxmeshError('UNAUTHENTICATED', `${method} needs a node certificate issued by this cluster's CA`);
      }
      const nodeId = subjectField(peer.subject.CN);
      const certRole = roleFromOu(subjectField(peer.subject.OU));
      if (!nodeId || !certRole || subjectField(peer.subject.O) !== clusterId) {
        throw new VxmeshError('PERMISSION_DENIED', 'certificate does not belong to this cluster');
      }
      const node = await registry.lookup(nodeId);
      if (!node) {
        throw new VxmeshError('PERMISSION_DENIED', `node ${nodeId} has been removed from the cluster`);
      }
      const role = certRole === 'manager' && node.role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
      if (!allowed.includes(role)) {
        throw new VxmeshError('PERMISSION_DENIED', `${method} is not allowed for a ${role} node`);
      }
      return { kind: 'node', nodeId, role, clusterId };
    };
}
