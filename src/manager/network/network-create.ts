import { VxmeshError } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { Cluster } from '../../gen/vxmesh/v1/cluster.js';
import type { CreateNetworkRequest } from '../../gen/vxmesh/v1/control.js';
import { defaultPools } from '../ipam/address-pools.js';
import { loadClaims } from '../ipam/subnet-claims.js';
import { loadVnis } from '../ipam/vni-space.js';
import { newObjectId } from '../node-registry.js';
import { storeKeys } from '../store/store-keys.js';
import { getNetwork } from './network-records.js';
import type { StoredNetwork } from './network-records.js';
import { planNetworkCreate } from './network-plan.js';
import { checkCreateRequest } from './network-spec.js';

/** What {@link createNetwork} needs besides the store. */
export interface CreateNetworkDeps {
  readonly store: KvStore;
  readonly clock: Clock;
  /** Random source in [0, 1) for conflict backoff jitter. */
  readonly random: () => number;
  /** Cluster settings (default address pools). */
  readonly cluster: Pick<Cluster, 'defaultAddrPools' | 'defaultAddrPoolMaskLength'>;
  /** Attempts before giving up with CONFLICT when other creates keep winning. Default 40. */
  readonly maxAttempts?: number;
}

/**
 * Creates a network: validates the whole request first (nothing is read or written for a bad
 * one), then reads the state it depends on (name, ingress, subnet claims, VNI bitmap) and
 * commits record, name index, claims, VNIs and gateway/aux reservations in ONE compare-and-swap
 * transaction. A lost race re-reads and replans (bounded, with jittered backoff), so concurrent
 * creates on several managers never share a name, subnet or VNI, and a failure or crash leaves
 * nothing behind.
 * @throws InvalidArgumentError (bad input, overlapping subnet, VNI taken), VxmeshError
 *   ALREADY_EXISTS (name taken, second ingress), EXHAUSTED (pools or VNIs), CONFLICT (too many
 *   lost races), or a store error.
 */
export async function createNetwork(
  deps: CreateNetworkDeps,
  req: CreateNetworkRequest,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<StoredNetwork> {
  const spec = checkCreateRequest(req);
  const pools = defaultPools(deps.cluster);
  const { store } = deps;
  const maxAttempts = deps.maxAttempts ?? 40;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    opts.signal?.throwIfAborted();
    const [name, ingress, claims, vnis] = await Promise.all([
      store.get(storeKeys.networkName(spec.name), opts),
      spec.ingress ? store.get(storeKeys.ingressNetwork, opts) : Promise.resolve(undefined),
      loadClaims(store, opts),
      loadVnis(store, opts),
    ]);
    if (name.kv) {
      throw new VxmeshError('ALREADY_EXISTS', `network with name ${spec.name} already exists`);
    }
    if (ingress?.kv) {
      const id = Buffer.from(ingress.kv.value).toString('utf8');
      const existing = await getNetwork(store, id, opts);
      throw new VxmeshError(
        'ALREADY_EXISTS',
        `an ingress network already exists: ${existing?.network.name ?? '?'} (${id}); remove it first`,
      );
    }
    const { network, plan } = planNetworkCreate(
      spec,
      { claims, vnis, pools },
      {
        id: newObjectId(),
        createdAt: BigInt(deps.clock.now()),
      },
    );
    const res = await store.txn({ compare: plan.compares, success: plan.ops }, opts);
    if (res.succeeded) {
      return { network, modRevision: res.revision };
    }
    // Another create (or removal) changed what we planned against; spread the retries apart.
    await deps.clock.sleep(Math.min(200, 5 * 2 ** Math.min(attempt, 6)) * deps.random(), opts.signal);
  }
  throw new VxmeshError('CONFLICT', `network ${spec.name}: other network changes kept winning; try again`);
}
