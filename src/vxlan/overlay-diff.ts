/**
 * Diff of one overlay network's namespace: bridges with the gateways, VXLAN devices, the bridge
 * ends of local endpoints' veths (and their container ends), neighbour and FDB entries of remote
 * endpoints. Pure: the same spec and observation always give the same lines.
 */
import { netnsScope } from './command-runner.js';
import type { CommandScope } from './command-runner.js';
import { bridgeName, endpointVethName, vxlanName } from './dataplane-names.js';
import type { LocalEndpointSpec, OverlaySpec, OverlaySubnetSpec } from './dataplane-spec.js';
import { diffOwnedInterface } from './interface-diff.js';
import type { DesiredRoute } from './interface-diff.js';
import { canonicalIp, canonicalMac, canonicalPrefix, parseAddressWithPrefix, formatAddressWithPrefix } from './ip-text.js';
import { EMPTY_NAMESPACE } from './kernel-state.js';
import type { FdbState, LinkState, NamespaceState } from './kernel-state.js';
import { isVethPeer, vethPeerOf } from './link-deletion.js';
import { append, concatLines } from './lines.js';
import type { InterfaceRef, LinkDeletion } from './link-deletion.js';

/** Attributes every VXLAN device gets, as `ip link add … type vxlan` flags (REFERENCE §3.2). */
export const VXLAN_FLAGS = {
  /** Peers come from the control plane as static entries; the kernel learns nothing. */
  learning: false,
  /** ARP/ND requests are answered from the static neighbour entries instead of being flooded. */
  proxy: true,
  /** Misses are reported over netlink, as docker configures them (nothing listens yet). */
  l2miss: true,
  l3miss: true,
} as const;

/** The sysctl that lets an overlay namespace route between the network's subnets. */
export const FORWARDING_SYSCTL = 'net.ipv4.ip_forward';

/** What the diff needs to know beyond the overlay itself. */
export interface OverlayDiffContext {
  /** Canonical data-path address (the VXLAN `local`). */
  readonly dataPathAddr: string;
  readonly dataPathPort: number;
  /** Name of the daemon namespace when it is a named one (tests); undefined for the host's. */
  readonly daemonNamespace: string | undefined;
  /** Every named namespace. */
  readonly namespaces: ReadonlySet<string>;
  /** The container namespaces named by the spec that exist, as read. */
  readonly containers: ReadonlyMap<string, NamespaceState>;
}

/** Lines and facts of one overlay for the plan (see dataplane-diff.ts for where each goes). */
export interface OverlayDiff {
  readonly namespace: string;
  /** The namespace does not exist: `ip netns add` in the registry stage. */
  readonly createNamespace: boolean;
  readonly deletions: readonly LinkDeletion[];
  /** Daemon-namespace `ip` lines: VXLAN devices created straight into the overlay namespace. */
  readonly daemonLines: readonly string[];
  /** The overlay namespace's `ip` batch (after any non-hoisted deletions). */
  readonly overlayLines: readonly string[];
  /** The overlay namespace's `bridge` batch. */
  readonly fdbLines: readonly string[];
  /** `key=value` sysctls to write in the overlay namespace. */
  readonly sysctls: readonly string[];
  /** Container namespace → `ip` lines for the endpoint interfaces in it. */
  readonly containerLines: ReadonlyMap<string, readonly string[]>;
  /** Container-side interfaces this pass creates (any existing link of that name must go first). */
  readonly claims: readonly InterfaceRef[];
  readonly errors: readonly string[];
}

