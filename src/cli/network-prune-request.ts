import { VxmeshError } from '../common/errors.js';
import type { PruneNetworksRequest } from '../gen/vxmesh/v1/control.js';
import { parseDockerTimestamp } from './docker-timestamp.js';
import { filterArgs } from './filter-args.js';
import type { FilterPair } from './filter-args.js';

/** The filters docker's network prune accepts. */
export const NETWORK_PRUNE_FILTERS = ['label', 'label!', 'until'] as const;

/**
 * Turns `network prune --filter` values into the manager's request: `label=K[=V]` must all match,
 * `label!=K[=V]` must all not match, and `until=<duration|timestamp>` (at most one) becomes an
 * absolute time, resolved here against `nowMs` as docker's daemon resolves it against its clock.
 * Checked before the confirmation prompt, so a typo never costs a "y".
 */
export function pruneNetworksRequest(pairs: readonly FilterPair[], nowMs: number): PruneNetworksRequest {
  const args = filterArgs(pairs, NETWORK_PRUNE_FILTERS);
  const until = args.get('until') ?? [];
  if (until.length > 1) {
    throw new VxmeshError('INVALID_ARGUMENT', 'more than one until filter specified');
  }
  let untilMs = 0n;
  if (until[0] !== undefined) {
    try {
      untilMs = BigInt(Math.floor(parseDockerTimestamp(until[0], nowMs)));
    } catch (err) {
      throw new VxmeshError('INVALID_ARGUMENT', `invalid until filter: ${(err as Error).message}`);
    }
    // 0 means "no limit" in the request; the epoch itself ("until=0") selects nothing, and so
    // does the millisecond before it.
    if (untilMs === 0n) {
      untilMs = -1n;
    }
  }
  return {
    labelFilters: [...(args.get('label') ?? [])],
    labelNotFilters: [...(args.get('label!') ?? [])],
    until: untilMs,
  };
}
