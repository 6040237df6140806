/**
 * EtcdKvStore against the raw etcd3 client on the same etcd, in the same run. Helpers only; the
 * runner decides which to call and prints the numbers.
 *
 * Two raw baselines are measured, and the comparison uses the faster of them per case:
 * - `rawLowLevel`: etcd3's low-level `client.kv.put / txn` (what EtcdKvStore is built on);
 * - `rawBuilder`: etcd3's public builder API, `client.put(k).value(v)` and `client.if(...).then(...).commit()`.
 * The work is split into interleaved rounds so drift in etcd (disk, growing database, other load)
 * does not favour any side. Wall time is dominated by etcd's fsync; `clientCpuUsPerOp` isolates
 * the client's own cost.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import type { Watcher } from 'etcd3';
import { EtcdKvStore } from '../src/kvstore/kv-store-etcd.js';

/** Throughput of one client in one case. */
export interface Throughput {
  readonly ops: number;
  readonly totalMs: number;
  readonly opsPerSec: number;
  /** Mean time per operation as seen by one caller (totalMs * inFlight / ops). */
  readonly meanLatencyMs: number;
  /**
   * CPU time of the benchmark process per operation, in µs: the client's own overhead, which
   * unlike wall time does not depend on etcd's disk.
   */
  readonly clientCpuUsPerOp: number;
}

export interface ThroughputComparison {
  readonly vxmesh: Throughput;
  readonly rawLowLevel: Throughput;
  readonly rawBuilder: Throughput;
  /** vxmesh wall time relative to the faster raw baseline: 1.05 means 5 % slower; the budget is 1.10. */
  readonly slowdown: number;
  /** vxmesh client CPU per operation relative to the cheaper raw baseline. */
  readonly cpuRatio: number;
}

export interface LatencyStats {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LatencyComparison {
  readonly vxmesh: LatencyStats;
  readonly raw: LatencyStats;
}

export interface WriteBenchOptions {
  /** Operations per client; default 10,000. */
  readonly count?: number;
  /** Operations in flight per client; default 1 (sequential). */
  readonly inFlight?: number;
  /** Value size in bytes; default 100. */
  readonly valueBytes?: number;
  /** Interleaved rounds the operations are split into; default 10. */
  readonly rounds?: number;
}

export interface WatchBenchOptions {
  /** Puts to time; default 1,000. */
  readonly count?: number;
  /** Pause between puts; default 2 ms. */
  readonly paceMs?: number;
}

export interface KvStoreEtcdBenchReport {
  readonly endpoint: string;
  readonly sequentialPuts: ThroughputComparison;
  readonly concurrentPuts: ThroughputComparison;
  readonly sequentialCas: ThroughputComparison;
  readonly concurrentCas: ThroughputComparison;
  readonly watchLatency: LatencyComparison;
}

type Op = (i: number) => Promise<unknown>;

/** Elapsed wall time and CPU time of this process (user + system), in ms. */
interface Cost {
  wallMs: number;
  cpuMs: number;
}

/** Runs `op(i)` for i in [from, to) with `inFlight` callers. */
async function drive(op: Op, from: number, to: number, inFlight: number): Promise<Cost> {
  let next = from;
  const worker = async (): Promise<void> => {
    while (next < to) {
      const i = next++;
      await op(i);
    }
  };
  const cpu = process.cpuUsage();
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, inFlight) }, worker));
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

function throughput(ops: number, cost: Cost, inFlight: number): Throughput {
  return {
    ops,
    totalMs: cost.wallMs,
    opsPerSec: (ops / cost.wallMs) * 1000,
    meanLatencyMs: (cost.wallMs * Math.max(1, inFlight)) / ops,
    clientCpuUsPerOp: (cost.cpuMs * 1000) / ops,
  };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? Number.NaN;
}

function latencyStats(samples: readonly number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}

interface Clients {
  readonly store: EtcdKvStore;
  readonly raw: Etcd3;
  readonly root: string;
  close(): Promise<void>;
}

async function openClients(endpoint: string): Promise<Clients> {
  const store = new EtcdKvStore({ endpoints: [endpoint] });
  const raw = new Etcd3({ hosts: [endpoint] });
  const root = `/bench/${randomBytes(6).toString('hex')}/`;
  // Warm both up so connection setup is not timed.
  await store.put(`${root}warmup`, 'x');
  await raw.put(`${root}warmup`).value('x');
  return {
    store,
    raw,
    root,
    close: async () => {
      await raw.delete().prefix(root);
      await store.close();
      raw.close();
    },
  };
}

/**
 * Times three implementations of the same case over `rounds` interleaved rounds, rotating which
 * goes first, so drift in etcd (disk, database growth, other load) spreads evenly.
 */
