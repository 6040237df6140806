import type { NodeRecord } from './daemon-api.js';
import { naturalCompare } from './natural-compare.js';
import { availabilityText, capitalize, reachabilityText, roleText, statusText } from './node-text.js';
import { formatTable } from './table.js';

/**
 * One `node ls` row with docker's field names and values; also the object `--format json`
 * prints, with keys in the order docker's `{{json .}}` emits them (alphabetical).
 */
export interface NodeListEntry {
  readonly Availability: string;
  readonly Hostname: string;
  readonly ID: string;
  /** "Leader", "Reachable", "Unreachable", "Unknown", or "" for a worker. */
  readonly ManagerStatus: string;
  /** Whether this is the node the CLI's daemon runs on. */
  readonly Self: boolean;
  readonly Status: string;
}

/** The header of `node ls`, as docker prints it (without docker's ENGINE VERSION). */
export const NODE_LIST_HEADER = ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS'] as const;

/**
 * Docker's `node ls` rows, sorted like docker: by hostname in natural order, then by ID so the
 * order is stable when hostnames repeat.
 * @param selfId the local node's ID (`info().nodeId`), marked with `Self`.
 */
export function nodeListEntries(views: readonly NodeRecord[], selfId: string): NodeListEntry[] {
  const entries: NodeListEntry[] = [];
  for (const view of views) {
    const { node } = view;
    let managerStatus = '';
    if (roleText(node.role) === 'manager') {
      managerStatus = view.leader ? 'Leader' : capitalize(reachabilityText(view.reachability));
    }
    entries.push({
      Availability: capitalize(availabilityText(node.availability)),
      Hostname: node.hostname,
      ID: node.id,
      ManagerStatus: managerStatus,
      Self: selfId !== '' && node.id === selfId,
      Status: capitalize(statusText(node.status)),
    });
  }
  return entries.sort((a, b) => naturalCompare(a.Hostname, b.Hostname) || naturalCompare(a.ID, b.ID));
}

/**
 * The default `node ls` table. As in docker, the ID cell carries " *" for the local node and two
 * spaces otherwise, so IDs stay aligned.
 */
export function formatNodeTable(entries: readonly NodeListEntry[]): string {
  const rows = entries.map((e) => [
    `${e.ID} ${e.Self ? '*' : ' '}`,
    e.Hostname,
    e.Status,
    e.Availability,
    e.ManagerStatus,
  ]);
  return formatTable([NODE_LIST_HEADER, ...rows]);
}

/** `node ls --format json`: one compact JSON object per line, like docker's `{{json .}}`. */
export function formatNodeJsonLines(entries: readonly NodeListEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** `node ls -q`: one ID per line. */
export function formatNodeIds(entries: readonly NodeListEntry[]): string {
  return entries.map((e) => `${e.ID}\n`).join('');
}
