import { VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { parseHostPort, parseIp, formatHostPort } from '../../common/net/host-port.js';
import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { CertificateAuthorityServer } from '../../gen/vxmesh/v1/ca.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Allowed } from '../api/authorization.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import { readCaSecret, readCluster, readJoinTokens } from '../cluster-records.js';
import { newObjectId } from '../node-registry.js';
import type { NodeRegistry } from '../node-registry.js';
import { signNodeCertificate } from './certificate-authority.js';
import { caDigestHex, parseJoinToken, tokensMatch } from './join-token.js';

const log = createLogger('manager.ca');

export interface CaServiceDeps {
  readonly store: KvStore;
  readonly registry: NodeRegistry;
  readonly clock: Clock;
  readonly authorize: (allowed: Allowed) => Authorize;
}

/**
 * The CA's RPCs. Joining is a single call: the token is checked in constant time against both
 * cluster tokens, the node record is created and the certificate signed before answering, so a
 * node that got an answer is already registered.
 */
export function certificateAuthorityServer(deps: CaServiceDeps): CertificateAuthorityServer {
  const { store, registry, clock } = deps;
  return {
    getRootCaCertificate: unaryHandler(deps.authorize(['anonymous', 'worker', 'manager']), async () => {
      const ca = await readCaSecret(store);
      return { certificatePem: ca.certificatePem };
    }),

    issueNodeCertificate: unaryHandler(deps.authorize(['anonymous', 'worker', 'manager']), async (req) => {
      const token = parseJoinToken(req.token);
      const [ca, tokens, cluster] = await Promise.all([readCaSecret(store), readJoinTokens(store), readCluster(store)]);
      if (token.caDigestHex !== caDigestHex(ca.certificatePem)) {
        throw new VxmeshError('PERMISSION_DENIED', 'join token was issued for a different cluster CA');
      }
      const isManager = tokensMatch(req.token, tokens.manager);
      const isWorker = tokensMatch(req.token, tokens.worker);
      if (!isManager && !isWorker) {
        throw new VxmeshError('PERMISSION_DENIED', 'join token is invalid or has been rotated');
      }
      if (isManager && cluster.etcdEndpoints.length === 0) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          'this cluster keeps its state in the embedded store of its first manager, so it cannot add managers; ' +
            're-create it with `swarm init --etcd-endpoints` to run several managers',
        );
      }
      const advertise = formatHostPort(parseHostPort(req.advertiseAddr, 2377, 'advertise-addr'));
      const dataPath = req.dataPathAddr === '' ? '' : parseIp(req.dataPathAddr, 'data-path-addr');
      const hostname = req.hostname.trim();
      if (hostname === '' || hostname.length > 253) {
        throw new VxmeshError('INVALID_ARGUMENT', 'invalid hostname: must be 1 to 253 characters');
      }
      const role = isManager ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
      const nodeId = newObjectId();
      const now = clock.now();
      // Sign before registering: a bad CSR must leave no node record behind.
      const certificatePem = signNodeCertificate(
        { certPem: ca.certificatePem, keyPem: ca.keyPem },
        {
          csrPem: req.csrPem,
          nodeId,
          role: isManager ? 'manager' : 'worker',
          clusterId: cluster.id,
          now,
          validityMs: Number(cluster.certExpiryMs),
        },
      );
      await registry.create({
        id: nodeId,
        hostname,
        role,
        availability:
          req.availability === NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED
            ? NodeAvailability.NODE_AVAILABILITY_ACTIVE
            : req.availability,
        status: NodeStatus.NODE_STATUS_UNSPECIFIED,
        advertiseAddr: advertise,
        dataPathAddr: dataPath,
        createdAt: 0n,
        updatedAt: 0n,
      });
      log.info({ nodeId, hostname, role: isManager ? 'manager' : 'worker' }, 'node joined');
      return {
        nodeId,
        clusterId: cluster.id,
        certificatePem,
        rootCaPem: ca.certificatePem,
        role,
        managerAddrs: await registry.managerAddrs(),
        etcdEndpoints: isManager ? cluster.etcdEndpoints : [],
      };
    }),

    renewNodeCertificate: unaryHandler(deps.authorize(['worker', 'manager']), async (req, ctx) => {
      if (ctx.caller.kind !== 'node') {
        throw new VxmeshError('UNAUTHENTICATED', 'renewal needs the current node certificate');
      }
      const [ca, cluster, node] = await Promise.all([
        readCaSecret(store),
        readCluster(store),
        registry.lookup(ctx.caller.nodeId),
      ]);
      if (!node) {
        throw new VxmeshError('PERMISSION_DENIED', `node ${ctx.caller.nodeId} has been removed from the cluster`);
      }
      const manager = node.role === NodeRole.NODE_ROLE_MANAGER;
      const certificatePem = signNodeCertificate(
        { certPem: ca.certificatePem, keyPem: ca.keyPem },
        {
          csrPem: req.csrPem,
          nodeId: node.id,
          role: manager ? 'manager' : 'worker',
          clusterId: cluster.id,
          now: clock.now(),
          validityMs: Number(cluster.certExpiryMs),
        },
      );
      return { certificatePem, role: node.role, etcdEndpoints: manager ? cluster.etcdEndpoints : [] };
    }),
  };
}
