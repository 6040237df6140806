import type { Network } from '../gen/vxmesh/v1/network.js';
import { goTimeString } from './go-time-string.js';
import { sortedEntries } from './go-map.js';
import { naturalCompare } from './natural-compare.js';
import { NETWORK_SCOPE } from './network-list-filter.js';
import { formatTable } from './table.js';

/**
 * One `network ls` row with docker's field names and values (docker/cli network formatter), which
 * is also what `--format json` prints: every field a string, keys in the order docker's
 * `{{json .}}` emits them (alphabetical).
 */
export interface NetworkListEntry {
  /** Go `time.Time.String()` of the creation time. */
  readonly CreatedAt: string;
  readonly Driver: string;
  /** 12 characters unless --no-trunc. */
  readonly ID: string;
  /** "true": swarm networks always carry IPv4 (docker hard-codes EnableIPv4 for them). */
  readonly IPv4: string;
  readonly IPv6: string;
  readonly Internal: string;
  /** "k=v" pairs joined by ","; sorted here, where docker's Go map order is random. */
  readonly Labels: string;
  readonly Name: string;
  readonly Scope: string;
}

/** The header of `network ls`, as docker prints it. */
export const NETWORK_LIST_HEADER = ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE'] as const;

/** docker's stringid.TruncateID length. */
const SHORT_ID_LENGTH = 12;

/**
 * Docker's `network ls` rows, sorted like docker: by name in natural order (names are unique).
 * @param trunc whether IDs are cut to 12 characters (docker's default; off with --no-trunc).
 */
export function networkListEntries(networks: readonly Network[], trunc: boolean): NetworkListEntry[] {
  return [...networks]
    .sort((a, b) => naturalCompare(a.name, b.name))
    .map((n) => ({
      CreatedAt: goTimeString(n.createdAt),
      Driver: n.driver,
      ID: trunc ? n.id.slice(0, SHORT_ID_LENGTH) : n.id,
      IPv4: 'true',
      IPv6: String(n.enableIpv6),
      Internal: String(n.internal),
      Labels: sortedEntries(n.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(','),
      Name: n.name,
      Scope: NETWORK_SCOPE,
    }));
}

/** The default `network ls` table. */
export function formatNetworkTable(entries: readonly NetworkListEntry[]): string {
  return formatTable([NETWORK_LIST_HEADER, ...entries.map((e) => [e.ID, e.Name, e.Driver, e.Scope])]);
}

/** `network ls --format json`: one compact JSON object per line, like docker's `{{json .}}`. */
export function formatNetworkJsonLines(entries: readonly NetworkListEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** `network ls -q`: one ID per line. */
export function formatNetworkIds(entries: readonly NetworkListEntry[]): string {
  return entries.map((e) => `${e.ID}\n`).join('');
}