async function compare(
  count: number,
  inFlight: number,
  rounds: number,
  impls: { vxmesh: Op; rawLowLevel: Op; rawBuilder: Op },
): Promise<ThroughputComparison> {
  const names = ['vxmesh', 'rawLowLevel', 'rawBuilder'] as const;
  const cost = {
    vxmesh: { wallMs: 0, cpuMs: 0 },
    rawLowLevel: { wallMs: 0, cpuMs: 0 },
    rawBuilder: { wallMs: 0, cpuMs: 0 },
  };
  // Untimed warm-up on indices past the timed ones (keys stay fresh), so JIT and connection
  // setup are not charged to whichever implementation happens to run first.
  const warmup = Math.min(500, Math.max(50, Math.floor(count / 10)));
  for (const name of names) {
    await drive(impls[name], count, count + warmup, inFlight);
  }
  const per = Math.ceil(count / rounds);
  for (let r = 0; r < rounds; r++) {
    const from = r * per;
    const to = Math.min(count, from + per);
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length] ?? 'vxmesh';
      const c = await drive(impls[name], from, to, inFlight);
      cost[name].wallMs += c.wallMs;
      cost[name].cpuMs += c.cpuMs;
    }
  }
  const fasterRaw = Math.min(cost.rawLowLevel.wallMs, cost.rawBuilder.wallMs);
  const cheaperRaw = Math.min(cost.rawLowLevel.cpuMs, cost.rawBuilder.cpuMs);
  return {
    vxmesh: throughput(count, cost.vxmesh, inFlight),
    rawLowLevel: throughput(count, cost.rawLowLevel, inFlight),
    rawBuilder: throughput(count, cost.rawBuilder, inFlight),
    slowdown: cost.vxmesh.wallMs / fasterRaw,
    cpuRatio: cost.vxmesh.cpuMs / cheaperRaw,
  };
}

/** Puts of fresh keys with `valueBytes` values, sequential or with `inFlight` concurrent callers. */
export async function benchPuts(endpoint: string, opts: WriteBenchOptions = {}): Promise<ThroughputComparison> {
  const count = opts.count ?? 10_000;
  const inFlight = opts.inFlight ?? 1;
  const value = Buffer.alloc(opts.valueBytes ?? 100, 0x61);
  const c = await openClients(endpoint);
  try {
    return await compare(count, inFlight, opts.rounds ?? 10, {
      vxmesh: (i) => c.store.put(`${c.root}vx/${i}`, value),
      rawLowLevel: (i) => c.raw.kv.put({ key: Buffer.from(`${c.root}ll/${i}`), value }),
      rawBuilder: (i) => c.raw.put(`${c.root}b/${i}`).value(value).exec(),
    });
  } finally {
    await c.close();
  }
}

/**
 * Single-key create-if-absent transactions (compare version == 0, then put) on fresh keys, so
 * every transaction succeeds and writes.
 */
export async function benchCas(endpoint: string, opts: WriteBenchOptions = {}): Promise<ThroughputComparison> {
  const count = opts.count ?? 10_000;
  const inFlight = opts.inFlight ?? 1;
  const value = Buffer.alloc(opts.valueBytes ?? 100, 0x61);
  const c = await openClients(endpoint);
  const expectSucceeded = (succeeded: boolean, key: string): void => {
    if (!succeeded) {
      throw new Error(`create-if-absent of ${key} failed; the benchmark keys are not fresh`);
    }
  };
  try {
    return await compare(count, inFlight, opts.rounds ?? 10, {
      vxmesh: async (i) => {
        const key = `${c.root}vx/${i}`;
        const res = await c.store.txn({
          compare: [{ key, target: 'version', op: '==', value: 0n }],
          success: [{ type: 'put', key, value }],
        });
        expectSucceeded(res.succeeded, key);
      },
      rawLowLevel: async (i) => {
        const key = Buffer.from(`${c.root}ll/${i}`);
        const res = await c.raw.kv.txn({
          compare: [{ key, target: 'Version', result: 'Equal', version: 0 }],
          success: [{ request_put: { key, value } }],
        });
        expectSucceeded(res.succeeded, key.toString());
      },
      rawBuilder: async (i) => {
        const key = `${c.root}b/${i}`;
        const res = await c.raw.if(key, 'Version', '==', 0).then(c.raw.put(key).value(value)).commit();
        expectSucceeded(res.succeeded, key);
      },
    });
  } finally {
    await c.close();
  }
}

/** Sequential puts, 10,000 by default. */
export async function benchSequentialPuts(
  endpoint: string,
  opts: WriteBenchOptions = {},
): Promise<ThroughputComparison> {
  return await benchPuts(endpoint, { ...opts, inFlight: 1 });
}

/** Puts with 64 in flight (or `opts.inFlight`). */
export async function benchConcurrentPuts(
  endpoint: string,
  opts: WriteBenchOptions = {},
): Promise<ThroughputComparison> {
  return await benchPuts(endpoint, { ...opts, inFlight: opts.inFlight ?? 64 });
}

