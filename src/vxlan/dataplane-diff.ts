/**
 * The whole-node diff: spec + observation → plan. Pure. Combines the per-overlay, egress and nft
 * diffs, removes stale overlay namespaces, and orders link deletions: a deletion is hoisted to the
 * `teardown` stage only when a creation of the same pass depends on it (a VXLAN device's VNI, a
 * container-side interface name), otherwise it opens its own namespace's batch. So a pass issues
 * one `ip` batch per namespace, plus a teardown batch only in those rare cases.
 */
import { DAEMON_SCOPE, REGISTRY_SCOPE, netnsScope, scopeLabel } from './command-runner.js';
import type { CommandScope } from './command-runner.js';
import { overlayNamespacePrefix } from './dataplane-names.js';
import { PlanBuilder } from './dataplane-plan.js';
import type { DataplanePlan } from './dataplane-plan.js';
import type { NodeDataplaneSpec } from './dataplane-spec.js';
import { BRIDGE_NF_CALL_IPTABLES_SYSCTL, diffEgress } from './egress-diff.js';
import { canonicalIp } from './ip-text.js';
import type { ObservedDataplane } from './kernel-state.js';
import { interfaceKey, vethPeerOf } from './link-deletion.js';
import type { InterfaceRef, LinkDeletion } from './link-deletion.js';
import { diffLoadBalancing } from './lb/lb-node-diff.js';
import type { LbRebase, LbTableWrite, PreparedLoadBalancing } from './lb/lb-node-diff.js';
import type { ObservedLoadBalancing } from './lb/lb-reader.js';
import { desiredNftTable, diffNftTable } from './nft-diff.js';
import { diffOverlay } from './overlay-diff.js';
import type { OverlayDiff } from './overlay-diff.js';
import { planIpsec } from './ipsec/ipsec-diff.js';
import type { ObservedIpsec } from './ipsec/ipsec-reader.js';

/** Facts about the observation that are not kernel state. */
export interface DiffOptions {
  /** Name of the daemon namespace when it is a named one (tests). */
  readonly daemonNamespace?: string;
  /** Namespaces that exist but could not be read this pass: left alone. */
  readonly unreadable?: ReadonlySet<string>;
  /**
   * Unreadable overlay namespaces whose registry entry is not a namespace (a killed
   * `ip netns add`): deleted and, when in the spec, created again.
   */
  readonly broken?: ReadonlySet<string>;
  /** The nft table could not be read: no nft changes this pass. */
  readonly nftUnknown?: boolean;
  /** The LB tables as read; without it the LB section of the spec is not diffed. */
  readonly lb?: ObservedLoadBalancing;
  /** Stamp written into every LB table this pass changes (lb/lb-cache.ts); default 0. */
  readonly lbStamp?: number;
  /** The spec's desired LB tables when already computed (while the kernel was being read). */
  readonly lbPrepared?: PreparedLoadBalancing;
  /** The IPsec state as read (spec with an encryption section); see ipsec/ipsec-diff.ts. */
  readonly ipsec?: ObservedIpsec;
}

/** The plan and the problems found while diffing (missing container namespaces, foreign links). */
export interface DiffResult {
  readonly plan: DataplanePlan;
  readonly errors: readonly string[];
  /** The LB transactions of the plan (stage `lb`, tool nft, one per namespace), for the LB cache. */
  readonly lbWrites: readonly LbTableWrite[];
  /** LB tables left as they are whose basis changed (lb/lb-delta.ts), for the LB cache. */
  readonly lbRebases: readonly LbRebase[];
  /** Encrypted overlays (network IDs) this plan does not build: their encryption is not enforced yet. */
  readonly heldBack?: readonly string[];
}

function deleteLine(name: string): string {
  return `link del dev ${name}`;
}

