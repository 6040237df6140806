import { describe, expect, it } from 'vitest';
import { EmbeddedKvStore } from '../../src/kvstore/index.js';
import { ManagerPresence } from '../../src/manager/manager-presence.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { ManualClock } from '../support/manual-clock.js';
import { systemClock } from '../../src/common/clock.js';

describe('leader fencing', () => {
  it("a paused leader's fenced write fails once its lease ran out, and the next leader's succeeds", async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    // The old leader's clock stands still: it never renews its lease, as if SIGSTOPped.
    const paused = new ManualClock(Date.now());
    const a = new ManagerPresence({ store, clock: paused, nodeId: 'a', ttlSeconds: 1 });
    const b = new ManagerPresence({ store, clock: systemClock, nodeId: 'b', ttlSeconds: 5 });
    try {
      await a.start('198.51.100.10:2377');
      await b.start('198.51.100.11:2377');
      await waitUntil(() => b.leaderId() === 'a', 5000, 'b sees a as leader');
      const fenceA = a.leaderFence();
      expect(fenceA).toBeDefined();
      expect(b.leaderFence()).toBeUndefined();
      const write = (fence: NonNullable<typeof fenceA>, value: string) =>
        store.txn({ compare: [fence], success: [{ type: 'put', key: 'v1/test/fenced', value }] });
      expect((await write(fenceA!, 'from a')).succeeded).toBe(true);

      await waitUntil(() => b.leaderId() === 'b', 10_000, "a's lease to run out");
      // a still believes it leads (its view is stale) but its writes no longer commit.
      expect((await write(fenceA!, 'late write from a')).succeeded).toBe(false);
      const fenceB = b.leaderFence();
      expect(fenceB).toBeDefined();
      expect((await write(fenceB!, 'from b')).succeeded).toBe(true);
      expect(new TextDecoder().decode((await store.get('v1/test/fenced')).kv?.value)).toBe('from b');
    } finally {
      await b.close();
      await a.close();
      await store.close();
    }
  });
});
