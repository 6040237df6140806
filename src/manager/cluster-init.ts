import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../common/errors.js';
import { parsePort } from '../common/net/host-port.js';
import { generateKeyAndCsr } from '../common/tls/key-pair.js';
import type { Clock } from '../common/clock.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';
import type { KvStore } from '../kvstore/index.js';
import type { Cluster } from '../gen/vxmesh/v1/cluster.js';
import type { JoinTokens } from '../gen/vxmesh/v1/control.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../gen/vxmesh/v1/node.js';
import {
  createRootCa,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  MIN_NODE_CERT_VALIDITY_MS,
  signNodeCertificate,
} from './ca/certificate-authority.js';
import { generateJoinToken } from './ca/join-token.js';
import { initializeClusterRecords } from './cluster-records.js';
import { IPV6_POOL_SUBNET_PREFIX } from './ipam/address-pools.js';
import { DEFAULT_POOL, DEFAULT_POOL_SUBNET_PREFIX } from './ipam/address-pools.js';
import { planInitialIngress } from './network/ingress-network.js';
import { newObjectId } from './node-registry.js';

export const DEFAULT_DATA_PATH_PORT = 4789;
export const DEFAULT_HEARTBEAT_PERIOD_MS = 5000;

export interface ClusterInitOptions {
  readonly hostname: string;
  /** "host:port" other nodes dial. */
  readonly advertiseAddr: string;
  readonly dataPathAddr: string;
  readonly dataPathPort?: number;
  readonly defaultAddrPools?: readonly string[];
  readonly defaultAddrPoolMaskLength?: number;
  readonly certExpiryMs?: number;
  readonly etcdEndpoints?: readonly string[];
  readonly heartbeatPeriodMs?: number;
}

export interface InitializedCluster {
  readonly clusterId: string;
  readonly nodeId: string;
  readonly identity: TlsIdentity;
  readonly tokens: JoinTokens;
}

function checkPools(pools: readonly string[], maskLength: number): string[] {
  if (!Number.isInteger(maskLength) || maskLength < 1 || maskLength > 29) {
    throw new InvalidArgumentError('default-addr-pool-mask-length', `${maskLength} must be from 1 to 29`);
  }
  return pools.map((pool) => {
    let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      parsed = ipaddr.parseCIDR(pool);
    } catch {
      throw new InvalidArgumentError('default-addr-pool', `${pool} is not a CIDR`);
    }
    const [addr, prefix] = parsed;
    if (addr.kind() !== 'ipv4') {
      // IPv6 pools are split into /64s whatever the mask length (src/manager/ipam/address-pools.ts).
      if (prefix > IPV6_POOL_SUBNET_PREFIX) {
        throw new InvalidArgumentError(
          'default-addr-pool',
          `${pool}: an IPv6 pool must be /${IPV6_POOL_SUBNET_PREFIX} or larger`,
        );
      }
      const canonical = `${ipaddr.IPv6.networkAddressFromCIDR(pool).toString()}/${prefix}`;
      if (ipaddr.IPv6.networkAddressFromCIDR(pool).toString() !== addr.toString()) {
        throw new InvalidArgumentError('default-addr-pool', `${pool} has host bits set (network is ${canonical})`);
      }
      return canonical;
    }
    if (maskLength < prefix) {
      throw new InvalidArgumentError(
        'default-addr-pool-mask-length',
        `${maskLength} is shorter than the prefix of pool ${pool}`,
      );
    }
    const network = ipaddr.IPv4.networkAddressFromCIDR(pool).toString();
    if (network !== addr.toString()) {
      throw new InvalidArgumentError(
        'default-addr-pool',
        `${pool} has host bits set (network is ${network}/${prefix})`,
      );
    }
    return `${network}/${prefix}`;
  });
}

/**
 * Creates the cluster in an empty store: root CA, both join tokens, settings and this node as
 * the first manager with its certificate. Everything is validated before anything is written,
 * and the write is one transaction.
 */
export async function initializeCluster(
  store: KvStore,
  opts: ClusterInitOptions,
  clock: Clock,
): Promise<InitializedCluster> {
  const dataPathPort = parsePort(opts.dataPathPort ?? DEFAULT_DATA_PATH_PORT, 'data-path-port', 1024, 49151);
  const maskLength = opts.defaultAddrPoolMaskLength ?? DEFAULT_POOL_SUBNET_PREFIX;
  const pools = checkPools(
    opts.defaultAddrPools && opts.defaultAddrPools.length > 0 ? opts.defaultAddrPools : [DEFAULT_POOL],
    maskLength,
  );
  const certExpiryMs = opts.certExpiryMs ?? DEFAULT_NODE_CERT_VALIDITY_MS;
  if (certExpiryMs < MIN_NODE_CERT_VALIDITY_MS) {
    throw new InvalidArgumentError('cert-expiry', 'must be at least 1 hour');
  }
  const clusterId = newObjectId();
  const nodeId = newObjectId();
  const now = clock.now();
  const ca = await createRootCa(clusterId, now);
  const { keyPem, csrPem } = await generateKeyAndCsr();
  const certPem = signNodeCertificate(ca, {
    csrPem,
    nodeId,
    role: 'manager',
    clusterId,
    now,
    validityMs: certExpiryMs,
  });
  const cluster: Cluster = {
    id: clusterId,
    createdAt: BigInt(now),
    dataPathPort,
    defaultAddrPools: pools,
    defaultAddrPoolMaskLength: maskLength,
    certExpiryMs: BigInt(certExpiryMs),
    etcdEndpoints: [...(opts.etcdEndpoints ?? [])],
    heartbeatPeriodMs: opts.heartbeatPeriodMs ?? DEFAULT_HEARTBEAT_PERIOD_MS,
  };
  const tokens: JoinTokens = { worker: generateJoinToken(ca.certPem), manager: generateJoinToken(ca.certPem) };
  // Ingress joins the init transaction, so init stays all-or-nothing.
  const ingress = planInitialIngress(cluster, { id: newObjectId(), createdAt: BigInt(now) });
  await initializeClusterRecords(
    store,
    {
      cluster,
      ca: { certificatePem: ca.certPem, keyPem: ca.keyPem },
      tokens,
      firstNode: {
        id: nodeId,
        hostname: opts.hostname,
        role: NodeRole.NODE_ROLE_MANAGER,
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
        status: NodeStatus.NODE_STATUS_READY,
        advertiseAddr: opts.advertiseAddr,
        dataPathAddr: opts.dataPathAddr,
        createdAt: BigInt(now),
        updatedAt: BigInt(now),
      },
    },
    ingress.plan,
  );
  return { clusterId, nodeId, identity: { caPem: ca.certPem, certPem, keyPem }, tokens };
}
