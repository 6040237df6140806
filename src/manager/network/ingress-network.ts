import type { Cluster } from '../../gen/vxmesh/v1/cluster.js';
import type { CreateNetworkRequest } from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { defaultPools } from '../ipam/address-pools.js';
import type { TxnPlan } from '../ipam/txn-plan.js';
import { emptyCreateSnapshot, planNetworkCreate } from './network-plan.js';
import { checkCreateRequest } from './network-spec.js';

export const INGRESS_NAME = 'ingress';

/**
 * The request swarm init creates ingress with (moby/swarmkit `newIngressNetwork`): name
 * `ingress`, `Ingress: true`, not attachable, subnet from the default pools (10.0.0.0/24 with
 * the defaults), VNI from the empty bitmap (4096).
 */
export function ingressCreateRequest(): CreateNetworkRequest {
  return {
    name: INGRESS_NAME,
    driver: '',
    subnets: [],
    gateways: [],
    ipRanges: [],
    auxAddresses: {},
    enableIpv6: false,
    internal: false,
    attachable: false,
    ingress: true,
    labels: {},
    options: {},
    ipamDriver: '',
    ipamOptions: {},
  };
}

/**
 * The ingress network of a cluster being initialised, planned against empty state so it can
 * join the init transaction (init stays all-or-nothing): its compares require every key it
 * writes to be absent.
 */
export function planInitialIngress(
  cluster: Pick<Cluster, 'defaultAddrPools' | 'defaultAddrPoolMaskLength'>,
  ident: { readonly id: string; readonly createdAt: bigint },
): { network: Network; plan: TxnPlan } {
  return planNetworkCreate(
    checkCreateRequest(ingressCreateRequest()),
    emptyCreateSnapshot(defaultPools(cluster)),
    ident,
  );
}
