/**
 * IPAM allocation speed against the store's own compare-and-swap speed, measured in the same run
 * on both backends: 60,000 addresses handed out in one /16, sequentially (one caller, each
 * allocation awaited) and batched (64 concurrent callers, whose requests the allocator joins into
 * shared transactions). The baseline is a single-key CAS loop (known modRevision, one txn per
 * op: one store round trip), so `seqVsCas` near 1 means an allocation costs one round trip.
 *
 * Run: `node --import tsx bench/ipam.ts [addresses]` (default 60000); or call `runIpamBench()`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { systemClock } from '../src/common/clock.js';
import { EmbeddedKvStore, EtcdKvStore } from '../src/kvstore/index.js';
import type { KvStore } from '../src/kvstore/index.js';
import { Cluster } from '../src/gen/vxmesh/v1/cluster.js';
import { AddressAllocator } from '../src/manager/ipam/address-allocator.js';
import { rangeAll } from '../src/manager/ipam/range-all.js';
import { NetworkService } from '../src/manager/network/network-service.js';
import { encodeMessage } from '../src/manager/store/message-codec.js';
import { storeKeys } from '../src/manager/store/store-keys.js';
import { startEtcd } from '../test/support/etcd-server.js';

/** Rate and latency of one measured phase. */
export interface Phase {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Store calls (txn, get, range) per operation. */
  readonly storeCallsPerOp: number;
}

export interface IpamStoreResult {
  readonly store: 'embedded' | 'etcd';
  /** Sequential single-key CAS: the store's round-trip floor (the faster of a run before and after the allocations). */
  readonly cas: Phase;
  /** 64 callers doing CAS on 64 keys: what the store does with concurrency and no batching. */
  readonly cas64: Phase;
  readonly sequential: Phase;
  readonly batched64: Phase;
  /** Keys and bytes (keys + values) of one /16's address state after 60,000 allocations. */
  readonly stateKeys: number;
  readonly stateBytes: number;
  readonly seqVsCas: number;
  readonly batchedVsCas: number;
  readonly batchedVsCas64: number;
}

