import { NotFoundError, VxmeshError } from '../../common/errors.js';
import type { KvStore } from '../../kvstore/index.js';
import { Service } from '../../gen/vxmesh/v1/service.js';
import { rangeAll } from '../ipam/range-all.js';
import { storeKeys } from '../store/store-keys.js';

type Signal = { readonly signal?: AbortSignal };

/** A service record with the store revision it was read at (the version `service update` compares). */
export interface StoredService {
  readonly service: Service;
  readonly modRevision: bigint;
}

/** One service by ID; undefined when absent. */
export async function getService(store: KvStore, id: string, opts: Signal = {}): Promise<StoredService | undefined> {
  const { kv } = await store.get(storeKeys.service(id), opts);
  return kv ? { service: Service.decode(kv.value), modRevision: kv.modRevision } : undefined;
}

/** Every service, read at one revision, sorted by name. */
export async function listServices(store: KvStore, opts: Signal = {}): Promise<StoredService[]> {
  const { kvs } = await rangeAll(store, storeKeys.servicesPrefix, opts);
  return kvs
    .map((kv) => ({ service: Service.decode(kv.value), modRevision: kv.modRevision }))
    .sort((a, b) => compareText(a.service.spec?.name ?? '', b.service.spec?.name ?? ''));
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Resolves what a user typed, as docker does: full ID, then full name (through the name index),
 * then a unique ID prefix.
 * @throws NotFoundError when nothing matches; VxmeshError INVALID_ARGUMENT for an ambiguous prefix.
 */
export async function resolveService(store: KvStore, ref: string, opts: Signal = {}): Promise<StoredService> {
  if (ref === '') {
    throw new NotFoundError('service', '""');
  }
  const byId = await getService(store, ref, opts);
  if (byId) {
    return byId;
  }
  const { kv: nameKv } = await store.get(storeKeys.serviceName(ref), opts);
  if (nameKv) {
    const byName = await getService(store, Buffer.from(nameKv.value).toString('utf8'), opts);
    if (byName) {
      return byName;
    }
  }
  const byPrefix = (await listServices(store, opts)).filter((s) => s.service.id.startsWith(ref));
  if (byPrefix.length > 1) {
    throw new VxmeshError(
      'INVALID_ARGUMENT',
      `service ${ref} is ambiguous (${byPrefix.length} services have IDs starting with it)`,
    );
  }
  const [only] = byPrefix;
  if (!only) {
    throw new NotFoundError('service', ref);
  }
  return only;
}
