/**
 * Fencing of the managers' singleton duties without locks (RELIABILITY.md A4 test 6): a write
 * compares a key that only the rightful writer holds, on its lease. A manager whose clock stands
 * still (as if SIGSTOPped) keeps a stale view, but its writes fail once its lease ran out, and
 * when it resumes it learns that its sessions are gone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { EmbeddedKvStore } from '../../src/kvstore/index.js';
import { Node, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import { setNodeStatusFenced } from '../../src/manager/leadership.js';
import { ManagerPresence } from '../../src/manager/manager-presence.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { ManualClock } from '../support/manual-clock.js';

describe('fenced node status writes', () => {
  let store: EmbeddedKvStore;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    store = await EmbeddedKvStore.open({ path: ':memory:' });
    await store.put(
      storeKeys.node('w1'),
      encodeMessage(
        Node,
        Node.fromPartial({
          id: 'w1',
          hostname: 'w1',
          role: NodeRole.NODE_ROLE_WORKER,
          status: NodeStatus.NODE_STATUS_READY,
        }),
      ),
    );
  });

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) {
      await close();
    }
    await store.close();
  });

  const presence = async (
    nodeId: string,
    clock: ManualClock | typeof systemClock,
    ttlSeconds: number,
  ): Promise<ManagerPresence> => {
    const p = new ManagerPresence({ store, clock, nodeId, ttlSeconds });
    await p.start(`198.51.100.1${nodeId.length}:2377`);
    closers.push(() => p.close());
    return p;
  };
  const status = async (): Promise<NodeStatus | undefined> => {
    const { kv } = await store.get(storeKeys.node('w1'));
    return kv ? Node.decode(kv.value).status : undefined;
  };

  it("a paused leader's Down write fails once its lease ran out; the new leader's succeeds", async () => {
    const paused = new ManualClock(Date.now());
    const a = await presence('a', paused, 1);
    const b = await presence('bb', systemClock, 5);
    await waitUntil(() => b.leaderId() === 'a', 5000, 'b sees a leading');
    const fenceA = a.leaderFence();
    expect(fenceA).toBeDefined();
    expect(b.leaderFence()).toBeUndefined();
    await waitUntil(() => b.leaderId() === 'bb', 10_000, "a's lease to run out");
    // The fence a took while it led, as a write it started before the pause would carry.
    expect(await setNodeStatusFenced(store, paused, 'w1', NodeStatus.NODE_STATUS_DOWN, fenceA!)).toBe('fenced');
    expect(await status()).toBe(NodeStatus.NODE_STATUS_READY);
    expect(await setNodeStatusFenced(store, systemClock, 'w1', NodeStatus.NODE_STATUS_DOWN, b.leaderFence()!)).toBe(
      'written',
    );
    expect(await status()).toBe(NodeStatus.NODE_STATUS_DOWN);
    expect(await setNodeStatusFenced(store, systemClock, 'w1', NodeStatus.NODE_STATUS_DOWN, b.leaderFence()!)).toBe(
      'unchanged',
    );
  });

  it('a session holder may mark its node Down only while the session record still names it', async () => {
    const a = await presence('a', systemClock, 5);
    const b = await presence('bb', systemClock, 5);
    await a.claimSession('w1');
    const fenceA = a.sessionFence('w1');
    // The node moved to b meanwhile (a new session there), while a's view of it went stale.
    await b.claimSession('w1');
    expect(await setNodeStatusFenced(store, systemClock, 'w1', NodeStatus.NODE_STATUS_DOWN, fenceA)).toBe('fenced');
    expect(await status()).toBe(NodeStatus.NODE_STATUS_READY);
    expect(await setNodeStatusFenced(store, systemClock, 'w1', NodeStatus.NODE_STATUS_DOWN, b.sessionFence('w1'))).toBe(
      'written',
    );
  });

  it('a manager that resumes after its lease ran out is told its sessions are gone, and announces itself again', async () => {
    const paused = new ManualClock(Date.now());
    const a = await presence('a', paused, 1);
    await a.claimSession('w1');
    let lost = 0;
    a.onLeaseLost(() => lost++);
    // The store expires the lease (and the session record with it) while a's clock stands still.
    await waitUntil(
      async () => (await store.get(storeKeys.session('w1'))).kv === undefined,
      10_000,
      'the lease to run out',
    );
    expect(await setNodeStatusFenced(store, paused, 'w1', NodeStatus.NODE_STATUS_DOWN, a.sessionFence('w1'))).toBe(
      'fenced',
    );
    // a resumes: its keep-alive finds the lease gone.
    await paused.advance(1000);
    await waitUntil(() => lost === 1, 5000, 'the lease-lost notice');
    await paused.advance(1000);
    await waitUntil(async () => (await store.get(storeKeys.manager('a'))).kv !== undefined, 5000, 'a announced again');
    await waitUntil(() => a.leaderFence() !== undefined, 5000, 'a leading again (it is the only manager)');
    expect(lost).toBe(1);
  });
});
