import type { KvStore } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { rangeAll } from '../ipam/range-all.js';
import { storeKeys } from '../store/store-keys.js';
import { attachmentRefOf } from './network-attachments.js';

/** Gets per read transaction: well under etcd's default --max-txn-ops (128). */
const GETS_PER_TXN = 100;

type Signal = { readonly signal?: AbortSignal };

function byId(a: Endpoint, b: Endpoint): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Every endpoint of every network, grouped by network ID and sorted by endpoint ID: one range
 * over the endpoint records, for `network ls`-sized answers that cover all networks anyway.
 */
export async function endpointsByNetwork(store: KvStore, opts: Signal = {}): Promise<Map<string, Endpoint[]>> {
  const { kvs } = await rangeAll(store, storeKeys.endpointsPrefix, opts);
  const out = new Map<string, Endpoint[]>();
  for (const kv of kvs) {
    const endpoint = Endpoint.decode(kv.value);
    const list = out.get(endpoint.networkId);
    if (list) {
      list.push(endpoint);
    } else {
      out.set(endpoint.networkId, [endpoint]);
    }
  }
  for (const list of out.values()) {
    list.sort(byId);
  }
  return out;
}

/**
 * The endpoints of one network, sorted by ID. Found through the network's attachment keys (only
 * that network's keys are read, whatever the cluster's size), then fetched in batched read
 * transactions. An endpoint removed between the two reads is left out.
 */
export async function networkEndpoints(store: KvStore, networkId: string, opts: Signal = {}): Promise<Endpoint[]> {
  const prefix = `${storeKeys.networkAttachmentsPrefix(networkId)}endpoint/`;
  const { kvs } = await rangeAll(store, prefix, opts);
  const ids = kvs.map((kv) => attachmentRefOf(networkId, kv.key).owner);
  const out: Endpoint[] = [];
  for (let i = 0; i < ids.length; i += GETS_PER_TXN) {
    const batch = ids.slice(i, i + GETS_PER_TXN);
    const res = await store.txn(
      { compare: [], success: batch.map((id) => ({ type: 'get', key: storeKeys.endpoint(id) }) as const) },
      opts,
    );
    for (const r of res.results) {
      if (r.type === 'get' && r.kv) {
        out.push(Endpoint.decode(r.kv.value));
      }
    }
  }
  return out.sort(byId);
}
