/**
 * A canonical, comparable picture of everything the driver owns in the kernel: equal for equal
 * dataplanes whatever the ifindexes, namespace ids and kernel-chosen MACs. For tests and
 * diagnostics ("after a kill -9 and a restart, the kernel equals that of a clean run").
 */
import { ownerAlias } from './dataplane-names.js';
import type { LinkState, NamespaceState, NftTableState, ObservedDataplane } from './kernel-state.js';

/** One link, without what the kernel picks (ifindex, random MACs, link-local addresses). */
export interface LinkSnapshot {
  readonly name: string;
  readonly kind: string | undefined;
  readonly mtu: number;
  readonly up: boolean;
  readonly master: string | undefined;
  readonly isolated: boolean | undefined;
  readonly addresses: readonly string[];
  /** `namespace/name` of a veth's other end (namespace "" = the daemon's), when resolvable. */
  readonly peer: string | undefined;
  /** VXLAN attributes and the namespace of its socket. */
  readonly vxlan: string | undefined;
}

/** Everything owned by the driver, canonical and sorted. */
export interface DataplaneSnapshot {
  readonly daemonLinks: readonly LinkSnapshot[];
  readonly overlays: Readonly<Record<string, { links: readonly LinkSnapshot[]; neighbours: readonly string[]; fdb: readonly string[] }>>;
  /** Container namespaces: their non-loopback links and routes. */
  readonly containers: Readonly<Record<string, { links: readonly LinkSnapshot[]; routes: readonly string[] }>>;
  readonly nft: { sets: Record<string, readonly string[]>; counters: readonly string[]; chains: Record<string, readonly (string | undefined)[]> } | undefined;
}

function nameOfId(ns: NamespaceState, id: number | undefined): string | undefined {
  if (id === undefined) {
    return undefined;
  }
  for (const [name, value] of ns.netnsIds) {
    if (value === id) {
      return name;
    }
  }
  return undefined;
}

function linkSnapshot(link: LinkState, ns: NamespaceState, all: ReadonlyMap<string, NamespaceState>): LinkSnapshot {
  let peer: string | undefined;
  if (link.kind === 'veth') {
    const peerNs = nameOfId(ns, link.linkNetnsId);
    const peerState = peerNs === undefined ? undefined : all.get(peerNs);
    const peerLink = [...(peerState?.links.values() ?? [])].find((l) => l.ifindex === link.linkIndex);
    peer = peerLink === undefined ? undefined : `${peerNs ?? ''}/${peerLink.name}`;
  }
  const v = link.vxlan;
  return {
    name: link.name,
    kind: link.kind,
    mtu: link.mtu,
    up: link.up,
    master: link.master,
    isolated: link.isolated,
    addresses: link.addresses
      .filter((a) => !(a.family === 6 && a.scope === 'link'))
      .map((a) => a.cidr)
      .sort(),
    peer,
    vxlan:
      v === undefined
        ? undefined
        : `id ${v.vni} port ${v.port} local ${v.local ?? '-'} learning ${String(v.learning)} proxy ${String(v.proxy)} ` +
          `l2miss ${String(v.l2miss)} l3miss ${String(v.l3miss)} socket ${link.linkNetnsId === undefined ? 'own' : (nameOfId(ns, link.linkNetnsId) ?? 'daemon')}`,
  };
}

function links(ns: NamespaceState, all: ReadonlyMap<string, NamespaceState>, keep: (l: LinkState) => boolean): LinkSnapshot[] {
  return [...ns.links.values()]
    .filter(keep)
    .map((l) => linkSnapshot(l, ns, all))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function nftSnapshot(t: NftTableState | undefined): DataplaneSnapshot['nft'] {
  if (t === undefined) {
    return undefined;
  }
  return {
    sets: Object.fromEntries([...t.sets].map(([k, s]) => [k, [...s.elements].sort()])),
    counters: [...t.counters.keys()].sort(),
    chains: Object.fromEntries([...t.chains].map(([k, c]) => [k, c.ruleComments])),
  };
}

/** The snapshot of an observation read for a daemon with `namespacePrefix`. */
export function snapshotDataplane(observed: ObservedDataplane, namespacePrefix: string): DataplaneSnapshot {
  const all = new Map<string, NamespaceState>([['', observed.daemon], ...observed.overlays, ...observed.containers]);
  const alias = ownerAlias(namespacePrefix);
  const sorted = <T>(entries: [string, T][]): Record<string, T> =>
    Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
  return {
    daemonLinks: links(observed.daemon, all, (l) => l.alias === alias),
    overlays: sorted(
      [...observed.overlays].map(([name, ns]) => [
        name,
        {
          links: links(ns, all, () => true),
          neighbours: ns.neighbours.map((n) => `${n.dev} ${n.ip} ${n.lladdr ?? '-'}${n.permanent ? ' permanent' : ''}`).sort(),
          fdb: ns.fdb
            .filter((f) => f.master === undefined && f.dst !== undefined)
            .map((f) => `${f.dev} ${f.mac} ${f.dst ?? ''}${f.permanent ? ' permanent' : ''}`)
            .sort(),
        },
      ]),
    ),
    containers: sorted(
      [...observed.containers].map(([name, ns]) => [
        name,
        {
          links: links(ns, all, (l) => l.name !== 'lo'),
          routes: ns.routes
            .filter((r) => r.protocol !== 'kernel')
            .map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${r.dev ?? '-'}`)
            .sort(),
        },
      ]),
    ),
    nft: nftSnapshot(observed.nft),
  };
}
