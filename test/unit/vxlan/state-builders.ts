/** Builders of observed kernel state for the pure diff tests. */
import type { LinkState, NamespaceState, ObservedDataplane } from '../../../src/vxlan/kernel-state.js';

let ifindex = 100;

/** A link with defaults (up, MTU 1450, no master); override any field. */
export function link(name: string, fields: Partial<LinkState> = {}): LinkState {
  return {
    name,
    ifindex: fields.ifindex ?? ++ifindex,
    kind: undefined,
    mtu: 1450,
    mac: '0a:00:00:00:00:01',
    up: true,
    master: undefined,
    alias: undefined,
    linkIndex: undefined,
    linkNetnsId: undefined,
    vxlan: undefined,
    isolated: undefined,
    addresses: [],
    ...fields,
  };
}

/** A namespace state from links and optional other parts. */
export function namespace(links: readonly LinkState[], fields: Partial<NamespaceState> = {}): NamespaceState {
  return {
    neighbours: [],
    fdb: [],
    routes: [],
    netnsIds: new Map(),
    sysctls: new Map(),
    ...fields,
    links: new Map(links.map((l) => [l.name, l])),
  };
}

/** An observation of a node. */
export function observed(fields: Partial<ObservedDataplane> = {}): ObservedDataplane {
  return {
    namespaces: new Set(),
    daemon: namespace([link('lo')]),
    overlays: new Map(),
    containers: new Map(),
    nft: undefined,
    ...fields,
  };
}

/** Addresses in LinkState form. */
export function addrs(...cidrs: string[]): LinkState['addresses'] {
  return cidrs.map((cidr) => ({ cidr, family: cidr.includes(':') ? 6 : 4, scope: 'global' }));
}