/** Counts calls that reach the store. */
function counting(store: KvStore): { store: KvStore; calls: () => number } {
  let calls = 0;
  const counted = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value === 'function' && (prop === 'txn' || prop === 'get' || prop === 'range')) {
        return (...args: unknown[]): unknown => {
          calls++;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store: counted, calls: () => calls };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

/** Runs `op` `total` times with `inFlight` concurrent callers, timing each call. */
async function measure(
  total: number,
  inFlight: number,
  calls: () => number,
  op: (i: number) => Promise<unknown>,
): Promise<Phase> {
  const latencies: number[] = [];
  let next = 0;
  const calls0 = calls();
  const start = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const ms = performance.now() - start;
  latencies.sort((a, b) => a - b);
  return {
    ops: total,
    opsPerSec: Math.round((total / ms) * 1000),
    p50Ms: Number(quantile(latencies, 0.5).toFixed(3)),
    p99Ms: Number(quantile(latencies, 0.99).toFixed(3)),
    storeCallsPerOp: Number(((calls() - calls0) / total).toFixed(3)),
  };
}

async function seed(store: KvStore): Promise<void> {
  const cluster: Cluster = {
    id: 'bench',
    createdAt: 0n,
    dataPathPort: 4789,
    defaultAddrPools: ['10.0.0.0/8'],
    defaultAddrPoolMaskLength: 24,
    certExpiryMs: 0n,
    etcdEndpoints: [],
    heartbeatPeriodMs: 5000,
  };
  await store.put(storeKeys.cluster, encodeMessage(Cluster, cluster));
}

function request(name: string, subnet: string): Parameters<NetworkService['create']>[0] {
  return {
    name,
    driver: '',
    subnets: [subnet],
    gateways: [],
    ipRanges: [],
    auxAddresses: {},
    enableIpv6: false,
    internal: false,
    attachable: false,
    ingress: false,
    labels: {},
    options: {},
    ipamDriver: '',
    ipamOptions: {},
  };
}

/** Measures one store; `addresses` per allocation phase (at most 65,533 fit a /16). */
export async function benchIpamOnStore(
  kind: 'embedded' | 'etcd',
  raw: KvStore,
  addresses: number,
  casOps: number,
): Promise<IpamStoreResult> {
  const { store, calls } = counting(raw);
  await seed(store);
  const networks = new NetworkService(store, systemClock);

  let rev = (await store.put('bench/cas', '0')).revision;
  const casLoop = (): Promise<Phase> =>
    measure(casOps, 1, calls, async (i) => {
      const res = await store.txn({
        compare: [{ key: 'bench/cas', target: 'modRevision', op: '==', value: rev }],
        success: [{ type: 'put', key: 'bench/cas', value: String(i) }],
      });
      if (!res.succeeded) {
        throw new Error('CAS lost');
      }
      rev = res.revision;
    });
  // Measured before and after the allocations (the store grows and the shared machine drifts);
  // the faster run is the baseline, which can only make the ratios look worse.
  const casBefore = await casLoop();
  const revs = await Promise.all(
    Array.from({ length: 64 }, async (_, k) => (await store.put(`bench/cas/${k}`, '0')).revision),
  );
  const cas64 = await measure(casOps, 64, calls, async (i) => {
    const k = i % 64;
    // Each key has one caller at a time only when ops map onto keys evenly; retry the rare loss.
    for (;;) {
      const res = await store.txn({
        compare: [{ key: `bench/cas/${k}`, target: 'modRevision', op: '==', value: revs[k] ?? 0n }],
        success: [{ type: 'put', key: `bench/cas/${k}`, value: String(i) }],
        failure: [{ type: 'get', key: `bench/cas/${k}` }],
      });
      if (res.succeeded) {
        revs[k] = res.revision;
        return;
      }
      const got = res.results[0];
      revs[k] = got?.type === 'get' ? (got.kv?.modRevision ?? 0n) : 0n;
    }
  });

  const seqNet = (await networks.create(request('seq', '10.1.0.0/16'))).network;
  const seqAlloc = new AddressAllocator(store);
  await seqAlloc.allocate(seqNet.id, '10.1.0.0/16'); // first call loads the record and bitmap
  const sequential = await measure(addresses - 1, 1, calls, () => seqAlloc.allocate(seqNet.id, '10.1.0.0/16'));

  const batNet = (await networks.create(request('batched', '10.2.0.0/16'))).network;
  const batAlloc = new AddressAllocator(store);
  await batAlloc.allocate(batNet.id, '10.2.0.0/16');
  const batched64 = await measure(addresses - 1, 64, calls, () => batAlloc.allocate(batNet.id, '10.2.0.0/16'));

  const casAfter = await casLoop();
  const cas = casAfter.opsPerSec > casBefore.opsPerSec ? casAfter : casBefore;
  const state = await rangeAll(raw, storeKeys.subnetAddressesPrefix(seqNet.id, '10.1.0.0/16'));
  const stateBytes = state.kvs.reduce((n, kv) => n + kv.key.length + kv.value.length, 0);
  return {
    store: kind,
    cas,
    cas64,
    sequential,
    batched64,
    stateKeys: state.kvs.length,
    stateBytes,
    seqVsCas: Number((sequential.opsPerSec / cas.opsPerSec).toFixed(2)),
    batchedVsCas: Number((batched64.opsPerSec / cas.opsPerSec).toFixed(2)),
    batchedVsCas64: Number((batched64.opsPerSec / cas64.opsPerSec).toFixed(2)),
  };
}

/** Both stores: an embedded store in a temporary directory and a private etcd. */
export async function runIpamBench(opts: { addresses?: number; casOps?: number } = {}): Promise<IpamStoreResult[]> {
  const addresses = opts.addresses ?? 60_000;
  const casOps = opts.casOps ?? 5_000;
  const results: IpamStoreResult[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-bench-ipam-'));
  try {
    const embedded = await EmbeddedKvStore.open({ path: join(dir, 'store.db') });
    try {
      results.push(await benchIpamOnStore('embedded', embedded, addresses, casOps));
    } finally {
      await embedded.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const etcd = await startEtcd();
  try {
    const store = new EtcdKvStore({ endpoints: [etcd.endpoint], namespace: '/bench-ipam/' });
    try {
      results.push(await benchIpamOnStore('etcd', store, addresses, casOps));
    } finally {
      await store.close();
    }
  } finally {
    await etcd.stop();
  }
  return results;
}

function print(results: readonly IpamStoreResult[]): void {
  for (const r of results) {
    const row = (what: string, p: Phase): string =>
      `  ${what.padEnd(26)} ${String(p.opsPerSec).padStart(7)}/s  p50 ${p.p50Ms.toFixed(2).padStart(6)} ms  p99 ${p.p99Ms
        .toFixed(2)
        .padStart(7)} ms  store calls/op ${p.storeCallsPerOp}`;
    console.log(`${r.store}:`);
    console.log(row('raw CAS, 1 caller', r.cas));
    console.log(row('raw CAS, 64 callers', r.cas64));
    console.log(row('allocate, sequential', r.sequential));
    console.log(row('allocate, 64 callers', r.batched64));
    console.log(
      `  ratios: sequential/CAS ${r.seqVsCas}, batched/CAS ${r.batchedVsCas}, batched/CAS64 ${r.batchedVsCas64}; ` +
        `/16 state after ${r.sequential.ops + 1} allocations: ${r.stateKeys} keys, ${r.stateBytes} bytes`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const addresses = Number(process.argv[2] ?? 60_000);
  print(await runIpamBench({ addresses }));
}