/** Computes the plan that makes `observed` match `spec`. The spec must be valid. */
export function diffDataplane(spec: NodeDataplaneSpec, observed: ObservedDataplane, options: DiffOptions = {}): DiffResult {
  const broken = options.broken ?? new Set<string>();
  const unreadable = new Set([...(options.unreadable ?? [])].filter((n) => !broken.has(n)));
  const errors: string[] = [];
  // Encrypted overlays exist only while the kernel enforces their encryption (fail closed):
  // those it does not yet are left out (built by the next pass), unknown ones left as they are.
  const ipsec = planIpsec(spec, options.ipsec);
  errors.push(...ipsec.errors);
  const heldBack = new Set(ipsec.heldBack);
  const overlays = spec.overlays.filter((o) => !heldBack.has(o.networkId));
  for (const o of spec.overlays) {
    if (ipsec.leftAlone.includes(o.networkId)) {
      unreadable.add(o.namespace);
    }
  }
  const builder = new PlanBuilder();
  const ctx = {
    dataPathAddr: canonicalIp(spec.dataPathAddr),
    dataPathPort: spec.dataPathPort,
    daemonNamespace: options.daemonNamespace,
    namespaces: observed.namespaces,
    containers: observed.containers,
  };

  // Per overlay in the spec.
  const diffs: OverlayDiff[] = [];
  for (const overlay of overlays) {
    if (unreadable.has(overlay.namespace)) {
      errors.push(`overlay ${overlay.networkId}: namespace ${overlay.namespace} could not be read; left as is`);
      continue;
    }
    const d = diffOverlay(overlay, observed.overlays.get(overlay.namespace), ctx);
    diffs.push(d);
    errors.push(...d.errors);
  }

  // Stale overlay namespaces: every link goes (synchronously, so VNIs and container-side names
  // are free at once), then the namespace.
  const inSpec = new Set(overlays.map((o) => o.namespace));
  const ours = overlayNamespacePrefix(spec.namespacePrefix);
  const deletions: LinkDeletion[] = [];
  const staleNamespaces: string[] = [];
  for (const name of [...observed.namespaces].sort()) {
    if (!name.startsWith(ours) || inSpec.has(name)) {
      continue;
    }
    staleNamespaces.push(name);
    const state = observed.overlays.get(name);
    for (const link of state?.links.values() ?? []) {
      if (link.name !== 'lo') {
        deletions.push({
          scope: netnsScope(name),
          name: link.name,
          hoist: true,
          frees: vethPeerOf(link, state ?? observed.daemon, observed.containers),
        });
      }
    }
  }

  // With br_netfilter on, a hairpin connection DNATed to the ingress sandbox is bridged straight
  // from the client's isolated port to the sandbox's (lb/README.md, "Hairpin"), so that one port
  // must not be isolated. Without it the port stays isolated: traffic to the sandbox is routed
  // through this namespace, and an open port would let containers use the sandbox as a router
  // into the ingress network, unfiltered at layer 2.
  const sandbox = spec.loadBalancing?.ingressSandbox?.namespace;
  const bridgedDnat = observed.daemon.sysctls.get(BRIDGE_NF_CALL_IPTABLES_SYSCTL) === '1';
  const egress = diffEgress(spec.egress, observed.daemon, {
    namespacePrefix: spec.namespacePrefix,
    namespaces: observed.namespaces,
    containers: observed.containers,
    ...(sandbox !== undefined && bridgedDnat ? { unisolatedNamespaces: new Set([sandbox]) } : {}),
  });
  errors.push(...egress.errors);

  for (const d of diffs) {
    deletions.push(...d.deletions);
  }
  deletions.push(...egress.deletions);

  // Container-side names created in this pass must be free before the teardown stage ends:
  // either a deleted veth takes its peer along (hoist that deletion), or the link is deleted
  // explicitly.
  const claims: InterfaceRef[] = [...diffs.flatMap((d) => d.claims), ...egress.claims];
  const hoisted = new Set<LinkDeletion>(deletions.filter((d) => d.hoist));
  const freedBy = new Map<string, LinkDeletion>();
  for (const d of deletions) {
    if (d.frees !== undefined) {
      freedBy.set(interfaceKey(d.frees), d);
    }
  }
  const explicit: InterfaceRef[] = [];
  for (const claim of claims) {
    if (observed.containers.get(claim.namespace)?.links.has(claim.name) !== true) {
      continue;
    }
    const by = freedBy.get(interfaceKey(claim));
    if (by === undefined) {
      explicit.push(claim);
    } else {
      hoisted.add(by);
    }
  }

  // teardown
  for (const d of deletions) {
    if (hoisted.has(d)) {
      builder.add('teardown', 'ip', d.scope, [deleteLine(d.name)]);
    }
  }
  for (const c of explicit) {
    builder.add('teardown', 'ip', netnsScope(c.namespace), [deleteLine(c.name)]);
  }

  // registry: deletions first, so a broken entry of a spec overlay can be created again.
  const brokenInSpec = [...broken].filter((n) => inSpec.has(n)).sort();
  builder.add('registry', 'ip', REGISTRY_SCOPE, [...staleNamespaces, ...brokenInSpec].map((n) => `netns del ${n}`));
  builder.add(
    'registry',
    'ip',
    REGISTRY_SCOPE,
    diffs.filter((d) => d.createNamespace).map((d) => `netns add ${d.namespace}`),
  );

  // Non-hoisted deletions open the batch of their namespace's own stage.
  const laterDeletions = (scope: CommandScope): string[] =>
    deletions
      .filter((d) => !hoisted.has(d) && d.scope.kind === scope.kind && scopeLabel(d.scope) === scopeLabel(scope))
      .map((d) => deleteLine(d.name));

  // daemon
  builder.add('daemon', 'ip', DAEMON_SCOPE, laterDeletions(DAEMON_SCOPE));
  for (const d of diffs) {
    builder.add('daemon', 'ip', DAEMON_SCOPE, d.daemonLines);
  }
  builder.add('daemon', 'ip', DAEMON_SCOPE, egress.daemonLines);
  builder.add('daemon', 'sysctl', DAEMON_SCOPE, egress.sysctls);
  if (options.nftUnknown === true) {
    errors.push('nft table could not be read; guard and NAT left as is');
  } else {
    const nftInputs = {
      dataPathPort: spec.dataPathPort,
      memberVteps: spec.memberVteps,
      ...(spec.egress === undefined ? {} : { egress: spec.egress }),
    };
    builder.add('daemon', 'nft', DAEMON_SCOPE, diffNftTable(desiredNftTable(nftInputs), observed.nft));
  }

  // overlay
  for (const d of diffs) {
    const scope = netnsScope(d.namespace);
    builder.add('overlay', 'ip', scope, laterDeletions(scope));
    builder.add('overlay', 'ip', scope, d.overlayLines);
    builder.add('overlay', 'bridge', scope, d.fdbLines);
    builder.add('overlay', 'sysctl', scope, d.sysctls);
  }

  // container
  for (const source of [...diffs.map((d) => d.containerLines), egress.containerLines]) {
    for (const [ns, lines] of source) {
      builder.add('container', 'ip', netnsScope(ns), lines);
    }
  }

  // lb
  let lbWrites: readonly LbTableWrite[] = [];
  let lbRebases: readonly LbRebase[] = [];
  if (options.lb !== undefined) {
    const lb = diffLoadBalancing(spec, options.lb, options.lbStamp ?? 0, options.lbPrepared);
    errors.push(...lb.errors);
    lbWrites = lb.writes;
    lbRebases = lb.rebases;
    const scopeOf = (label: string): CommandScope => (label === '' ? DAEMON_SCOPE : netnsScope(label));
    for (const write of lb.writes) {
      builder.add('lb', 'nft', scopeOf(write.namespace), write.lines);
    }
    for (const [label, kvs] of lb.sysctls) {
      builder.add('lb', 'sysctl', scopeOf(label), kvs);
    }
  }

  builder.add('ipsec', 'ip', DAEMON_SCOPE, ipsec.xfrmLines);
  builder.add('ipsec', 'nft', DAEMON_SCOPE, ipsec.nftLines);

  return { plan: builder.build(), errors, lbWrites, lbRebases, ...(heldBack.size === 0 ? {} : { heldBack: [...heldBack] }) };
}
