/**
 * Diff of the docker_gwbridge-like egress (REFERENCE §3.6): a bridge in the daemon namespace with
 * the gateway address, one isolated port per container (a veth whose other end is the
 * container's egress interface), IPv4 forwarding on. NAT and the inter-container drop are nft
 * rules (nft-diff.ts). Links the driver created in the daemon namespace carry its owner alias;
 * only those are ever deleted there.
 */
import { DAEMON_SCOPE } from './command-runner.js';
import { egressVethName, ownerAlias } from './dataplane-names.js';
import type { EgressSpec } from './dataplane-spec.js';
import { diffOwnedInterface } from './interface-diff.js';
import { formatAddressWithPrefix, parseAddressWithPrefix } from './ip-text.js';
import type { LinkState, NamespaceState } from './kernel-state.js';
import { isVethPeer, vethPeerOf } from './link-deletion.js';
import type { InterfaceRef, LinkDeletion } from './link-deletion.js';
import { append } from './lines.js';
import { FORWARDING_SYSCTL } from './overlay-diff.js';

/**
 * Whether bridged IPv4 frames go through the IPv4 netfilter hooks (br_netfilter loaded and on).
 * Then a DNAT on a packet from a bridge port to an address behind another port of the same
 * bridge is short-cut at layer 2 from the one port to the other, so port isolation applies to it.
 * Missing when br_netfilter is not loaded, which reads as off.
 */
export const BRIDGE_NF_CALL_IPTABLES_SYSCTL = 'net.bridge.bridge-nf-call-iptables';

/** docker_gwbridge's MTU when the spec sets none. */
export const DEFAULT_EGRESS_MTU = 1500;

/** Lines and facts of the egress for the plan (see dataplane-diff.ts). */
export interface EgressDiff {
  readonly deletions: readonly LinkDeletion[];
  /** The daemon namespace's `ip` lines (after any non-hoisted deletions). */
  readonly daemonLines: readonly string[];
  /** `key=value` sysctls for the daemon namespace. */
  readonly sysctls: readonly string[];
  readonly containerLines: ReadonlyMap<string, readonly string[]>;
  readonly claims: readonly InterfaceRef[];
  readonly errors: readonly string[];
}

/** What the egress diff needs beyond the spec. */
export interface EgressDiffContext {
  readonly namespacePrefix: string;
  readonly namespaces: ReadonlySet<string>;
  readonly containers: ReadonlyMap<string, NamespaceState>;
  /**
   * Container namespaces whose bridge port is not isolated: the ingress sandbox (vxmesh's own,
   * trusted) when br_netfilter is on, so that the short-cut of a hairpin DNAT from a container's
   * isolated port can reach it (dataplane-diff.ts). Every other port is isolated.
   */
  readonly unisolatedNamespaces?: ReadonlySet<string>;
}

/**
 * Diffs the egress bridge and its attachments against the daemon namespace.
 * With `egress` undefined, every link carrying the owner alias is deleted.
 */
