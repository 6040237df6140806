// KvStore benchmark (issue 2): EtcdKvStore against the raw etcd3 client on the same etcd, and the
// embedded store against etcd's own single-key CAS rate, all in one run on this machine.
// Run: node --import tsx bench/kvstore.ts
import { startEtcd } from '../test/support/etcd-server.js';
import { runEmbeddedKvBench } from './kvstore-embedded.js';
import { runKvStoreEtcdBench } from './kvstore-etcd.js';
import type { ThroughputComparison } from './kvstore-etcd.js';

const f0 = (n: number): string => n.toFixed(0).padStart(7);
const f2 = (n: number): string => n.toFixed(2);

function row(name: string, c: ThroughputComparison): string {
  const raw = Math.max(c.rawLowLevel.opsPerSec, c.rawBuilder.opsPerSec);
  return `${name.padEnd(28)} ${f0(c.vxmesh.opsPerSec)} ${f0(raw)}   ${f2(c.vxmesh.opsPerSec / raw)}x   slowdown ${f2(c.slowdown)} (budget 1.10)`;
}

export async function runKvStoreBench(): Promise<void> {
  const etcd = await startEtcd();
  try {
    console.log(`etcd ${etcd.endpoint} (Debian etcd-server, fsync on)`);
    const e = await runKvStoreEtcdBench(etcd.endpoint);
    console.log('\nEtcdKvStore vs raw etcd3 client (ops/s)      vxmesh     raw   ratio');
    console.log(row('sequential puts', e.sequentialPuts));
    console.log(row('puts, 64 in flight', e.concurrentPuts));
    console.log(row('sequential CAS txns', e.sequentialCas));
    console.log(row('CAS txns, 64 in flight', e.concurrentCas));
    const w = e.watchLatency;
    console.log(
      `watch delivery p50/p99 ms: EtcdKvStore ${f2(w.vxmesh.p50Ms)}/${f2(w.vxmesh.p99Ms)}, raw ${f2(w.raw.p50Ms)}/${f2(w.raw.p99Ms)}`,
    );

    const m = await runEmbeddedKvBench();
    const etcdSeqCas = Math.max(e.sequentialCas.rawLowLevel.opsPerSec, e.sequentialCas.rawBuilder.opsPerSec);
    const etcdConcCas = Math.max(e.concurrentCas.rawLowLevel.opsPerSec, e.concurrentCas.rawBuilder.opsPerSec);
    console.log('\nEmbeddedKvStore (SQLite, synchronous=FULL)   embedded    etcd   ratio');
    console.log(`${'sequential puts'.padEnd(28)} ${f0(m.sequentialPutsPerSec)}`);
    console.log(`${'puts, 64 in flight'.padEnd(28)} ${f0(m.concurrentPutsPerSec)}`);
    console.log(`${'sequential CAS txns'.padEnd(28)} ${f0(m.sequentialCreateTxnsPerSec)} ${f0(etcdSeqCas)}   ${f2(m.sequentialCreateTxnsPerSec / etcdSeqCas)}x (goal >= 1)`);
    console.log(`${'CAS txns, 64 in flight'.padEnd(28)} ${f0(m.concurrentCreateTxnsPerSec)} ${f0(etcdConcCas)}   ${f2(m.concurrentCreateTxnsPerSec / etcdConcCas)}x (goal >= 1)`);
    console.log(`${'get+CAS loop on one key'.padEnd(28)} ${f0(m.casLoopPerSec)}`);
    console.log(`watch delivery p50/p99 ms: ${f2(m.watchLatencyP50Ms)}/${f2(m.watchLatencyP99Ms)} (goal p99 < 5)`);
  } finally {
    await etcd.stop();
  }
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await runKvStoreBench();
}
