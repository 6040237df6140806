import { describe, expect, it } from 'vitest';
import { EmbeddedKvStore } from '../../../src/kvstore/index.js';
import type { Compare } from '../../../src/kvstore/index.js';
import { KeyManager, readKeyRing, requestKeyRotation } from '../../../src/manager/keys/key-manager.js';
import { CLUSTER_KEY_BYTES, createKeyRing, rotateKeyRing, rotationDue } from '../../../src/manager/keys/key-ring.js';
import { ManualClock } from '../../support/manual-clock.js';

const HOUR = 3_600_000;
const LEADER_KEY = 'v1/managers/m1';

async function leaderStore(): Promise<{
  store: EmbeddedKvStore;
  fence: () => Compare | undefined;
  leading: { now: boolean };
}> {
  const store = await EmbeddedKvStore.open({ path: ':memory:' });
  const put = await store.put(LEADER_KEY, 'addr');
  const leading = { now: true };
  const fence = (): Compare | undefined =>
    leading.now ? { key: LEADER_KEY, target: 'createRevision', op: '==', value: put.revision } : undefined;
  return { store, fence, leading };
}

describe('the key ring', () => {
  it('holds three fresh 32-byte keys with consecutive tags from a random start below 65536', () => {
    const a = createKeyRing(1000);
    const b = createKeyRing(1000);
    expect(a.keys).toHaveLength(3);
    expect(a.keys.every((k) => k.key.length === CLUSTER_KEY_BYTES)).toBe(true);
    expect(a.keys.map((k) => k.tag - (a.keys[0]?.tag ?? 0))).toEqual([0, 1, 2]);
    expect(a.keys[0]?.tag).toBeLessThan(65536);
    expect(new Set([...a.keys, ...b.keys].map((k) => k.key.toString('hex'))).size).toBe(6);
  });

  it('rotates by dropping the oldest key and appending one tagged one higher', () => {
    const ring = createKeyRing(0);
    const next = rotateKeyRing(ring, 5000, undefined, 7n);
    expect(next.keys.map((k) => k.tag)).toEqual([ring.keys[1]?.tag, ring.keys[2]?.tag, (ring.keys[2]?.tag ?? 0) + 1]);
    expect(next.keys[0]?.key).toEqual(ring.keys[1]?.key);
    expect(next.rotatedAt).toBe(5000n);
    expect(next.rotationRequestRevision).toBe(7n);
    expect(rotationDue(next, 5000 + 12 * HOUR - 1, 12 * HOUR, 7n)).toBe(false);
    expect(rotationDue(next, 5000 + 12 * HOUR, 12 * HOUR, 7n)).toBe(true);
    expect(rotationDue(next, 5001, 12 * HOUR, 8n)).toBe(true);
  });
});

describe('KeyManager', () => {
  it('creates the ring only while leading, rotates it when its period is over and on request', async () => {
    const { store, fence, leading } = await leaderStore();
    const clock = new ManualClock();
    const km = new KeyManager({ store, clock, leaderFence: fence, rotationIntervalMs: 2 * HOUR });
    leading.now = false;
    expect(await km.check()).toBe('not-leader');
    expect(await readKeyRing(store)).toBeUndefined();
    leading.now = true;
    expect(await km.check()).toBe('created');
    const created = (await readKeyRing(store))?.ring;
    expect(created?.keys).toHaveLength(3);
    expect(await km.check()).toBe('unchanged');
    await clock.advance(2 * HOUR);
    expect(await km.check()).toBe('rotated');
    const rotated = (await readKeyRing(store))?.ring;
    expect(rotated?.keys.map((k) => k.tag)).toEqual([
      created?.keys[1]?.tag,
      created?.keys[2]?.tag,
      (created?.keys[2]?.tag ?? 0) + 1,
    ]);
    expect(await km.check()).toBe('unchanged');
    // On demand: any manager may ask; the leader rotates once for every request made before.
    await requestKeyRotation(store, clock.now());
    expect(await km.check()).toBe('rotated');
    expect(await km.check()).toBe('unchanged');
    expect(await km.rotateNow()).toBe('rotated');
    await km.close();
    await store.close();
  });

  it("a former leader's write is fenced off", async () => {
    const { store, fence } = await leaderStore();
    const km = new KeyManager({ store, clock: new ManualClock(), leaderFence: fence });
    // Leadership moved on: the leader's presence key was recreated (a new createRevision).
    await store.delete(LEADER_KEY);
    await store.put(LEADER_KEY, 'addr');
    expect(await km.check()).toBe('conflict');
    expect(await readKeyRing(store)).toBeUndefined();
    await store.close();
  });

  it('refuses a rotation period below a second', () => {
    expect(
      () =>
        new KeyManager({
          store: {} as EmbeddedKvStore,
          clock: new ManualClock(),
          leaderFence: () => undefined,
          rotationIntervalMs: 10,
        }),
    ).toThrow(RangeError);
  });

  it('runs by itself once started: the ring appears and follows the period', async () => {
    const { store, fence } = await leaderStore();
    const clock = new ManualClock();
    const km = new KeyManager({ store, clock, leaderFence: fence, rotationIntervalMs: HOUR, checkPeriodMs: 60_000 });
    km.start();
    await waitFor(async () => (await readKeyRing(store)) !== undefined);
    const first = (await readKeyRing(store))?.ring.keys.map((k) => k.tag) ?? [];
    await clock.advance(HOUR + 60_000);
    await waitFor(async () => (await readKeyRing(store))?.ring.keys[0]?.tag === first[1]);
    await km.close();
    await store.close();
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) {
      throw new Error('timed out');
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
