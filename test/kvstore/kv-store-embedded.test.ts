import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../src/common/clock.js';
import { ClosedError, InvalidArgumentError, NotFoundError, UnavailableError } from '../../src/common/errors.js';
import { EmbeddedKvStore } from '../../src/kvstore/kv-store-embedded.js';
import type { EmbeddedKvStoreOptions } from '../../src/kvstore/kv-store-embedded.js';
import type { KeyValue, WatchEvent } from '../../src/kvstore/kv-store.js';

/** Time that moves only when the test says so; `sleep` resolves when `advance` passes its deadline. */
class ManualClock implements Clock {
  #now = 1_700_000_000_000;
  #sleepers: { until: number; resolve: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const sleeper = {
        until: this.#now + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  advance(ms: number): void {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.until <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.until > this.#now);
    for (const s of due) {
      s.resolve();
    }
  }
}

const decoder = new TextDecoder();
const text = (kv: KeyValue | undefined): string | undefined => (kv ? decoder.decode(kv.value) : undefined);

function describeEvent(e: WatchEvent): string {
  switch (e.type) {
    case 'put': {
      return `put ${e.kv.key}=${decoder.decode(e.kv.value)}@${e.kv.modRevision}`;
    }
    case 'delete': {
      return `delete ${e.key}@${e.modRevision}`;
    }
    case 'synced': {
      return `synced@${e.revision}`;
    }
    case 'reset': {
      return `reset ${e.reason}`;
    }
  }
}

