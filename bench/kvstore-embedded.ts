/**
 * Throughput and watch-latency measurements of a `KvStore`, with a runner for the embedded store
 * on fresh temporary files. Exports functions only; the bench runner decides what to run.
 *
 * The per-measurement helpers take any `KvStore` and a key prefix, so the same numbers can be
 * taken against etcd for comparison.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbeddedKvStore } from '../src/kvstore/kv-store-embedded.js';
import type { EmbeddedKvStoreOptions } from '../src/kvstore/kv-store-embedded.js';
import type { KvStore } from '../src/kvstore/kv-store.js';

/** Results of {@link runEmbeddedKvBench}; rates are operations per second. */
export interface EmbeddedKvBenchResult {
  readonly sequentialPutsPerSec: number;
  readonly concurrentPutsPerSec: number;
  readonly sequentialCreateTxnsPerSec: number;
  readonly concurrentCreateTxnsPerSec: number;
  /** Successful get + CAS(modRevision) rounds per second on one key. */
  readonly casLoopPerSec: number;
  readonly watchLatencyP50Ms: number;
  readonly watchLatencyP99Ms: number;
}

/** Sizes of {@link runEmbeddedKvBench}; defaults are the ones quoted in the design notes. */
export interface EmbeddedKvBenchOptions {
  readonly puts?: number;
  readonly txns?: number;
  readonly inFlight?: number;
  readonly valueBytes?: number;
  readonly casRounds?: number;
  readonly watchPuts?: number;
  readonly watchPaceMs?: number;
}

/** Runs `fn` on an embedded store in a fresh temporary directory, removed afterwards. */
export async function withTempEmbeddedStore<T>(
  fn: (store: EmbeddedKvStore) => Promise<T>,
  opts: Omit<EmbeddedKvStoreOptions, 'path'> = {},
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-bench-embedded-'));
  try {
    const store = await EmbeddedKvStore.open({ ...opts, path: join(dir, 'store.db') });
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `task(i)` for i in [0, total) with at most `inFlight` running; returns ops per second. */
async function rate(total: number, inFlight: number, task: (i: number) => Promise<void>): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) {
        await task(next++);
      }
    }),
  );
  return (total / (performance.now() - start)) * 1000;
}

/** `total` puts of distinct keys with `valueBytes` values, `inFlight` at a time (1: sequential). */
export async function benchPuts(
  store: KvStore,
  prefix: string,
  total: number,
  inFlight: number,
  valueBytes = 100,
): Promise<number> {
  const value = new Uint8Array(valueBytes).fill(0x61);
  return rate(total, inFlight, async (i) => {
    await store.put(`${prefix}${i}`, value);
  });
}

/** `total` single-key create-if-absent txns (version == 0 → put), `inFlight` at a time. */
export async function benchCreateTxns(
  store: KvStore,
  prefix: string,
  total: number,
  inFlight: number,
  valueBytes = 100,
): Promise<number> {
  const value = new Uint8Array(valueBytes).fill(0x62);
  return rate(total, inFlight, async (i) => {
    const key = `${prefix}${i}`;
    const res = await store.txn({
      compare: [{ key, target: 'version', op: '==', value: 0n }],
      success: [{ type: 'put', key, value }],
    });
    if (!res.succeeded) {
      throw new Error(`create-if-absent of fresh key ${key} failed`);
    }
  });
}

/** `rounds` sequential get + CAS(modRevision) increments of one key; returns rounds per second. */
export async function benchCasLoop(store: KvStore, key: string, rounds: number): Promise<number> {
  await store.put(key, '0');
  return rate(rounds, 1, async () => {
    const { kv } = await store.get(key);
    const n = kv === undefined ? 0 : Number(Buffer.from(kv.value).toString());
    const res = await store.txn({
      compare: [{ key, target: 'modRevision', op: '==', value: kv?.modRevision ?? 0n }],
      success: [{ type: 'put', key, value: String(n + 1) }],
    });
    if (!res.succeeded) {
      throw new Error('CAS failed with a single writer');
    }
  });
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Watch delivery latency: `count` puts started every `paceMs`, each timed from just before the
 * put to the arrival of its watch event. Returns p50 and p99 in ms.
 */
export async function benchWatchLatency(
  store: KvStore,
  prefix: string,
  count: number,
  paceMs: number,
): Promise<{ p50Ms: number; p99Ms: number }> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const ac = new AbortController();
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));
  let markDone: () => void = () => undefined;
  const allSeen = new Promise<void>((resolve) => (markDone = resolve));
  const consume = (async () => {
    for await (const ev of store.watch(prefix, { signal: ac.signal })) {
      if (ev.type === 'synced') {
        markSynced();
      } else if (ev.type === 'put') {
        const t0 = sentAt.get(ev.kv.key);
        if (t0 !== undefined) {
          latencies.push(performance.now() - t0);
          if (latencies.length === count) {
            markDone();
          }
        }
      }
    }
  })();
  try {
    await synced;
    const start = performance.now();
    const puts: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const key = `${prefix}${i}`;
      sentAt.set(key, performance.now());
      puts.push(store.put(key, 'x'));
      const wait = start + (i + 1) * paceMs - performance.now();
      if (wait > 0) {
        await sleep(wait);
      }
    }
    await Promise.all(puts);
    await Promise.race([allSeen, sleep(10_000).then(() => Promise.reject(new Error('watch events missing')))]);
  } finally {
    ac.abort();
    await consume;
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
}

/** Runs every measurement, each on its own fresh embedded store. */
export async function runEmbeddedKvBench(opts: EmbeddedKvBenchOptions = {}): Promise<EmbeddedKvBenchResult> {
  const puts = opts.puts ?? 10_000;
  const txns = opts.txns ?? 5_000;
  const inFlight = opts.inFlight ?? 64;
  const valueBytes = opts.valueBytes ?? 100;
  const sequentialPutsPerSec = await withTempEmbeddedStore((s) => benchPuts(s, 'p/', puts, 1, valueBytes));
  const concurrentPutsPerSec = await withTempEmbeddedStore((s) => benchPuts(s, 'p/', puts, inFlight, valueBytes));
  const sequentialCreateTxnsPerSec = await withTempEmbeddedStore((s) => benchCreateTxns(s, 't/', txns, 1, valueBytes));
  const concurrentCreateTxnsPerSec = await withTempEmbeddedStore((s) =>
    benchCreateTxns(s, 't/', txns, inFlight, valueBytes),
  );
  const casLoopPerSec = await withTempEmbeddedStore((s) => benchCasLoop(s, 'cas', opts.casRounds ?? 2_000));
  const watch = await withTempEmbeddedStore((s) =>
    benchWatchLatency(s, 'w/', opts.watchPuts ?? 1_000, opts.watchPaceMs ?? 2),
  );
  return {
    sequentialPutsPerSec,
    concurrentPutsPerSec,
    sequentialCreateTxnsPerSec,
    concurrentCreateTxnsPerSec,
    casLoopPerSec,
    watchLatencyP50Ms: watch.p50Ms,
    watchLatencyP99Ms: watch.p99Ms,
  };
}
