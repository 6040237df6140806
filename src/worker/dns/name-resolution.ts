import type { AskerNetwork, AskerView } from './asker-view.js';
import { addressOfReverseName, RrType } from './dns-wire.js';
import type { DnsRecord } from './dns-wire.js';
import type { NameRecords, NetworkRecords, RecordTable, SrvTarget } from './record-table.js';

/** What to do with one question. */
export type Resolution =
  /** Answer locally: NOERROR (records may be empty: the name exists without that type) or NXDOMAIN. */
  | {
      readonly kind: 'answer';
      readonly rcode: 'NOERROR' | 'NXDOMAIN';
      readonly records: readonly DnsRecord[];
      /** Several addresses: their order is shuffled per response. */
      readonly shuffle: boolean;
    }
  /** Not a cluster name: ask the upstream servers (if the asker may forward). */
  | { readonly kind: 'forward' };

type Hit =
  | { readonly kind: 'addresses'; readonly records: NameRecords }
  | { readonly kind: 'ptr'; readonly target: string }
  | { readonly kind: 'srv'; readonly targets: readonly SrvTarget[] };

const NXDOMAIN: Resolution = { kind: 'answer', rcode: 'NXDOMAIN', records: [], shuffle: false };
const NODATA: Resolution = { kind: 'answer', rcode: 'NOERROR', records: [], shuffle: false };
const FORWARD: Resolution = { kind: 'forward' };

/**
 * Resolves one question for one asker. Pure. Only the asker's networks are read, in its interface
 * order, and the first network holding the name answers (Docker's rule):
 *
 * 1. a reverse name (`…in-addr.arpa`, `…ip6.arpa`) is looked up in those networks' PTR records;
 * 2. a name is first mapped through the asker's links on that network (`--link c5:alias` makes
 *    `alias` mean `c5`, for this asker only), then looked up as an A/AAAA name, then as SRV;
 * 3. failing that, `<name>.<network>` is tried for each asker network whose name is the suffix.
 *
 * A found name answers its records of the asked type (NOERROR and none when it has none; ANY gives
 * them all). A name that is not found is NXDOMAIN when it has the shape of a cluster name (see
 * {@link isClusterShaped}) and is forwarded otherwise.
 *
 * @param name lowercased dotted name without trailing dot.
 */
export function resolveQuestion(table: RecordTable, view: AskerView, name: string, qtype: number): Resolution {
  const hit = lookup(table, view, name);
  if (!hit) {
    return isClusterShaped(table, view, name) ? NXDOMAIN : FORWARD;
  }
  const any = qtype === RrType.ANY;
  switch (hit.kind) {
    case 'addresses': {
      const records: DnsRecord[] = [];
      if (qtype === RrType.A || any) {
        for (const address of hit.records.ipv4) {
          records.push({ type: 'A', address });
        }
      }
      if (qtype === RrType.AAAA || any) {
        for (const address of hit.records.ipv6) {
          records.push({ type: 'AAAA', address });
        }
      }
      return records.length === 0 ? NODATA : { kind: 'answer', rcode: 'NOERROR', records, shuffle: records.length > 1 };
    }
    case 'ptr': {
      return qtype === RrType.PTR || any
        ? { kind: 'answer', rcode: 'NOERROR', records: [{ type: 'PTR', target: hit.target }], shuffle: false }
        : NODATA;
    }
    case 'srv': {
      if (qtype !== RrType.SRV && !any) {
        return NODATA;
      }
      const records = hit.targets.map((t): DnsRecord => ({ type: 'SRV', ...t }));
      return { kind: 'answer', rcode: 'NOERROR', records, shuffle: records.length > 1 };
    }
  }
}

function lookup(table: RecordTable, view: AskerView, name: string): Hit | undefined {
  if (name.endsWith('.arpa')) {
    for (const an of view.networks) {
      const target = table.networks.get(an.networkId)?.ptr.get(name);
      if (target !== undefined) {
        return { kind: 'ptr', target };
      }
    }
    return undefined;
  }
  for (const an of view.networks) {
    const hit = lookupIn(table.networks.get(an.networkId), an, name);
    if (hit) {
      return hit;
    }
  }
  for (const an of view.networks) {
    const suffix = `.${an.name}`;
    if (name.length > suffix.length && name.endsWith(suffix)) {
      const hit = lookupIn(table.networks.get(an.networkId), an, name.slice(0, -suffix.length));
      if (hit) {
        return hit;
      }
    }
  }
  return undefined;
}

function lookupIn(records: NetworkRecords | undefined, an: AskerNetwork, name: string): Hit | undefined {
  if (!records) {
    return undefined;
  }
  const target = an.links.get(name) ?? name;
  const addresses = records.names.get(target);
  if (addresses) {
    return { kind: 'addresses', records: addresses };
  }
  const targets = records.srv.get(target);
  return targets ? { kind: 'srv', targets } : undefined;
}

/**
 * Names the cluster would own if they existed, so they are answered NXDOMAIN instead of leaking
 * to (and waiting on) the upstream servers: single-label names, `<x>.<network>` for the asker's
 * networks, `tasks.<x>`, `_port._proto.<x>`, and reverse names of addresses inside any cluster
 * subnet. The root name and everything else is forwarded.
 */
export function isClusterShaped(table: RecordTable, view: AskerView, name: string): boolean {
  if (name === '') {
    return false;
  }
  const labels = name.split('.');
  if (labels.length === 1) {
    return true;
  }
  if (name.endsWith('.arpa')) {
    const address = addressOfReverseName(name);
    return address !== undefined && table.isClusterAddress(address);
  }
  if (labels.length === 2 && labels[0] === 'tasks') {
    return true;
  }
  if (labels.length === 3 && labels[0]?.startsWith('_') === true && labels[1]?.startsWith('_') === true) {
    return true;
  }
  return view.networks.some((an) => name.endsWith(`.${an.name}`));
}