function vxlanOk(link: LinkState | undefined, subnet: OverlaySubnetSpec, ctx: OverlayDiffContext, ns: NamespaceState): boolean {
  const v = link?.vxlan;
  if (link === undefined || link.kind !== 'vxlan' || v === undefined) {
    return false;
  }
  // The UDP socket must live in the daemon namespace (where the underlay is): such a device
  // reports the socket's namespace as IFLA_LINK_NETNSID; one created inside the overlay
  // namespace reports none and can never send.
  const socketId = link.linkNetnsId;
  let socketOk: boolean;
  if (socketId === undefined) {
    socketOk = false;
  } else if (ctx.daemonNamespace !== undefined) {
    socketOk = ns.netnsIds.get(ctx.daemonNamespace) === socketId;
  } else {
    socketOk = ![...ns.netnsIds.values()].includes(socketId);
  }
  return (
    socketOk &&
    v.vni === subnet.vni &&
    v.port === ctx.dataPathPort &&
    v.local === ctx.dataPathAddr &&
    v.learning === VXLAN_FLAGS.learning &&
    v.proxy === VXLAN_FLAGS.proxy &&
    v.l2miss === VXLAN_FLAGS.l2miss &&
    v.l3miss === VXLAN_FLAGS.l3miss
  );
}

function vxlanCreateLine(name: string, namespace: string, mtu: number, subnet: OverlaySubnetSpec, ctx: OverlayDiffContext): string {
  const flags = [
    VXLAN_FLAGS.learning ? 'learning' : 'nolearning',
    VXLAN_FLAGS.proxy ? 'proxy' : 'noproxy',
    VXLAN_FLAGS.l2miss ? 'l2miss' : 'nol2miss',
    VXLAN_FLAGS.l3miss ? 'l3miss' : 'nol3miss',
  ];
  return (
    `link add name ${name} netns ${namespace} mtu ${mtu} type vxlan id ${subnet.vni} ` +
    `dstport ${ctx.dataPathPort} local ${ctx.dataPathAddr} ${flags.join(' ')}`
  );
}

/** Desired routes of a local endpoint: the network's other subnets via the gateways. */
export function endpointRoutes(e: LocalEndpointSpec): DesiredRoute[] {
  const routes: DesiredRoute[] = [];
  for (const subnet of e.otherSubnets) {
    const v6 = subnet.includes(':');
    const gateway = v6 ? e.ipv6Gateway : e.gateway;
    if (gateway !== undefined) {
      routes.push({ dst: canonicalPrefix(subnet), gateway: canonicalIp(gateway) });
    }
  }
  return routes;
}

function canonicalCidr(cidr: string): string {
  const parsed = parseAddressWithPrefix(cidr);
  return parsed === undefined ? cidr : formatAddressWithPrefix(parsed);
}

/** Desired neighbour (IP → MAC) and FDB (MAC → VTEP) entries of one subnet; the first of duplicates wins. */
function remoteEntries(overlay: OverlaySpec, index: number): { neigh: Map<string, string>; fdb: Map<string, string> } {
  const neigh = new Map<string, string>();
  const fdb = new Map<string, string>();
  for (const r of overlay.remoteEndpoints) {
    if (r.subnetIndex !== index) {
      continue;
    }
    const mac = canonicalMac(r.mac);
    // Two endpoints may briefly share an IP or MAC during churn (docker's "transient
    // condition"); one mapping is programmed, deterministically, and the next pass converges.
    if (!fdb.has(mac)) {
      fdb.set(mac, canonicalIp(r.vtep));
    }
    // Unrolled (no per-entry array): this loop runs once per remote endpoint, 50k+ times a pass.
    if (r.ipv4 !== undefined) {
      const ip = canonicalIp(r.ipv4);
      if (!neigh.has(ip)) {
        neigh.set(ip, mac);
      }
    }
    if (r.ipv6 !== undefined) {
      const ip = canonicalIp(r.ipv6);
      if (!neigh.has(ip)) {
        neigh.set(ip, mac);
      }
    }
  }
  return { neigh, fdb };
}

function diffNeighbours(dev: string, want: ReadonlyMap<string, string>, ns: NamespaceState, fresh: boolean): string[] {
  const lines: string[] = [];
  const have = new Map<string, { lladdr: string | undefined; permanent: boolean }>();
  if (!fresh) {
    for (const n of ns.neighbours) {
      if (n.dev === dev) {
        have.set(n.ip, n);
      }
    }
  }
  for (const ip of have.keys()) {
    if (!want.has(ip)) {
      lines.push(`neigh del ${ip} dev ${dev}`);
    }
  }
  for (const [ip, mac] of want) {
    const h = have.get(ip);
    if (h === undefined || h.lladdr !== mac || !h.permanent) {
      // replace: creates or updates in one step, so a racing change cannot make it fail.
      lines.push(`neigh replace ${ip} lladdr ${mac} dev ${dev} nud permanent`);
    }
  }
  return lines;
}

