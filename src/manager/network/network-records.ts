import { NotFoundError, VxmeshError } from '../../common/errors.js';
import type { KvStore } from '../../kvstore/index.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import { rangeAll } from '../ipam/range-all.js';
import { storeKeys } from '../store/store-keys.js';

/** A network record with the store revision it was read at (docker's Version.Index). */
export interface StoredNetwork {
  readonly network: Network;
  readonly modRevision: bigint;
}

/** One network by ID; undefined when absent. */
export async function getNetwork(
  store: KvStore,
  id: string,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<StoredNetwork | undefined> {
  const { kv } = await store.get(storeKeys.network(id), opts);
  return kv ? { network: Network.decode(kv.value), modRevision: kv.modRevision } : undefined;
}

/** Every network, read at one revision, sorted by name. */
export async function listNetworks(
  store: KvStore,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<StoredNetwork[]> {
  const { kvs } = await rangeAll(store, storeKeys.networksPrefix, opts);
  return kvs
    .map((kv) => ({ network: Network.decode(kv.value), modRevision: kv.modRevision }))
    .sort((a, b) => (a.network.name < b.network.name ? -1 : a.network.name > b.network.name ? 1 : 0));
}

/**
 * Resolves what a user typed, as docker does: full ID first, then full name, then a unique ID
 * prefix.
 * @throws NotFoundError when nothing matches; VxmeshError INVALID_ARGUMENT for an ambiguous prefix.
 */
export async function resolveNetwork(
  store: KvStore,
  ref: string,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<StoredNetwork> {
  if (ref.length === 0) {
    throw new NotFoundError('network', '""');
  }
  const all = await listNetworks(store, opts);
  const match = all.find((n) => n.network.id === ref) ?? all.find((n) => n.network.name === ref);
  if (match) {
    return match;
  }
  const byPrefix = all.filter((n) => n.network.id.startsWith(ref));
  if (byPrefix.length > 1) {
    throw new VxmeshError(
      'INVALID_ARGUMENT',
      `network ${ref} is ambiguous (${byPrefix.length} networks have IDs starting with it)`,
    );
  }
  const [only] = byPrefix;
  if (!only) {
    throw new NotFoundError('network', ref);
  }
  return only;
}
