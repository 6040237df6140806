import { InvalidArgumentError, NotFoundError } from '../../common/errors.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { listNetworks } from './network-records.js';
import { NetworkInUseError, removeNetwork } from './network-removal.js';

/** Filters of `network prune`, as in the request. */
export interface PruneFilters {
  /** `label=K` or `label=K=V`: all must match. */
  readonly labels: readonly string[];
  /** `label!=K` or `label!=K=V`: none may match. */
  readonly notLabels: readonly string[];
  /** Only networks created before this time (ms); 0 = no limit. */
  readonly until: bigint;
}

function labelMatches(network: Network, filter: string): boolean {
  if (filter.length === 0) {
    throw new InvalidArgumentError('--filter', 'label filter is empty');
  }
  const eq = filter.indexOf('=');
  if (eq < 0) {
    return Object.hasOwn(network.labels, filter);
  }
  return network.labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

/** Whether a network passes the filters (ingress is never pruned; see pruneNetworks). Pure. */
export function matchesPruneFilters(network: Network, filters: PruneFilters): boolean {
  if (filters.until > 0n && network.createdAt >= filters.until) {
    return false;
  }
  return (
    filters.labels.every((f) => labelMatches(network, f)) && !filters.notLabels.some((f) => labelMatches(network, f))
  );
}

/**
 * Removes every network no one uses that matches the filters, except ingress (docker never
 * prunes it). Networks in use, or removed meanwhile by someone else, are skipped.
 * @returns the names removed, sorted.
 */
export async function pruneNetworks(
  store: KvStore,
  filters: PruneFilters,
  clock: Clock,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<{ removed: Network[] }> {
  const removed: Network[] = [];
  for (const stored of await listNetworks(store, opts)) {
    if (stored.network.ingress || !matchesPruneFilters(stored.network, filters)) {
      continue;
    }
    try {
      removed.push(await removeNetwork(store, stored, clock, opts));
    } catch (err) {
      if (!(err instanceof NetworkInUseError) && !(err instanceof NotFoundError)) {
        throw err;
      }
    }
  }
  return { removed };
}
