import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  ClosedError,
  InvalidArgumentError,
  UnavailableError,
  VxmeshError,
  isRetryable,
} from '../../src/common/errors.js';
import type { WatchEvent } from '../../src/kvstore/kv-store.js';
import { EtcdKvStore } from '../../src/kvstore/kv-store-etcd.js';
import type { EtcdServer } from '../support/etcd-server.js';
import { freePort, startEtcd } from '../support/etcd-server.js';
import { kvPrefix } from '../support/kv-prefix.js';

const decoder = new TextDecoder();
const stores: EtcdKvStore[] = [];
const watches: AbortController[] = [];

function open(endpoint: string, namespace?: string, dialTimeoutMs?: number): EtcdKvStore {
  const store = new EtcdKvStore({
    endpoints: [endpoint],
    ...(namespace === undefined ? {} : { namespace }),
    ...(dialTimeoutMs === undefined ? {} : { dialTimeoutMs }),
  });
  stores.push(store);
  return store;
}

/** Collects a watch in the background; `until` polls with a deadline. */
function record(store: EtcdKvStore, prefix: string): { events: WatchEvent[]; until: (n: number) => Promise<void> } {
  const ac = new AbortController();
  watches.push(ac);
  const events: WatchEvent[] = [];
  void (async () => {
    for await (const ev of store.watch(prefix, { signal: ac.signal })) {
      events.push(ev);
    }
  })();
  const until = async (n: number, timeoutMs = 15_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (events.length < n) {
      if (Date.now() > deadline) {
        throw new Error(`expected ${n} watch events, got ${JSON.stringify(events.map(show))}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { events, until };
}

function show(e: WatchEvent): string {
  switch (e.type) {
    case 'put': {
      return `put ${e.kv.key}=${decoder.decode(e.kv.value)}`;
    }
    case 'delete': {
      return `delete ${e.key}`;
    }
    case 'synced': {
      return 'synced';
    }
    case 'reset': {
      return `reset ${e.reason}`;
    }
  }
}

afterEach(async () => {
  watches.splice(0).forEach((ac) => ac.abort());
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

describe('EtcdKvStore on the shared etcd', () => {
  const endpoint = inject('etcdEndpoint');

  it('keeps namespaces apart and stores keys under the namespace', async () => {
    const root = kvPrefix('ns');
    const a = open(endpoint, `${root}a/`);
    const b = open(endpoint, `${root}b/`);
    const raw = open(endpoint, root);
    const watchA = record(a, '');
    await watchA.until(1);

    await a.put('k', 'from-a');
    await b.put('k', 'from-b');
    await b.put('only-b', 'x');

    expect(decoder.decode((await a.get('k')).kv?.value)).toBe('from-a');
    expect(decoder.decode((await b.get('k')).kv?.value)).toBe('from-b');
    expect((await a.range('')).kvs.map((kv) => kv.key)).toEqual(['k']);
    expect((await raw.range('')).kvs.map((kv) => kv.key)).toEqual(['a/k', 'b/k', 'b/only-b']);
    const txn = await a.txn({ compare: [], success: [{ type: 'get', key: 'only-b' }] });
    expect(txn.results).toEqual([{ type: 'get', kv: undefined }]);
    expect((await a.deletePrefix('k')).deleted).toBe(1);
    expect((await b.get('k')).kv).toBeDefined();

    await watchA.until(3);
    expect(watchA.events.map(show)).toEqual(['synced', 'put k=from-a', 'delete k']);
  });

  it('fails fast with a retryable UnavailableError when etcd cannot be reached', async () => {
    const port = await freePort();
    const store = open(`http://127.0.0.1:${port}`, undefined, 300);
    const started = Date.now();
    const err: unknown = await store.get('k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect(isRetryable(err)).toBe(true);
    expect(String((err as Error).message)).toContain(`127.0.0.1:${port}`);
    await expect(store.put('k', 'v')).rejects.toBeInstanceOf(UnavailableError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('steers calls away from a dead endpoint after a few retryable failures', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = new EtcdKvStore({ endpoints: [dead, endpoint], namespace: kvPrefix('failover'), dialTimeoutMs: 200 });
    stores.push(store);
    const outcomes: string[] = [];
    for (let i = 0; i < 30; i++) {
      outcomes.push(
        await store.put(`k${i}`, 'v').then(
          () => 'ok',
          (err: unknown) => (err instanceof UnavailableError ? 'unavailable' : String(err)),
        ),
      );
    }
    expect(outcomes.filter((o) => o !== 'ok' && o !== 'unavailable')).toEqual([]);
    // etcd3's per-host breaker opens after 3 consecutive failures.
    expect(outcomes.filter((o) => o === 'unavailable').length).toBeLessThanOrEqual(3);
    expect(outcomes.slice(-10)).toEqual(Array(10).fill('ok'));
  });

  it('close() ends watches and pending calls that are still waiting for a connection', async () => {
    const store = open(`http://127.0.0.1:${await freePort()}`, undefined, 10_000);
    const events: WatchEvent[] = [];
    const watching = (async () => {
      for await (const ev of store.watch('')) {
        events.push(ev);
      }
    })();
    const pending = store.get('k').catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    const started = Date.now();
    await store.close();
    await watching;
    expect(await pending).toBeInstanceOf(ClosedError);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(events).toEqual([]);
  });

  it('rejects bad constructor options', () => {
    expect(() => new EtcdKvStore({ endpoints: [] })).toThrow(InvalidArgumentError);
    expect(() => new EtcdKvStore({ endpoints: ['127.0.0.1:2379'] })).toThrow(/endpoints\[0\]/);
    expect(() => new EtcdKvStore({ endpoints: ['http://127.0.0.1:2379'], tls: {} })).toThrow(/https/);
    expect(() => new EtcdKvStore({ endpoints: ['http://127.0.0.1:2379'], dialTimeoutMs: 0 })).toThrow(
      InvalidArgumentError,
    );
  });
});

describe('EtcdKvStore on a private etcd (faults, compaction)', () => {
  let etcd: EtcdServer;

  beforeAll(async () => {
    etcd = await startEtcd();
  });

  afterAll(async () => {
    await etcd.stop();
  });

  it('a call to a frozen etcd ends when its signal aborts, and the store stays usable', async () => {
    const store = open(etcd.endpoint, kvPrefix('frozen'));
    await store.put('k', 'v');
    await etcd.freeze();
    try {
      const started = Date.now();
      await expect(store.get('k', { signal: AbortSignal.timeout(300) })).rejects.toMatchObject({
        name: 'TimeoutError',
      });
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      etcd.thaw();
    }
    expect(decoder.decode((await store.get('k')).kv?.value)).toBe('v');
  });

  it('compaction: idempotent, future revision rejected, reads below it fail', async () => {
    const store = open(etcd.endpoint, kvPrefix('compact'));
    const first = await store.put('k', '1');
    const second = await store.put('k', '2');
    await store.compact(second.revision);
    await store.compact(second.revision);
    await store.compact(first.revision);
    await expect(store.compact(second.revision + 1000n)).rejects.toBeInstanceOf(InvalidArgumentError);
    const err: unknown = await store.range('', { revision: first.revision }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VxmeshError);
    expect((err as VxmeshError).code).toBe('FAILED_PRECONDITION');
  });

  it('a watch resumes across an etcd crash without a reset or a lost event', { timeout: 30_000 }, async () => {
    const store = open(etcd.endpoint, kvPrefix('crash'));
    await store.put('a', '1');
    const rec = record(store, '');
    await rec.until(2);
    etcd.kill('SIGKILL');
    await etcd.restart();
    await store.put('b', '2');
    await store.delete('a');
    await rec.until(4);
    expect(rec.events.map(show)).toEqual(['put a=1', 'synced', 'put b=2', 'delete a']);
  });

  it('a watch resets when etcd comes back without the history it had seen', { timeout: 30_000 }, async () => {
    const store = open(etcd.endpoint, kvPrefix('wiped'));
    for (let i = 0; i < 5; i++) {
      await store.put(`k${i}`, String(i));
    }
    const rec = record(store, '');
    await rec.until(6);
    etcd.kill('SIGKILL');
    await rm(join(etcd.dataDir, 'member'), { recursive: true, force: true });
    await etcd.restart();
    await rec.until(8);
    await store.put('after', 'x');
    await rec.until(9);
    expect(rec.events.slice(6).map(show)).toEqual(['reset reconnected', 'synced', 'put after=x']);
  });
});
