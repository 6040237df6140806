import type { Clock } from '../common/clock.js';
import type { Compare, KvStore } from '../kvstore/index.js';
import { Node } from '../gen/vxmesh/v1/node.js';
import type { NodeStatus } from '../gen/vxmesh/v1/node.js';
import { encodeMessage } from './store/message-codec.js';
import { storeKeys } from './store/store-keys.js';

/**
 * Writes of the manager's singleton duties are fenced rather than locked (RELIABILITY.md A1:
 * etcd locks cannot guarantee mutual exclusion). Each such write is a transaction that also
 * compares a key only the rightful writer can hold:
 *
 * - the leader's duties (service orchestration and scheduling, marking Down the nodes no manager
 *   serves) compare the leader's presence key and its creation revision
 *   ({@link ManagerPresence.leaderFence});
 * - a session holder's duty (marking Down a node whose heartbeats it stopped receiving) compares
 *   the node's session record ({@link ManagerPresence.sessionFence}).
 *
 * Both keys live on the writer's lease, so a manager that was paused or cut off from etcd past
 * its lease loses them, and its late writes fail however stale its view is.
 */
export type FencedWrite = 'written' | 'unchanged' | 'fenced' | 'missing';

const MAX_ATTEMPTS = 5;

/**
 * Sets a node's observed status with a compare-and-swap on its record that also requires
 * `fence`. Retries only when the record itself changed meanwhile.
 * @returns `written`; `unchanged` when it already had that status; `fenced` when the fence no
 *   longer holds (nothing written); `missing` when the node was removed.
 * @throws VxmeshError UNAVAILABLE from the store (the write may or may not have happened).
 */
export async function setNodeStatusFenced(
  store: KvStore,
  clock: Clock,
  nodeId: string,
  status: NodeStatus,
  fence: Compare,
): Promise<FencedWrite> {
  const key = storeKeys.node(nodeId);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const { kv } = await store.get(key);
    if (!kv) {
      return 'missing';
    }
    const node = Node.decode(kv.value);
    if (node.status === status) {
      return 'unchanged';
    }
    const res = await store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: kv.modRevision }, fence],
      success: [{ type: 'put', key, value: encodeMessage(Node, { ...node, status, updatedAt: BigInt(clock.now()) }) }],
      failure: [{ type: 'get', key }],
    });
    if (res.succeeded) {
      return 'written';
    }
    const [current] = res.results;
    if (current?.type === 'get' && current.kv?.modRevision === kv.modRevision) {
      // The record did not change, so the fence is what failed.
      return 'fenced';
    }
  }
  return 'fenced';
}
