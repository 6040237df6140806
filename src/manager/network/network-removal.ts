import { NotFoundError, VxmeshError } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { encodeMessage } from '../store/message-codec.js';
import { Network as NetworkCodec } from '../../gen/vxmesh/v1/network.js';
import { claimRelease } from '../ipam/subnet-claims.js';
import { loadVnis, releaseVnis } from '../ipam/vni-space.js';
import { storeKeys } from '../store/store-keys.js';
import { firstAttachment } from './network-attachments.js';
import type { RemovalMarker } from './network-attachments.js';
import { getNetwork } from './network-records.js';
import type { StoredNetwork } from './network-records.js';

const MAX_ATTEMPTS = 20;

/** Error for a network something still uses; `code` FAILED_PRECONDITION. */
export class NetworkInUseError extends VxmeshError {
  constructor(
    readonly network: Network,
    readonly user: string,
  ) {
    super('FAILED_PRECONDITION', `network ${network.name} (${network.id}) is in use by ${user}; remove it first`);
  }
}

/**
 * Removes a network and everything allocated with it, race-free against attaches:
 * 1. mark: put the removal marker and rewrite the record unchanged (compare-and-swap on its
 *    modRevision), which bumps its modRevision so any attach txn planned before fails, and any
 *    planned after sees the marker and refuses;
 * 2. check: if anything is registered under the network's attachments prefix, delete the marker
 *    and refuse with {@link NetworkInUseError};
 * 3. delete, in one txn that compares the record is still as marked: record, name index,
 *    ingress key, subnet claims, VNIs (chunk compare-and-swap), address bitmaps, marker.
 * A crash after step 1 leaves a marker; a later removal takes over, and an attach clears it
 * once stale. Removing ingress is allowed (the caller warns).
 * @throws NotFoundError when the network is gone (also when a concurrent removal won);
 *   NetworkInUseError; VxmeshError CONFLICT after too many lost races.
 */
export async function removeNetwork(
  store: KvStore,
  target: StoredNetwork,
  clock: Clock,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<Network> {
  let current: StoredNetwork | undefined = target;
  for (let attempt = 0; attempt < MAX_ATTEMPTS && current; attempt++) {
    const { network } = current;
    const recordKey = storeKeys.network(network.id);
    const markerKey = storeKeys.networkRemoval(network.id);
    const marker: RemovalMarker = { since: clock.now() };
    const marked = await store.txn(
      {
        compare: [{ key: recordKey, target: 'modRevision', op: '==', value: current.modRevision }],
        success: [
          { type: 'put', key: markerKey, value: JSON.stringify(marker) },
          { type: 'put', key: recordKey, value: encodeMessage(NetworkCodec, network) },
        ],
      },
      opts,
    );
    if (!marked.succeeded) {
      current = await getNetwork(store, network.id, opts);
      continue;
    }
    const markedRevision = marked.revision;
    const user = await firstAttachment(store, network.id, opts);
    if (user) {
      await store.txn(
        {
          compare: [{ key: recordKey, target: 'modRevision', op: '==', value: markedRevision }],
          success: [{ type: 'delete', key: markerKey }],
        },
        opts,
      );
      throw new NetworkInUseError(network, `${user.kind} ${user.owner}`);
    }
    for (let vniAttempt = 0; vniAttempt < MAX_ATTEMPTS; vniAttempt++) {
      const vnis = await loadVnis(store, opts);
      const vniRelease = releaseVnis(
        vnis,
        network.subnets.map((s) => s.vni).filter((v) => v > 0),
      );
      const res = await store.txn(
        {
          compare: [{ key: recordKey, target: 'modRevision', op: '==', value: markedRevision }, ...vniRelease.compares],
          success: [
            { type: 'delete', key: recordKey },
            { type: 'delete', key: storeKeys.networkName(network.name) },
            ...(network.ingress ? [{ type: 'delete' as const, key: storeKeys.ingressNetwork }] : []),
            ...claimRelease(network.subnets.map((s) => s.subnet)),
            ...vniRelease.ops,
            { type: 'deletePrefix', prefix: storeKeys.networkAddressesPrefix(network.id) },
            { type: 'delete', key: markerKey },
          ],
          failure: [{ type: 'get', key: recordKey }],
        },
        opts,
      );
      if (res.succeeded) {
        return network;
      }
      const [now] = res.results;
      if (now?.type !== 'get' || now.kv?.modRevision !== markedRevision) {
        // Someone else touched the record (a takeover, another removal): start over.
        break;
      }
      // Only the VNI chunks moved (another network was created or removed): re-read them.
    }
    current = await getNetwork(store, network.id, opts);
  }
  if (!current) {
    throw new NotFoundError('network', target.network.name);
  }
  throw new VxmeshError('CONFLICT', `network ${target.network.name} kept changing while being removed; try again`);
}
