import type { KeyValue, KvStore } from '../../kvstore/index.js';
import type { Network, SubnetUsage } from '../../gen/vxmesh/v1/network.js';
import { storeKeys } from '../store/store-keys.js';
import { snapshotFromKeys } from './bitmap-store.js';
import { countSetBits } from './chunked-bitmap.js';
import { rangeAll } from './range-all.js';
import { subnetLayout } from './subnet-layout.js';

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * Usage of every subnet of `network` from the keys of its address bitmaps (any superset of them,
 * e.g. a range over all networks' bitmaps). `inUse` counts every held address (gateway, aux
 * addresses, endpoints, VIPs); `free` the addresses still assignable in the dynamic range,
 * capped at 2^64-1 for huge IPv6 subnets.
 */
export function usageFromKeys(network: Network, kvs: readonly KeyValue[]): SubnetUsage[] {
  return network.subnets.map((alloc) => {
    const layout = subnetLayout(alloc);
    const loc = { prefix: storeKeys.subnetAddressesPrefix(network.id, alloc.subnet) };
    const snapshot = snapshotFromKeys(
      loc,
      kvs.filter((kv) => kv.key.startsWith(loc.prefix)),
    );
    const inUse = countSetBits(snapshot, layout.usableLo, layout.usableHi);
    const dynamicSize = layout.dynamicHi - layout.dynamicLo + 1n;
    const free = dynamicSize - countSetBits(snapshot, layout.dynamicLo, layout.dynamicHi);
    return {
      subnet: alloc.subnet,
      inUse: inUse > UINT64_MAX ? UINT64_MAX : inUse,
      free: free > UINT64_MAX ? UINT64_MAX : free,
    };
  });
}

/** Reads the address bitmaps of one network and reports its usage. */
export async function loadNetworkUsage(
  store: KvStore,
  network: Network,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<SubnetUsage[]> {
  const { kvs } = await rangeAll(store, storeKeys.networkAddressesPrefix(network.id), opts);
  return usageFromKeys(network, kvs);
}
