import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { EmbeddedKvStore, EtcdKvStore } from '../../src/kvstore/index.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { Cluster } from '../../src/gen/vxmesh/v1/cluster.js';
import { planInitialIngress } from '../../src/manager/network/ingress-network.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { newObjectId } from '../../src/manager/node-registry.js';
import { kvPrefix } from '../support/kv-prefix.js';

export { createRequest } from './create-request.js';

/** A store for one test, of either backend, and how to drop it. */
export interface TestStore {
  readonly store: KvStore;
  /** etcd namespace (etcd only), for child processes that open their own client. */
  readonly namespace?: string;
  dispose(): Promise<void>;
}

export type StoreKind = 'embedded' | 'etcd';
export const STORE_KINDS: readonly StoreKind[] = ['embedded', 'etcd'];

/** A fresh embedded store in a temporary directory, or a fresh namespace on the shared etcd. */
export async function openTestStore(kind: StoreKind): Promise<TestStore> {
  if (kind === 'etcd') {
    const namespace = kvPrefix('net');
    const store = new EtcdKvStore({ endpoints: [inject('etcdEndpoint')], namespace });
    return { store, namespace, dispose: () => store.close() };
  }
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-net-'));
  const store = await EmbeddedKvStore.open({ path: join(dir, 'store.db') });
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes the cluster settings and the ingress network as `swarm init` does (same planner, same
 * single transaction), without the CA, which these tests don't need.
 */
export async function seedCluster(
  store: KvStore,
  pools: { defaultAddrPools?: string[]; defaultAddrPoolMaskLength?: number; ingress?: boolean } = {},
): Promise<void> {
  const cluster: Cluster = {
    id: newObjectId(),
    createdAt: BigInt(systemClock.now()),
    dataPathPort: 4789,
    defaultAddrPools: pools.defaultAddrPools ?? ['10.0.0.0/8'],
    defaultAddrPoolMaskLength: pools.defaultAddrPoolMaskLength ?? 24,
    certExpiryMs: 0n,
    etcdEndpoints: [],
    heartbeatPeriodMs: 5000,
  };
  const ops = [{ type: 'put' as const, key: storeKeys.cluster, value: encodeMessage(Cluster, cluster) }];
  const compares = [{ key: storeKeys.cluster, target: 'version' as const, op: '==' as const, value: 0n }];
  if (pools.ingress !== false) {
    const { plan } = planInitialIngress(cluster, { id: newObjectId(), createdAt: cluster.createdAt });
    compares.push(...(plan.compares as typeof compares));
    ops.push(...(plan.ops as typeof ops));
  }
  const res = await store.txn({ compare: compares, success: ops });
  if (!res.succeeded) {
    throw new Error('seedCluster: store not empty');
  }
}

/** Every key of the store (namespace) with its modRevision: equal fingerprints mean nothing was written. */
export async function fingerprint(store: KvStore): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  let after: string | undefined;
  for (;;) {
    const page = await store.range('', { limit: 1000, ...(after === undefined ? {} : { after }) });
    for (const kv of page.kvs) {
      out.set(kv.key, kv.modRevision);
    }
    if (!page.more) {
      return out;
    }
    after = page.kvs[page.kvs.length - 1]?.key;
  }
}
