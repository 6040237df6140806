import { VxmeshError } from '../common/errors.js';
import type { Network } from '../gen/vxmesh/v1/network.js';
import { exactMatch, matchLabels, regexMatch } from './filter-args.js';
import type { FilterArgs } from './filter-args.js';

/**
 * The `network ls --filter` keys vxmesh evaluates. Docker's `dangling` is left out until the
 * managers report endpoints: without them every network would look unused.
 */
export const NETWORK_LIST_FILTERS = ['driver', 'id', 'label', 'name', 'scope', 'type'] as const;

/** Every vxmesh network is cluster-wide, so `network ls` and `inspect` show Scope "swarm". */
export const NETWORK_SCOPE = 'swarm';

/** Docker's `type` filter values. */
const NETWORK_TYPES = ['custom', 'builtin'];

/**
 * Applies `network ls` filters as moby's FilterNetworks does: driver and scope exactly, name and
 * id as unanchored regular expressions (so substrings and prefixes match), label as key or
 * key=value (all must match), type as custom or builtin.
 *
 * `type`: docker's builtin networks are the local bridge, host and none (moby IsPredefined);
 * `ingress` is not among them, so docker lists it as custom. vxmesh has only cluster networks,
 * hence every network, ingress included, is custom and `type=builtin` matches none.
 */
export function filterNetworks(networks: readonly Network[], args: FilterArgs): Network[] {
  for (const value of args.get('type') ?? []) {
    if (!NETWORK_TYPES.includes(value)) {
      throw new VxmeshError('INVALID_ARGUMENT', `invalid filter: 'type'='${value}'`);
    }
  }
  return networks.filter(
    (network) =>
      exactMatch(args, 'driver', network.driver) &&
      regexMatch(args, 'name', network.name) &&
      regexMatch(args, 'id', network.id) &&
      matchLabels(args, 'label', network.labels) &&
      exactMatch(args, 'scope', NETWORK_SCOPE) &&
      exactMatch(args, 'type', 'custom'),
  );
}
