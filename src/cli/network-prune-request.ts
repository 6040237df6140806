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
 * @returns undefined when the filters select no network at all: an `until` at or before the Unix
 *   epoch ("until=0"), which the request cannot carry since its 0 (or less) means "no limit".
 */
export function pruneNetworksRequest(pairs: readonly FilterPair[], nowMs: number): PruneNetworksRequest | undefined {
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
    if (untilMs <= 0n) {
      return undefined;
    }
  }
  return {
    labelFilters: [...(args.get('label') ?? [])],
    labelNotFilters: [...(args.get('label!') ?? [])],
    until: untilMs,
  };
}
