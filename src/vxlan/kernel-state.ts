/**
 * What the driver observed in the kernel, as plain data: the input of the pure diff functions.
 * Only the fields the driver compares are kept; everything is in canonical text (see ip-text.ts).
 */

/** VXLAN attributes of a link (`ip -d link show`, linkinfo.info_data). */
export interface VxlanAttributes {
  readonly vni: number;
  readonly port: number;
  /** Source address (`local`), canonical; undefined when unset. */
  readonly local: string | undefined;
  readonly learning: boolean;
  readonly proxy: boolean;
  readonly l2miss: boolean;
  readonly l3miss: boolean;
}

/** An address on an interface. */
export interface LinkAddress {
  /** `address/len`, canonical. */
  readonly cidr: string;
  readonly family: 4 | 6;
  /** `global`, `link`, `host`, …; link-local IPv6 addresses are the kernel's and never compared. */
  readonly scope: string;
}

/** One network interface. */
export interface LinkState {
  readonly name: string;
  readonly ifindex: number;
  /** linkinfo.info_kind: `bridge`, `vxlan`, `veth`, …; undefined for devices without one (lo). */
  readonly kind: string | undefined;
  readonly mtu: number;
  /** Lower-case MAC. */
  readonly mac: string;
  /** Administratively up (the `UP` flag; operstate may still be DOWN without carrier). */
  readonly up: boolean;
  readonly master: string | undefined;
  readonly alias: string | undefined;
  /** IFLA_LINK: for a veth, the peer's ifindex in the peer's namespace. */
  readonly linkIndex: number | undefined;
  /**
   * IFLA_LINK_NETNSID: the namespace (id as seen from this namespace) of the veth peer, or of the
   * VXLAN device's UDP socket; undefined when that is this namespace itself.
   */
  readonly linkNetnsId: number | undefined;
  readonly vxlan: VxlanAttributes | undefined;
  /** Bridge-port isolation (`bridge_slave isolated`); undefined when not a bridge port. */
  readonly isolated: boolean | undefined;
  readonly addresses: readonly LinkAddress[];
}

/** A neighbour (ARP/NDP) entry. */
export interface NeighbourState {
  /** Canonical IP. */
  readonly ip: string;
  readonly dev: string;
  /** Lower-case MAC; undefined for incomplete/failed entries. */
  readonly lladdr: string | undefined;
  readonly permanent: boolean;
}

/** A forwarding-database entry (`bridge fdb show`). */
export interface FdbState {
  readonly mac: string;
  readonly dev: string;
  /** Remote VTEP of a VXLAN `self` entry, canonical. */
  readonly dst: string | undefined;
  /** Entry of the device itself (`self`), as opposed to the bridge's (`master`). */
  readonly self: boolean;
  readonly master: string | undefined;
  readonly permanent: boolean;
}

/** A route of the main table. */
export interface RouteState {
  /** Canonical prefix, or `default`. */
  readonly dst: string;
  readonly family: 4 | 6;
  readonly gateway: string | undefined;
  readonly dev: string | undefined;
  /** `kernel` for connected routes; `boot`/`static` for added ones. */
  readonly protocol: string | undefined;
}

/** Everything read from one network namespace; lists not read are empty. */
export interface NamespaceState {
  readonly links: ReadonlyMap<string, LinkState>;
  readonly neighbours: readonly NeighbourState[];
  readonly fdb: readonly FdbState[];
  readonly routes: readonly RouteState[];
  /** Named namespaces → their id as seen from this namespace (only those that have one). */
  readonly netnsIds: ReadonlyMap<string, number>;
  /** The sysctls that were read here, by key (e.g. `net.ipv4.ip_forward` → `1`). */
  readonly sysctls: ReadonlyMap<string, string>;
}

/** One chain of the driver's nftables table. */
export interface NftChainState {
  readonly type: string | undefined;
  readonly hook: string | undefined;
  readonly priority: number | undefined;
  readonly policy: string | undefined;
  /** Comments of the chain's rules in order (undefined for a rule without one). */
  readonly ruleComments: readonly (string | undefined)[];
}

/** The driver's nftables table, as listed. */
export interface NftTableState {
  /** Set name → element type and (canonical) elements. */
  readonly sets: ReadonlyMap<string, { readonly type: string; readonly elements: readonly string[] }>;
  /** Named counter → values. */
  readonly counters: ReadonlyMap<string, { readonly packets: number; readonly bytes: number }>;
  readonly chains: ReadonlyMap<string, NftChainState>;
}

/** The whole observed dataplane of one node. */
export interface ObservedDataplane {
  /** Every named network namespace (`ip netns list`). */
  readonly namespaces: ReadonlySet<string>;
  /** The daemon's own namespace (links with addresses, netns ids). */
  readonly daemon: NamespaceState;
  /** Overlay namespaces of this daemon (name starts with prefix + `o-`), whether in the spec or stale. */
  readonly overlays: ReadonlyMap<string, NamespaceState>;
  /** Container namespaces named by the spec that exist (links with addresses, routes, netns ids). */
  readonly containers: ReadonlyMap<string, NamespaceState>;
  /** The nftables table; undefined when it does not exist. */
  readonly nft: NftTableState | undefined;
}

/** A namespace with nothing in it (a namespace the driver is about to create). */
export const EMPTY_NAMESPACE: NamespaceState = {
  links: new Map(),
  neighbours: [],
  fdb: [],
  routes: [],
  netnsIds: new Map(),
  sysctls: new Map(),
};