function diffFdb(dev: string, want: ReadonlyMap<string, string>, ns: NamespaceState, fresh: boolean): string[] {
  const lines: string[] = [];
  const have = new Map<string, FdbState[]>();
  if (!fresh) {
    for (const f of ns.fdb) {
      // Only the device's own remote entries; the bridge's learnt `master` entries are not ours.
      if (f.dev === dev && f.self && f.master === undefined && f.dst !== undefined) {
        const list = have.get(f.mac);
        if (list === undefined) {
          have.set(f.mac, [f]);
        } else {
          list.push(f);
        }
      }
    }
  }
  for (const mac of have.keys()) {
    if (!want.has(mac)) {
      // Without `dst`, the whole entry goes, with every remote appended to it.
      lines.push(`fdb del ${mac} dev ${dev} self`);
    }
  }
  for (const [mac, vtep] of want) {
    const entries = have.get(mac) ?? [];
    const right = entries.find((e) => e.dst === vtep && e.permanent);
    for (const e of entries) {
      if (e !== right && entries.length > 1) {
        lines.push(`fdb del ${mac} dev ${dev} dst ${e.dst ?? ''} self`);
      }
    }
    if (right === undefined) {
      lines.push(`fdb replace ${mac} dev ${dev} dst ${vtep} self permanent`);
    }
  }
  return lines;
}

/**
 * Diffs one overlay.
 * @param observed the overlay namespace as read; undefined when it does not exist yet.
 */
