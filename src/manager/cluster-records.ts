import { InternalError, VxmeshError } from '../common/errors.js';
import type { Compare, KvStore, TxnOp } from '../kvstore/index.js';
import { CaSecret, Cluster } from '../gen/vxmesh/v1/cluster.js';
import { JoinTokens } from '../gen/vxmesh/v1/control.js';
import { Node } from '../gen/vxmesh/v1/node.js';
import { generateJoinToken } from './ca/join-token.js';
import type { JoinRole } from './ca/join-token.js';
import { encodeMessage } from './store/message-codec.js';
import type { MessageCodec } from './store/message-codec.js';
import { storeKeys } from './store/store-keys.js';

async function readRequired<T>(store: KvStore, key: string, codec: MessageCodec<T>): Promise<T> {
  const { kv } = await store.get(key);
  if (!kv) {
    throw new InternalError(`cluster state is incomplete: ${key} is missing from the store`);
  }
  return codec.decode(kv.value);
}

export const readCluster = (store: KvStore): Promise<Cluster> => readRequired(store, storeKeys.cluster, Cluster);
export const readCaSecret = (store: KvStore): Promise<CaSecret> => readRequired(store, storeKeys.caSecret, CaSecret);
export const readJoinTokens = (store: KvStore): Promise<JoinTokens> =>
  readRequired(store, storeKeys.joinTokens, JoinTokens);

/** Whether the store already holds a cluster. */
export async function hasCluster(store: KvStore): Promise<boolean> {
  return (await store.get(storeKeys.cluster)).kv !== undefined;
}

/**
 * Writes a new cluster in one transaction: settings, CA, tokens, the first manager's record and
 * `extra` (the ingress network). Fails with ALREADY_EXISTS (writing nothing) when the store
 * already holds a cluster, so two racing `swarm init`s against one etcd cannot both win, and
 * with FAILED_PRECONDITION when an `extra` compare fails (leftover state in the namespace).
 */
export async function initializeClusterRecords(
  store: KvStore,
  records: { cluster: Cluster; ca: CaSecret; tokens: JoinTokens; firstNode: Node },
  extra: { readonly compares: readonly Compare[]; readonly ops: readonly TxnOp[] } = { compares: [], ops: [] },
): Promise<void> {
  const res = await store.txn({
    compare: [{ key: storeKeys.cluster, target: 'version', op: '==', value: 0n }, ...extra.compares],
    success: [
      { type: 'put', key: storeKeys.cluster, value: encodeMessage(Cluster, records.cluster) },
      { type: 'put', key: storeKeys.caSecret, value: encodeMessage(CaSecret, records.ca) },
      { type: 'put', key: storeKeys.joinTokens, value: encodeMessage(JoinTokens, records.tokens) },
      { type: 'put', key: storeKeys.node(records.firstNode.id), value: encodeMessage(Node, records.firstNode) },
      ...extra.ops,
    ],
  });
  if (!res.succeeded && extra.compares.length > 0 && !(await hasCluster(store))) {
    throw new VxmeshError(
      'FAILED_PRECONDITION',
      'the store namespace holds network state of an earlier cluster; use an empty namespace',
    );
  }
  if (!res.succeeded) {
    throw new VxmeshError('ALREADY_EXISTS', 'the store already holds a cluster; join it instead of initialising');
  }
}

/** Replaces one role's token secret with compare-and-swap; the old token stops working at once. */
export async function rotateJoinToken(store: KvStore, role: JoinRole, caBundlePem: string): Promise<JoinTokens> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const { kv } = await store.get(storeKeys.joinTokens);
    if (!kv) {
      throw new InternalError('cluster state is incomplete: join tokens are missing');
    }
    const next: JoinTokens = { ...JoinTokens.decode(kv.value), [role]: generateJoinToken(caBundlePem) };
    const res = await store.txn({
      compare: [{ key: storeKeys.joinTokens, target: 'modRevision', op: '==', value: kv.modRevision }],
      success: [{ type: 'put', key: storeKeys.joinTokens, value: encodeMessage(JoinTokens, next) }],
    });
    if (res.succeeded) {
      return next;
    }
  }
  throw new VxmeshError('CONFLICT', 'join tokens are being rotated concurrently; try again');
}