/** Sequential create-if-absent transactions. */
export async function benchSequentialCas(
  endpoint: string,
  opts: WriteBenchOptions = {},
): Promise<ThroughputComparison> {
  return await benchCas(endpoint, { ...opts, inFlight: 1 });
}

/** Create-if-absent transactions with 64 in flight (or `opts.inFlight`). */
export async function benchConcurrentCas(
  endpoint: string,
  opts: WriteBenchOptions = {},
): Promise<ThroughputComparison> {
  return await benchCas(endpoint, { ...opts, inFlight: opts.inFlight ?? 64 });
}

/**
 * Watch delivery latency: a writer puts `count` keys paced `paceMs` apart; a watcher on a second
 * client instance timestamps each event. Latency runs from just before the put is issued to the
 * event reaching the watcher's consumer.
 */
export async function benchWatchLatency(endpoint: string, opts: WatchBenchOptions = {}): Promise<LatencyComparison> {
  const count = opts.count ?? 1000;
  const paceMs = opts.paceMs ?? 2;
  const root = `/bench/${randomBytes(6).toString('hex')}/`;
  const value = Buffer.alloc(100, 0x61);

  const vxmesh = await (async (): Promise<LatencyStats> => {
    const writer = new EtcdKvStore({ endpoints: [endpoint] });
    const reader = new EtcdKvStore({ endpoints: [endpoint] });
    const prefix = `${root}vx/`;
    const ac = new AbortController();
    const started = new Map<string, number>();
    const samples: number[] = [];
    let synced!: () => void;
    const isSynced = new Promise<void>((resolve) => {
      synced = resolve;
    });
    let allSeen!: () => void;
    const seen = new Promise<void>((resolve) => {
      allSeen = resolve;
    });
    const consuming = (async () => {
      for await (const ev of reader.watch(prefix, { signal: ac.signal })) {
        const now = performance.now();
        if (ev.type === 'synced') {
          synced();
        } else if (ev.type === 'put') {
          const t0 = started.get(ev.kv.key);
          if (t0 !== undefined) {
            samples.push(now - t0);
            if (samples.length === count) {
              allSeen();
            }
          }
        }
      }
    })();
    try {
      await isSynced;
      await writer.put(`${prefix}warmup-not-timed`, value);
      for (let i = 0; i < count; i++) {
        const key = `${prefix}${i}`;
        started.set(key, performance.now());
        await writer.put(key, value);
        await sleep(paceMs);
      }
      await Promise.race([seen, sleep(30_000).then(() => Promise.reject(new Error('vxmesh watch missed events')))]);
      return latencyStats(samples);
    } finally {
      ac.abort();
      await consuming;
      await writer.deletePrefix(root);
      await writer.close();
      await reader.close();
    }
  })();

  const raw = await (async (): Promise<LatencyStats> => {
    const writer = new Etcd3({ hosts: [endpoint] });
    const reader = new Etcd3({ hosts: [endpoint] });
    const prefix = `${root}raw/`;
    const started = new Map<string, number>();
    const samples: number[] = [];
    let allSeen!: () => void;
    const seen = new Promise<void>((resolve) => {
      allSeen = resolve;
    });
    let watcher: Watcher | undefined;
    try {
      watcher = await reader.watch().prefix(prefix).create();
      watcher.on('put', (kv) => {
        const now = performance.now();
        const t0 = started.get(kv.key.toString());
        if (t0 !== undefined) {
          samples.push(now - t0);
          if (samples.length === count) {
            allSeen();
          }
        }
      });
      await writer.put(`${prefix}warmup-not-timed`).value(value);
      for (let i = 0; i < count; i++) {
        const key = `${prefix}${i}`;
        started.set(key, performance.now());
        await writer.kv.put({ key: Buffer.from(key), value });
        await sleep(paceMs);
      }
      await Promise.race([seen, sleep(30_000).then(() => Promise.reject(new Error('raw watch missed events')))]);
      return latencyStats(samples);
    } finally {
      await watcher?.cancel();
      await writer.delete().prefix(root);
      writer.close();
      reader.close();
    }
  })();

  return { vxmesh, raw };
}

/** Every case with the default sizes from the benchmark plan. */
export async function runKvStoreEtcdBench(endpoint: string): Promise<KvStoreEtcdBenchReport> {
  return {
    endpoint,
    sequentialPuts: await benchSequentialPuts(endpoint),
    concurrentPuts: await benchConcurrentPuts(endpoint),
    sequentialCas: await benchSequentialCas(endpoint),
    concurrentCas: await benchConcurrentCas(endpoint),
    watchLatency: await benchWatchLatency(endpoint),
  };
}