export function diffOverlay(overlay: OverlaySpec, observed: NamespaceState | undefined, ctx: OverlayDiffContext): OverlayDiff {
  const ns = observed ?? EMPTY_NAMESPACE;
  const scope: CommandScope = netnsScope(overlay.namespace);
  const deletions: LinkDeletion[] = [];
  const daemonLines: string[] = [];
  const errors: string[] = [];
  const claims: InterfaceRef[] = [];
  const containerLines = new Map<string, string[]>();
  const mtu = overlay.mtu;

  // Sections of the overlay batch, concatenated at the end in dependency order.
  const bridgesNew: string[] = [];
  const ports: string[] = [];
  const bridgesUp: string[] = [];
  const neighLines: string[] = [];
  const fdbLines: string[] = [];

  const wanted = new Set<string>(['lo']);
  const deleteLink = (link: LinkState, hoist: boolean): void => {
    deletions.push({ scope, name: link.name, hoist, frees: vethPeerOf(link, ns, ctx.containers) });
  };

  for (const subnet of overlay.subnets) {
    const br = bridgeName(subnet.index);
    const vx = vxlanName(subnet.index);
    wanted.add(br).add(vx);

    const bridge = ns.links.get(br);
    const bridgeFresh = bridge === undefined || bridge.kind !== 'bridge';
    if (bridge !== undefined && bridgeFresh) {
      deleteLink(bridge, false);
    }
    if (bridgeFresh) {
      bridgesNew.push(`link add name ${br} mtu ${mtu} type bridge`);
      bridgesUp.push(`link set dev ${br} up`);
    } else if (bridge.mtu !== mtu || !bridge.up) {
      // After the ports: a bridge whose MTU the user never set follows its smallest port.
      bridgesUp.push(`link set dev ${br} mtu ${mtu} up`);
    }
    const gateways = [subnet.gatewayCidr, subnet.ipv6GatewayCidr]
      .filter((g): g is string => g !== undefined)
      .map(canonicalCidr);
    const haveAddrs = bridgeFresh
      ? []
      : bridge.addresses.filter((a) => !(a.family === 6 && a.scope === 'link')).map((a) => a.cidr);
    for (const cidr of haveAddrs) {
      if (!gateways.includes(cidr)) {
        bridgesUp.push(`addr del ${cidr} dev ${br}`);
      }
    }
    for (const cidr of gateways) {
      if (!haveAddrs.includes(cidr)) {
        bridgesUp.push(`addr replace ${cidr} dev ${br}${cidr.includes(':') ? ' nodad' : ''}`);
      }
    }

    const vxlan = ns.links.get(vx);
    const vxlanFresh = !vxlanOk(vxlan, subnet, ctx, ns);
    if (vxlanFresh) {
      if (vxlan !== undefined) {
        deleteLink(vxlan, true);
      }
      daemonLines.push(vxlanCreateLine(vx, overlay.namespace, mtu, subnet, ctx));
      ports.push(`link set dev ${vx} master ${br} up`);
    } else if (vxlan !== undefined && (vxlan.mtu !== mtu || vxlan.master !== br || !vxlan.up || bridgeFresh)) {
      ports.push(`link set dev ${vx} mtu ${mtu} master ${br} up`);
    }

    const remote = remoteEntries(overlay, subnet.index);
    append(neighLines, diffNeighbours(vx, remote.neigh, ns, vxlanFresh));
    append(fdbLines, diffFdb(vx, remote.fdb, ns, vxlanFresh));
  }

  for (const e of overlay.localEndpoints) {
    const ve = endpointVethName(e.endpointId);
    const br = bridgeName(e.subnetIndex);
    wanted.add(ve);
    const link = ns.links.get(ve);
    const container = ctx.containers.get(e.containerNamespace);
    if (container === undefined || !ctx.namespaces.has(e.containerNamespace)) {
      errors.push(`endpoint ${e.endpointId}: container namespace ${e.containerNamespace} does not exist`);
      continue;
    }
    const peer = container.links.get(e.ifName);
    const desired = {
      name: e.ifName,
      mtu,
      mac: canonicalMac(e.mac),
      addresses: [e.ipv4Cidr, e.ipv6Cidr].filter((a): a is string => a !== undefined).map(canonicalCidr),
      routes: endpointRoutes(e),
    };
    let lines: string[];
    if (link !== undefined && isVethPeer(link, ns, e.containerNamespace, peer)) {
      if (link.mtu !== mtu || link.master !== br || !link.up || isBridgeMissing(ns, br)) {
        ports.push(`link set dev ${ve} mtu ${mtu} master ${br} up`);
      }
      lines = diffOwnedInterface(desired, peer, container.routes);
    } else {
      if (link !== undefined) {
        deleteLink(link, false);
      }
      claims.push({ namespace: e.containerNamespace, name: e.ifName });
      ports.push(
        `link add name ${ve} mtu ${mtu} type veth peer name ${e.ifName} netns ${e.containerNamespace} ` +
          `mtu ${mtu} address ${desired.mac}`,
        `link set dev ${ve} master ${br} up`,
      );
      lines = diffOwnedInterface(desired, undefined, []);
    }
    if (lines.length > 0) {
      const list = containerLines.get(e.containerNamespace) ?? [];
      append(list, lines);
      containerLines.set(e.containerNamespace, list);
    }
  }

  for (const link of ns.links.values()) {
    if (!wanted.has(link.name)) {
      // A stray VXLAN device may hold a VNI the pass is about to take.
      deleteLink(link, link.kind === 'vxlan');
    }
  }

  // Routing between the network's subnets happens inside the overlay namespace, where
  // forwarding starts disabled like in any new namespace.
  const sysctls: string[] = [];
  if (overlay.subnets.length > 1 && ns.sysctls.get(FORWARDING_SYSCTL) !== '1') {
    sysctls.push(`${FORWARDING_SYSCTL}=1`);
  }

  return {
    namespace: overlay.namespace,
    createNamespace: observed === undefined,
    deletions,
    daemonLines,
    overlayLines: concatLines([bridgesNew, ports, bridgesUp, neighLines]),
    fdbLines,
    sysctls,
    containerLines,
    claims,
    errors,
  };
}

function isBridgeMissing(ns: NamespaceState, br: string): boolean {
  const bridge = ns.links.get(br);
  return bridge === undefined || bridge.kind !== 'bridge';
}