export function diffEgress(egress: EgressSpec | undefined, daemon: NamespaceState, ctx: EgressDiffContext): EgressDiff {
  const alias = ownerAlias(ctx.namespacePrefix);
  const deletions: LinkDeletion[] = [];
  const lines: string[] = [];
  const ports: string[] = [];
  const sysctls: string[] = [];
  const errors: string[] = [];
  const claims: InterfaceRef[] = [];
  const containerLines = new Map<string, string[]>();
  const wanted = new Set<string>();
  const deleteLink = (link: LinkState): void => {
    deletions.push({ scope: DAEMON_SCOPE, name: link.name, hoist: false, frees: vethPeerOf(link, daemon, ctx.containers) });
  };

  const bridge = egress === undefined ? undefined : daemon.links.get(egress.bridge);
  if (egress !== undefined && bridge !== undefined && bridge.kind !== 'bridge') {
    errors.push(`egress: ${egress.bridge} exists and is not a bridge; egress left unconfigured`);
  } else if (egress !== undefined) {
    const br = egress.bridge;
    const mtu = egress.mtu ?? DEFAULT_EGRESS_MTU;
    const gateway = parseAddressWithPrefix(egress.gatewayCidr);
    const gatewayCidr = gateway === undefined ? egress.gatewayCidr : formatAddressWithPrefix(gateway);
    wanted.add(br);
    if (bridge === undefined) {
      lines.push(`link add name ${br} mtu ${mtu} type bridge`, `link set dev ${br} alias ${alias} up`);
    } else if (bridge.mtu !== mtu || !bridge.up || bridge.alias !== alias) {
      // A bridge of that name without the alias is adopted: the spec names it as ours.
      lines.push(`link set dev ${br} mtu ${mtu} alias ${alias} up`);
    }
    const have = (bridge?.addresses ?? []).filter((a) => !(a.family === 6 && a.scope === 'link')).map((a) => a.cidr);
    for (const cidr of have) {
      if (cidr !== gatewayCidr) {
        lines.push(`addr del ${cidr} dev ${br}`);
      }
    }
    if (!have.includes(gatewayCidr)) {
      lines.push(`addr replace ${gatewayCidr} dev ${br}`);
    }

    for (const a of egress.attachments) {
      const gw = egressVethName(a.containerId);
      wanted.add(gw);
      const container = ctx.containers.get(a.containerNamespace);
      if (container === undefined || !ctx.namespaces.has(a.containerNamespace)) {
        errors.push(`egress of ${a.containerId}: container namespace ${a.containerNamespace} does not exist`);
        continue;
      }
      const link = daemon.links.get(gw);
      const isolated = ctx.unisolatedNamespaces?.has(a.containerNamespace) !== true;
      const peer = container.links.get(a.ifName);
      const desired = {
        name: a.ifName,
        mtu,
        addresses: [a.ipv4Cidr].map((c) => {
          const p = parseAddressWithPrefix(c);
          return p === undefined ? c : formatAddressWithPrefix(p);
        }),
        routes: a.defaultRoute && gateway !== undefined ? [{ dst: 'default', gateway: gateway.address }] : [],
      };
      let ifLines: string[];
      if (link !== undefined && isVethPeer(link, daemon, a.containerNamespace, peer)) {
        if (link.mtu !== mtu || link.master !== br || !link.up || link.alias !== alias || bridge === undefined) {
          ports.push(`link set dev ${gw} mtu ${mtu} master ${br} alias ${alias} up`);
        }
        if (link.isolated !== isolated || bridge === undefined) {
          ports.push(`link set dev ${gw} type bridge_slave isolated ${isolated ? 'on' : 'off'}`);
        }
        ifLines = diffOwnedInterface(desired, peer, container.routes);
      } else {
        if (link !== undefined) {
          deleteLink(link);
        }
        claims.push({ namespace: a.containerNamespace, name: a.ifName });
        ports.push(
          `link add name ${gw} mtu ${mtu} type veth peer name ${a.ifName} netns ${a.containerNamespace} mtu ${mtu}`,
          `link set dev ${gw} master ${br} alias ${alias} up`,
        );
        if (isolated) {
          // Isolated ports cannot talk to each other, only to the bridge itself (the gateway):
          // docker_gwbridge's enable_icc=false at layer 2. Routed attempts are dropped by nft.
          ports.push(`link set dev ${gw} type bridge_slave isolated on`);
        }
        ifLines = diffOwnedInterface(desired, undefined, []);
      }
      if (ifLines.length > 0) {
        const list = containerLines.get(a.containerNamespace) ?? [];
        append(list, ifLines);
        containerLines.set(a.containerNamespace, list);
      }
    }
    if (daemon.sysctls.get(FORWARDING_SYSCTL) !== '1') {
      sysctls.push(`${FORWARDING_SYSCTL}=1`);
    }
  }

  for (const link of daemon.links.values()) {
    if (link.alias === alias && !wanted.has(link.name)) {
      deleteLink(link);
    }
  }
  append(lines, ports);
  return { deletions, daemonLines: lines, sysctls, containerLines, claims, errors };
}
