import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError, InvalidArgumentError, NotFoundError } from '../../src/common/errors.js';
import type { KeyValue, KvStore, TxnRequest, WatchEvent } from '../../src/kvstore/kv-store.js';

/** A store under test, isolated from every other test's keys, and how to get rid of it. */
export interface KvStoreFixture {
  readonly store: KvStore;
  dispose(): Promise<void>;
}

export type KvStoreFactory = () => Promise<KvStoreFixture>;

const decoder = new TextDecoder();
const text = (kv: KeyValue | undefined): string | undefined => (kv ? decoder.decode(kv.value) : undefined);

/** Collects watch events in the background so tests can wait for a condition with a deadline. */
class WatchRecorder {
  readonly events: WatchEvent[] = [];
  readonly done: Promise<void>;
  readonly #abort = new AbortController();

  constructor(iterable: (signal: AbortSignal) => AsyncIterable<WatchEvent>) {
    this.done = (async () => {
      for await (const ev of iterable(this.#abort.signal)) {
        this.events.push(ev);
      }
    })();
  }

  get changes(): WatchEvent[] {
    return this.events.filter((e) => e.type === 'put' || e.type === 'delete');
  }

  async waitFor(pred: (events: readonly WatchEvent[]) => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.events)) {
      if (Date.now() > deadline) {
        throw new Error(`watch condition not met in ${timeoutMs} ms; got ${JSON.stringify(this.events, replacer)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.done.catch(() => undefined);
  }
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v.toString();
  }
  if (v instanceof Uint8Array) {
    return decoder.decode(v);
  }
  return v;
}

function describeEvent(e: WatchEvent): string {
  switch (e.type) {
    case 'put': {
      return `put ${e.kv.key}=${decoder.decode(e.kv.value)}@${e.kv.modRevision}`;
    }
    case 'delete': {
      return `delete ${e.key}@${e.modRevision}`;
    }
    case 'synced': {
      return 'synced';
    }
    case 'reset': {
      return `reset ${e.reason}`;
    }
  }
}

/**
 * The behaviour every KvStore must show, run unchanged against etcd and the embedded store.
 * The factory gives each test a fresh, isolated store.
 */
export function describeKvStoreContract(name: string, factory: KvStoreFactory): void {
  describe(`KvStore contract: ${name}`, () => {
    let fixture: KvStoreFixture;
    let store: KvStore;
    const recorders: WatchRecorder[] = [];

    const record = (prefix: string, fromRevision?: bigint): WatchRecorder => {
      const r = new WatchRecorder((signal) =>
        store.watch(prefix, fromRevision === undefined ? { signal } : { signal, fromRevision }),
      );
      recorders.push(r);
      return r;
    };

    beforeEach(async () => {
      fixture = await factory();
      store = fixture.store;
    });

    afterEach(async () => {
      await Promise.all(recorders.splice(0).map((r) => r.stop()));
      await fixture.dispose();
    });

    it('put/get track createRevision, modRevision and version; revisions only grow', async () => {
      expect((await store.get('a')).kv).toBeUndefined();
      const r1 = await store.put('a', 'one');
      const r2 = await store.put('a', 'two');
      expect(r2.revision).toBeGreaterThan(r1.revision);
      const got = await store.get('a');
      expect(text(got.kv)).toBe('two');
      expect(got.kv?.createRevision).toBe(r1.revision);
      expect(got.kv?.modRevision).toBe(r2.revision);
      expect(got.kv?.version).toBe(2n);
      expect(got.kv?.lease).toBe(0n);
      expect(got.revision).toBeGreaterThanOrEqual(r2.revision);
    });

    it('delete resets the key history; deleting a missing key changes nothing', async () => {
      await store.put('k', 'v1');
      const del = await store.delete('k');
      expect(del.deleted).toBe(1);
      const again = await store.delete('k');
      expect(again.deleted).toBe(0);
      expect(again.revision).toBe(del.revision);
      const recreated = await store.put('k', 'v2');
      const got = await store.get('k');
      expect(got.kv?.version).toBe(1n);
      expect(got.kv?.createRevision).toBe(recreated.revision);
    });

    it('range returns a prefix in byte order, paginated at one revision', async () => {
      for (const k of ['p/b', 'p/a', 'p/c', 'p/d', 'pz', 'p0', 'q/a']) {
        await store.put(k, k);
      }
      const all = await store.range('p/');
      expect(all.kvs.map((kv) => kv.key)).toEqual(['p/a', 'p/b', 'p/c', 'p/d']);
      expect(all.more).toBe(false);

      const first = await store.range('p/', { limit: 3 });
      expect(first.kvs.map((kv) => kv.key)).toEqual(['p/a', 'p/b', 'p/c']);
      expect(first.more).toBe(true);
      await store.put('p/e', 'written after the first page');
      const last = first.kvs[first.kvs.length - 1];
      const second = await store.range('p/', { limit: 3, after: last?.key ?? '', revision: first.revision });
      expect(second.kvs.map((kv) => kv.key)).toEqual(['p/d']);
      expect(second.more).toBe(false);
      expect(second.revision).toBe(first.revision);
    });

    it('deletePrefix removes exactly the prefix and rejects an empty prefix', async () => {
      await store.put('d/1', 'x');
      await store.put('d/2', 'x');
      await store.put('d2', 'x');
      const res = await store.deletePrefix('d/');
      expect(res.deleted).toBe(2);
      expect((await store.range('d')).kvs.map((kv) => kv.key)).toEqual(['d2']);
      await expect(store.deletePrefix('')).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('txn compares version, modRevision and value and runs the matching branch', async () => {
      const create: TxnRequest = {
        compare: [{ key: 'lock', target: 'version', op: '==', value: 0n }],
        success: [{ type: 'put', key: 'lock', value: 'owner-1' }],
        failure: [{ type: 'get', key: 'lock' }],
      };
      const first = await store.txn(create);
      expect(first.succeeded).toBe(true);
      const second = await store.txn(create);
      expect(second.succeeded).toBe(false);
      expect(second.revision).toBe(first.revision);
      const [failGet] = second.results;
      expect(failGet?.type === 'get' ? text(failGet.kv) : undefined).toBe('owner-1');

      const current = (await store.get('lock')).kv;
      const stale = await store.txn({
        compare: [{ key: 'lock', target: 'modRevision', op: '==', value: (current?.modRevision ?? 0n) - 1n }],
        success: [{ type: 'put', key: 'lock', value: 'never' }],
      });
      expect(stale.succeeded).toBe(false);
      const cas = await store.txn({
        compare: [
          { key: 'lock', target: 'modRevision', op: '==', value: current?.modRevision ?? 0n },
          { key: 'lock', target: 'value', op: '==', value: 'owner-1' },
          { key: 'lock', target: 'createRevision', op: '<', value: first.revision + 1n },
        ],
        success: [
          { type: 'put', key: 'lock', value: 'owner-2' },
          { type: 'put', key: 'other', value: 'same revision' },
          { type: 'delete', key: 'missing' },
          { type: 'get', key: 'lock' },
        ],
      });
      expect(cas.succeeded).toBe(true);
      expect(cas.results.map((r) => r.type)).toEqual(['put', 'put', 'delete', 'get']);
      const lock = (await store.get('lock')).kv;
      const other = (await store.get('other')).kv;
      expect(text(lock)).toBe('owner-2');
      expect(lock?.modRevision).toBe(cas.revision);
      expect(other?.modRevision).toBe(cas.revision);
    });

    it('a missing key has modRevision 0 in compares (==, <, >), also after a delete', async () => {
      // Address fences (src/manager/ipam/address-fence.ts) compare a sweep epoch key that is
      // usually absent: both backends must agree that absent means modRevision 0.
      const holds = async (op: '==' | '<' | '>', value: bigint): Promise<boolean> =>
        (await store.txn({ compare: [{ key: 'epoch', target: 'modRevision', op, value }], success: [] })).succeeded;
      expect(await holds('==', 0n)).toBe(true);
      expect(await holds('<', 1n)).toBe(true);
      expect(await holds('>', 0n)).toBe(false);
      const { revision } = await store.put('epoch', '1');
      expect(await holds('==', 0n)).toBe(false);
      expect(await holds('==', revision)).toBe(true);
      expect(await holds('<', revision)).toBe(false);
      await store.delete('epoch');
      expect(await holds('==', 0n)).toBe(true);
      expect(await holds('==', revision)).toBe(false);
    });

    it('50 concurrent compare-and-swap writers lose no update', async () => {
      await store.put('counter', '0');
      const writers = 50;
      const incrementsEach = 4;
      const writer = async (): Promise<number> => {
        let conflicts = 0;
        for (let done = 0; done < incrementsEach;) {
          if (conflicts > 2000) {
            throw new Error('too many conflicts: CAS is not making progress');
          }
          const kv = (await store.get('counter')).kv;
          const res = await store.txn({
            compare: [{ key: 'counter', target: 'modRevision', op: '==', value: kv?.modRevision ?? 0n }],
            success: [{ type: 'put', key: 'counter', value: String(Number(text(kv)) + 1) }],
          });
          if (res.succeeded) {
            done++;
          } else {
            conflicts++;
          }
        }
        return conflicts;
      };
      await Promise.all(Array.from({ length: writers }, writer));
      const final = (await store.get('counter')).kv;
      expect(text(final)).toBe(String(writers * incrementsEach));
      expect(final?.version).toBe(BigInt(writers * incrementsEach + 1));
    });

    it('watch without a revision lists, sends synced, then live changes in order', async () => {
      await store.put('w/a', '1');
      await store.put('w/b', '2');
      await store.put('x/ignored', '3');
      const rec = record('w/');
      await rec.waitFor((evs) => evs.some((e) => e.type === 'synced'));
      await store.put('w/c', '3');
      await store.delete('w/a');
      await store.put('x/ignored', '4');
      await rec.waitFor((evs) => evs.length >= 5);
      expect(rec.events.map(describeEvent)).toEqual([
        expect.stringMatching(/^put w\/a=1@/),
        expect.stringMatching(/^put w\/b=2@/),
        'synced',
        expect.stringMatching(/^put w\/c=3@/),
        expect.stringMatching(/^delete w\/a@/),
      ]);
    });

    it('watch from revision R delivers every later change exactly once and in order', async () => {
      const expected: string[] = [];
      let from = 0n;
      for (let i = 0; i < 20; i++) {
        const r = i % 5 === 4 ? await store.delete(`r/${i - 1}`) : await store.put(`r/${i}`, `v${i}`);
        if (i === 7) {
          from = r.revision;
        }
        if (i >= 7) {
          expected.push(i % 5 === 4 ? `delete r/${i - 1}@${r.revision}` : `put r/${i}=v${i}@${r.revision}`);
        }
      }
      const rec = record('r/', from);
      await rec.waitFor((evs) => evs.length >= expected.length);
      for (let i = 20; i < 25; i++) {
        const r = await store.put(`r/${i}`, `v${i}`);
        expected.push(`put r/${i}=v${i}@${r.revision}`);
      }
      await rec.waitFor((evs) => evs.length >= expected.length);
      await new Promise((r) => setTimeout(r, 100));
      expect(rec.events.map(describeEvent)).toEqual(expected);
    });

    it('watch from a compacted revision yields reset, then the current state, synced and live changes', async () => {
      const old = await store.put('c/a', '1');
      await store.put('c/a', '2');
      const latest = await store.put('c/b', '3');
      await store.compact(latest.revision);
      const rec = record('c/', old.revision);
      await rec.waitFor((evs) => evs.some((e) => e.type === 'synced'));
      await store.put('c/c', '4');
      await rec.waitFor((evs) => evs.length >= 5);
      expect(rec.events.map(describeEvent)).toEqual([
        'reset compacted',
        expect.stringMatching(/^put c\/a=2@/),
        expect.stringMatching(/^put c\/b=3@/),
        'synced',
        expect.stringMatching(/^put c\/c=4@/),
      ]);
    });

    it('an expired lease deletes its keys and the watch sees the deletes', { timeout: 20_000 }, async () => {
      const lease = await store.grantLease(1);
      expect(lease.ttlSeconds).toBeGreaterThanOrEqual(1);
      await store.put('l/a', 'x', { lease: lease.id });
      await store.put('l/b', 'y', { lease: lease.id });
      expect((await store.get('l/a')).kv?.lease).toBe(lease.id);
      const rec = record('l/');
      await rec.waitFor((evs) => evs.filter((e) => e.type === 'delete').length === 2, 10_000);
      expect((await store.range('l/')).kvs).toHaveLength(0);
      await expect(store.keepAliveLease(lease.id)).rejects.toBeInstanceOf(NotFoundError);
    });

    it('keep-alive extends a lease; revoke deletes its keys at once', { timeout: 20_000 }, async () => {
      const lease = await store.grantLease(2);
      await store.put('k/a', 'x', { lease: lease.id });
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1000));
        const renewed = await store.keepAliveLease(lease.id);
        expect(renewed.id).toBe(lease.id);
      }
      expect((await store.get('k/a')).kv).toBeDefined();
      await store.revokeLease(lease.id);
      expect((await store.get('k/a')).kv).toBeUndefined();
      await store.revokeLease(lease.id);
      await expect(store.put('k/b', 'x', { lease: lease.id })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('rejects an oversized value and empty keys with a typed error and writes nothing', async () => {
      const before = await store.put('size/marker', 'x');
      const big = new Uint8Array(1.5 * 1024 * 1024 + 1);
      const rejections = [
        store.put('size/big', big),
        store.put('', 'x'),
        store.get(''),
        store.delete(''),
        store.txn({ compare: [], success: [{ type: 'put', key: 'size/big', value: big }] }),
        store.txn({
          compare: [],
          success: [
            { type: 'put', key: 'size/ok', value: 'x' },
            { type: 'put', key: '', value: 'x' },
          ],
        }),
        store.grantLease(0),
      ];
      for (const p of rejections) {
        await expect(p).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      await expect(store.put('', 'x')).rejects.toThrow(/key/);
      const after = await store.get('size/marker');
      expect(after.revision).toBe(before.revision);
      expect((await store.range('size/')).kvs.map((kv) => kv.key)).toEqual(['size/marker']);
    });

    it('a value just under the limit round-trips', async () => {
      const value = new Uint8Array(1024 * 1024).fill(7);
      await store.put('big/ok', value);
      expect((await store.get('big/ok')).kv?.value.byteLength).toBe(value.byteLength);
    });

    it('an aborted signal ends a watch and rejects a call', async () => {
      const ac = new AbortController();
      const events: WatchEvent[] = [];
      const done = (async () => {
        for await (const ev of store.watch('a/', { signal: ac.signal })) {
          events.push(ev);
        }
      })();
      await new Promise((r) => setTimeout(r, 50));
      ac.abort();
      await done;
      await expect(store.get('a/x', { signal: ac.signal })).rejects.toThrow();
    });

    it('close() ends open watches, is idempotent, and later calls fail with ClosedError', async () => {
      await store.put('z/a', '1');
      const rec = record('z/');
      await rec.waitFor((evs) => evs.some((e) => e.type === 'synced'));
      await store.close();
      await Promise.race([
        rec.done,
        new Promise((_, reject) => setTimeout(() => reject(new Error('watch did not end on close')), 3000)),
      ]);
      await store.close();
      await expect(store.get('z/a')).rejects.toBeInstanceOf(ClosedError);
      await expect(store.put('z/a', '2')).rejects.toBeInstanceOf(ClosedError);
    });
  });
}