async function until(pred: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met in ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Reads `count` events from a watch, then stops it. */
async function take(iterable: AsyncIterable<WatchEvent>, count: number): Promise<WatchEvent[]> {
  const out: WatchEvent[] = [];
  if (count === 0) {
    return out;
  }
  for await (const ev of iterable) {
    out.push(ev);
    if (out.length >= count) {
      break;
    }
  }
  return out;
}

describe('EmbeddedKvStore', () => {
  let dir: string;
  let path: string;
  const open: EmbeddedKvStore[] = [];

  const openStore = async (opts: Partial<EmbeddedKvStoreOptions> = {}): Promise<EmbeddedKvStore> => {
    const store = await EmbeddedKvStore.open({ ...opts, path });
    open.push(store);
    return store;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-kv-embedded-'));
    path = join(dir, 'store.db');
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('starts at revision 1 like etcd, so the first write gets revision 2', async () => {
    const store = await openStore();
    expect((await store.get('a')).revision).toBe(1n);
    expect((await store.put('a', 'x')).revision).toBe(2n);
  });

  it('reopen keeps keys, key revisions, the store revision and history', async () => {
    const first = await openStore();
    await first.put('k/a', '1');
    await first.put('k/a', '2');
    await first.put('k/b', '3');
    const del = await first.delete('k/b');
    await first.put('k/c', '4');
    const before = await first.range('k/');
    await first.close();

    const second = await openStore();
    const after = await second.range('k/');
    expect(after).toEqual(before);
    expect(text((await second.get('k/a')).kv)).toBe('2');
    expect((await second.get('k/a')).kv?.version).toBe(2n);
    expect((await second.put('k/d', '5')).revision).toBe(before.revision + 1n);
    const replay = await take(second.watch('k/', { fromRevision: del.revision }), 3);
    expect(replay.map(describeEvent)).toEqual([
      `delete k/b@${del.revision}`,
      `put k/c=4@${del.revision + 1n}`,
      `put k/d=5@${del.revision + 2n}`,
    ]);
  });

  it('a second open of the same file fails clearly while the first is open', async () => {
    const first = await openStore();
    await first.put('a', '1');
    const err: unknown = await EmbeddedKvStore.open({ path }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(String(err)).toMatch(/locked/);
    await first.close();
    const again = await openStore();
    expect(text((await again.get('a')).kv)).toBe('1');
  });

  it('expires a lease on the injected clock and gives leases a fresh TTL after reopen', async () => {
    const clock = new ManualClock();
    const first = await openStore({ clock, leaseCheckIntervalMs: 100 });
    const lease = await first.grantLease(10);
    await first.put('l/a', 'x', { lease: lease.id });
    clock.advance(9_000);
    await first.close();

    const second = await openStore({ clock, leaseCheckIntervalMs: 100 });
    // 18 s after the grant: expired by the old deadline, alive by the fresh one.
    clock.advance(9_000);
    await new Promise((r) => setTimeout(r, 20));
    expect((await second.get('l/a')).kv?.lease).toBe(lease.id);
    expect((await second.keepAliveLease(lease.id)).ttlSeconds).toBe(10);
    clock.advance(9_900);
    await new Promise((r) => setTimeout(r, 20));
    expect((await second.get('l/a')).kv).toBeDefined();
    clock.advance(200);
    await until(async () => (await second.get('l/a')).kv === undefined);
    await expect(second.keepAliveLease(lease.id)).rejects.toBeInstanceOf(NotFoundError);
    // A lease id handed out before the crash is never reused.
    expect((await second.grantLease(5)).id).toBeGreaterThan(lease.id);
  });

  it('lease revocation on expiry is one revision and shows in watches', async () => {
    const clock = new ManualClock();
    const store = await openStore({ clock, leaseCheckIntervalMs: 100 });
    const lease = await store.grantLease(1);
    await store.put('e/a', 'x', { lease: lease.id });
    await store.put('e/b', 'y', { lease: lease.id });
    const events = take(store.watch('e/'), 5);
    await new Promise((r) => setTimeout(r, 10));
    clock.advance(1_000);
    const evs = await events;
    const deletes = evs.filter((e) => e.type === 'delete');
    expect(deletes.map((e) => (e.type === 'delete' ? e.key : ''))).toEqual(['e/a', 'e/b']);
    expect(new Set(deletes.map((e) => (e.type === 'delete' ? e.modRevision : 0n))).size).toBe(1);
  });

  it('auto-compaction keeps the last N revisions of history', async () => {
    const store = await openStore({ autoCompactRetention: 20 });
    let last = 0n;
    for (let i = 0; i < 100; i++) {
      last = (await store.put(`c/${i % 7}`, String(i))).revision;
    }
    // Recent history still replays...
    const recent = await take(store.watch('c/', { fromRevision: last - 10n }), 11);
    expect(recent.map(describeEvent)[10]).toBe(`put c/${99 % 7}=99@${last}`);
    // ...old history is gone: reset, relist, synced.
    const old = await take(store.watch('c/', { fromRevision: 2n }), 9);
    expect(old[0]).toEqual({ type: 'reset', reason: 'compacted' });
    expect(old.filter((e) => e.type === 'put')).toHaveLength(7);
    expect(old[8]).toEqual({ type: 'synced', revision: last });
    await expect(store.range('c/', { revision: 5n })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect((await store.range('c/', { revision: last - 10n })).revision).toBe(last - 10n);
  });

  it('range at an older revision sees the keys as they were, paginated', async () => {
    const store = await openStore();
    await store.put('r/a', 'a1');
    await store.put('r/b', 'b1');
    await store.put('r/d', 'd1');
    const at = (await store.put('r/e', 'e1', {})).revision;
    await store.put('r/a', 'a2');
    await store.delete('r/b');
    await store.put('r/c', 'c1');
    await store.deletePrefix('r/e');
    await store.put('r/f', 'f1');
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await store.range(
        'r/',
        after === undefined ? { limit: 2, revision: at } : { limit: 2, revision: at, after },
      );
      expect(page.revision).toBe(at);
      seen.push(...page.kvs.map((kv) => `${kv.key}=${text(kv)}@${kv.modRevision}/v${kv.version}`));
      if (!page.more) {
        break;
      }
      after = page.kvs[page.kvs.length - 1]?.key;
    }
    expect(seen).toEqual([`r/a=a1@2/v1`, `r/b=b1@3/v1`, `r/d=d1@4/v1`, `r/e=e1@5/v1`]);
    expect((await store.range('r/')).kvs.map((kv) => `${kv.key}=${text(kv)}`)).toEqual([
      'r/a=a2',
      'r/c=c1',
      'r/d=d1',
      'r/f=f1',
    ]);
    await expect(store.range('r/', { revision: 1000n })).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('compact: future revision is rejected, an already compacted one is a no-op', async () => {
    const store = await openStore({ autoCompactRetention: 0 });
    const r = await store.put('a', '1');
    await expect(store.compact(r.revision + 1n)).rejects.toBeInstanceOf(InvalidArgumentError);
    await store.compact(r.revision);
    await store.compact(r.revision - 1n);
    await expect(store.range('', { revision: r.revision - 1n })).rejects.toThrow(/compacted/);
  });

  it('writes issued in one tick commit together but keep their own revisions in call order', async () => {
    const store = await openStore();
    const start = (await store.get('x')).revision;
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => store.put(`g/${i}`, String(i))));
    expect(results.map((r) => r.revision)).toEqual(Array.from({ length: 64 }, (_, i) => start + 1n + BigInt(i)));
    // A txn that writes nothing in the middle of a batch takes no revision.
    const [a, noop, b] = await Promise.all([
      store.put('g/x', '1'),
      store.txn({
        compare: [{ key: 'g/x', target: 'version', op: '==', value: 5n }],
        success: [{ type: 'delete', key: 'g/0' }],
      }),
      store.delete('g/missing'),
    ]);
    expect(noop.succeeded).toBe(false);
    expect(noop.revision).toBe(a.revision);
    expect(b.revision).toBe(a.revision);
  });

  it('one failing request does not fail the rest of its batch', async () => {
    const store = await openStore();
    const results = await Promise.allSettled([
      store.put('b/1', 'x'),
      store.put('b/2', 'x', { lease: 424242n }),
      store.put('b/3', 'x'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await store.range('b/')).kvs.map((kv) => kv.key)).toEqual(['b/1', 'b/3']);
  });

  it('an aborted write that has not been applied yet is dropped', async () => {
    const store = await openStore();
    const ac = new AbortController();
    const p = store.put('ab/x', '1', { signal: ac.signal });
    ac.abort(new Error('changed my mind'));
    await expect(p).rejects.toThrow('changed my mind');
    expect((await store.get('ab/x')).kv).toBeUndefined();
  });

  it('rejects txns etcd rejects: duplicate keys, too many ops', async () => {
    const store = await openStore();
    await expect(
      store.txn({
        compare: [],
        success: [
          { type: 'put', key: 'd', value: '1' },
          { type: 'put', key: 'd', value: '2' },
        ],
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(
      store.txn({
        compare: [],
        success: [
          { type: 'deletePrefix', prefix: 'd' },
          { type: 'put', key: 'd/x', value: '2' },
        ],
      }),
    ).rejects.toBeInstanceOf(InvalidArgumentError);
    const many = Array.from({ length: 129 }, (_, i) => ({ type: 'get' as const, key: `k${i}` }));
    await expect(store.txn({ compare: [], success: many })).rejects.toBeInstanceOf(InvalidArgumentError);
    // A value compare on a missing key is false whatever the op, as in etcd.
    const res = await store.txn({ compare: [{ key: 'nope', target: 'value', op: '!=', value: 'x' }], success: [] });
    expect(res.succeeded).toBe(false);
  });

  it('a watch that is not read stops buffering and later catches up from history', async () => {
    const store = await openStore({ maxWatchBufferedEvents: 10 });
    const iter = store.watch('s/')[Symbol.asyncIterator]();
    expect((await iter.next()).value).toEqual({ type: 'synced', revision: 1n });
    const expected: string[] = [];
    for (let i = 0; i < 2_500; i += 50) {
      const batch = await Promise.all(
        Array.from({ length: 50 }, (_, j) => store.put(`s/${(i + j) % 13}`, String(i + j))),
      );
      batch.forEach((r, j) => expected.push(`put s/${(i + j) % 13}=${i + j}@${r.revision}`));
    }
    const got: string[] = [];
    while (got.length < expected.length) {
      const next = await iter.next();
      if (next.done === true) {
        break;
      }
      got.push(describeEvent(next.value));
    }
    expect(got).toEqual(expected);
    await iter.return?.();
  });

  it('a watch that fell behind past compaction gets reset and a relist', async () => {
    const store = await openStore({ maxWatchBufferedEvents: 5, autoCompactRetention: 10 });
    const iter = store.watch('s/')[Symbol.asyncIterator]();
    await iter.next();
    for (let i = 0; i < 100; i++) {
      await store.put(`s/${i % 3}`, String(i));
    }
    const got: string[] = [];
    for (;;) {
      const next = await iter.next();
      if (next.done === true) {
        break;
      }
      got.push(describeEvent(next.value));
      if (next.value.type === 'synced') {
        break;
      }
    }
    expect(got.slice(0, 5)).toEqual(['put s/0=0@2', 'put s/1=1@3', 'put s/2=2@4', 'put s/0=3@5', 'put s/1=4@6']);
    expect(got.slice(5)).toEqual([
      'reset compacted',
      'put s/0=99@101',
      'put s/1=97@99',
      'put s/2=98@100',
      'synced@101',
    ]);
    await iter.return?.();
  });

  it('a watch from a future revision waits for it', async () => {
    const store = await openStore();
    const events = take(store.watch('f/', { fromRevision: 4n }), 2);
    for (let i = 0; i < 4; i++) {
      await store.put(`f/${i}`, String(i));
    }
    expect((await events).map(describeEvent)).toEqual(['put f/2=2@4', 'put f/3=3@5']);
  });

  it('close() applies writes already issued; a watch on a closed store rejects', async () => {
    const store = await openStore();
    const pending = store.put('q/a', '1');
    await store.close();
    expect((await pending).revision).toBe(2n);
    await expect(take(store.watch('q/'), 1)).rejects.toBeInstanceOf(ClosedError);
    const reopened = await openStore();
    expect(text((await reopened.get('q/a')).kv)).toBe('1');
  });
});
