import { NotFoundError, VxmeshError } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KvBytes, KvStore, TxnOp } from '../../kvstore/index.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import { storeKeys } from '../store/store-keys.js';
import type { StoredNetwork } from './network-records.js';

/**
 * A removal marker older than this is taken to be left by a manager that died mid-removal: an
 * attach clears it (bumping the network record, which makes the dead removal's final delete
 * fail if it ever resumes).
 */
export const STALE_REMOVAL_MS = 60_000;

/** What uses a network: an endpoint, a service (VIP), a task, a node's LB address... */
export interface AttachmentRef {
  /** Kind of user, e.g. "endpoint", "service"; letters, digits and '-'. */
  readonly kind: string;
  /** ID of the user, unique within the kind. */
  readonly owner: string;
}

/** Value of a removal marker. */
export interface RemovalMarker {
  /** Clock time the removal started, ms. */
  readonly since: number;
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Key of one attachment: `v1/network-attachments/<networkId>/<kind>/<owner>`. */
export function attachmentKey(networkId: string, ref: AttachmentRef): string {
  if (!SEGMENT.test(ref.kind) || !SEGMENT.test(ref.owner)) {
    throw new VxmeshError('INVALID_ARGUMENT', `invalid attachment ${ref.kind}/${ref.owner}`);
  }
  return `${storeKeys.networkAttachmentsPrefix(networkId)}${ref.kind}/${ref.owner}`;
}

/** Parses an attachment key back (for messages). */
export function attachmentRefOf(networkId: string, key: string): AttachmentRef {
  const rest = key.slice(storeKeys.networkAttachmentsPrefix(networkId).length);
  const slash = rest.indexOf('/');
  return { kind: rest.slice(0, slash), owner: rest.slice(slash + 1) };
}

/**
 * Reads a network and its removal marker at one revision (one round trip), and returns the
 * compares an attach transaction must carry to be safe against a concurrent removal: the
 * record's modRevision unchanged and no marker (or the stale marker it clears with `ops`).
 * Later issues that write an attachment together with other keys (an address, a task) put
 * these compares and ops in their own transaction.
 * @throws NotFoundError when the network does not exist; VxmeshError FAILED_PRECONDITION while
 *   it is being removed.
 */
export async function attachGuard(
  store: KvStore,
  networkId: string,
  clock: Clock,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<{ network: StoredNetwork; compares: Compare[]; ops: TxnOp[] }> {
  const recordKey = storeKeys.network(networkId);
  const markerKey = storeKeys.networkRemoval(networkId);
  const read = await store.txn(
    {
      compare: [],
      success: [
        { type: 'get', key: recordKey },
        { type: 'get', key: markerKey },
      ],
    },
    opts,
  );
  const [record, marker] = read.results;
  if (record?.type !== 'get' || !record.kv) {
    throw new NotFoundError('network', networkId);
  }
  const network = Network.decode(record.kv.value);
  const compares: Compare[] = [{ key: recordKey, target: 'modRevision', op: '==', value: record.kv.modRevision }];
  const ops: TxnOp[] = [];
  if (marker?.type === 'get' && marker.kv) {
    const since = (JSON.parse(Buffer.from(marker.kv.value).toString('utf8')) as Partial<RemovalMarker>).since ?? 0;
    if (clock.now() - since < STALE_REMOVAL_MS) {
      throw new VxmeshError('FAILED_PRECONDITION', `network ${network.name} is being removed`);
    }
    compares.push({ key: markerKey, target: 'modRevision', op: '==', value: marker.kv.modRevision });
    ops.push({ type: 'delete', key: markerKey }, { type: 'put', key: recordKey, value: record.kv.value });
  } else {
    compares.push({ key: markerKey, target: 'version', op: '==', value: 0n });
  }
  return { network: { network, modRevision: record.kv.modRevision }, compares, ops };
}

/**
 * Registers that `ref` uses the network, so `network rm` refuses to remove it until
 * {@link detachFromNetwork}. Race-free against removal: the write compares the network record's
 * modRevision and the absence of a removal marker, and removal bumps the record when it marks.
 * Idempotent: attaching again overwrites the value. Retries lost races (attaches of other users
 * don't conflict with each other; only a removal starting, or another attach clearing a stale
 * marker, does).
 * @throws NotFoundError (no such network), VxmeshError FAILED_PRECONDITION (being removed),
 *   CONFLICT (kept losing races).
 */
export async function attachToNetwork(
  store: KvStore,
  networkId: string,
  ref: AttachmentRef,
  value: KvBytes,
  clock: Clock,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<StoredNetwork> {
  const key = attachmentKey(networkId, ref);
  for (let attempt = 0; attempt < 20; attempt++) {
    const guard = await attachGuard(store, networkId, clock, opts);
    const res = await store.txn(
      { compare: guard.compares, success: [...guard.ops, { type: 'put', key, value }] },
      opts,
    );
    if (res.succeeded) {
      return guard.network;
    }
  }
  throw new VxmeshError('CONFLICT', `network ${networkId} kept changing while attaching ${ref.kind} ${ref.owner}`);
}

/** Removes the registration; resolves false when there was none. Needs no guard: it only frees. */
export async function detachFromNetwork(
  store: KvStore,
  networkId: string,
  ref: AttachmentRef,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<boolean> {
  return (await store.delete(attachmentKey(networkId, ref), opts)).deleted > 0;
}

/** The first attachment of a network, if any (what blocks its removal). */
export async function firstAttachment(
  store: KvStore,
  networkId: string,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<AttachmentRef | undefined> {
  const page = await store.range(storeKeys.networkAttachmentsPrefix(networkId), { limit: 1, ...opts });
  const [kv] = page.kvs;
  return kv ? attachmentRefOf(networkId, kv.key) : undefined;
}
