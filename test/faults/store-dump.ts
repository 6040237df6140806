import type { EtcdCluster } from '../support/etcd-cluster.js';
import { factsFromEntries } from './store-invariants.js';
import type { StoreFacts } from './store-invariants.js';

/** The etcd namespace vxmeshd keeps cluster state under (daemon.ts). */
const NAMESPACE = '/vxmesh/';

/**
 * Every cluster record, read with `etcdctl get --prefix` inside a member's namespace (the test
 * process cannot reach the underlay) and decoded with the managers' own types.
 */
export async function dumpStore(etcd: EtcdCluster, via = 0): Promise<StoreFacts> {
  const out = await etcd.etcdctl(
    ['--endpoints', etcd.endpoints.join(','), 'get', `${NAMESPACE}v1/`, '--prefix', '-w', 'json'],
    via,
  );
  const parsed = JSON.parse(out) as { kvs?: { key: string; value?: string }[] };
  const raw = new Map<string, Uint8Array>();
  for (const kv of parsed.kvs ?? []) {
    const key = Buffer.from(kv.key, 'base64').toString('utf8');
    if (key.startsWith(NAMESPACE)) {
      raw.set(key.slice(NAMESPACE.length), new Uint8Array(Buffer.from(kv.value ?? '', 'base64')));
    }
  }
  return factsFromEntries(raw);
}
