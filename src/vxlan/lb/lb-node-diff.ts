/**
 * The LB part of a pass: spec + what {@link readLoadBalancing} found → one `nft -f -` script per
 * namespace that differs, the sysctls the LB needs, and what each written table will hold (for
 * the cache). Pure.
 */
import { FORWARDING_SYSCTL } from '../overlay-diff.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { lbTableKey } from './lb-cache.js';
import type { LbTableCache } from './lb-cache.js';
import { basisOf, deltaOf, diffLbDelta } from './lb-delta.js';
import type { FrontendCopies, LbBasis, LbDelta } from './lb-delta.js';
import { diffLbTable } from './lb-diff.js';
import { LB_TABLE, PUBLISH_TABLE, routeLocalnetSysctl } from './lb-names.js';
import type { ObservedLoadBalancing } from './lb-reader.js';
import { lbNamespacesOf } from './lb-reader.js';
import type { LbNamespaceSpec } from './lb-spec.js';
import type { LbTableState } from './lb-state.js';
import { desiredLbTable, desiredPublishTable, stateAfter } from './lb-table.js';
import type { BackendMemo, DesiredLbTable } from './lb-table.js';

/** One table's transaction. */
export interface LbTableWrite {
  /** Namespace label ("" = the daemon's). */
  readonly namespace: string;
  readonly table: string;
  /** `nft -f -` statements, one transaction. */
  readonly lines: readonly string[];
  /** The table once the transaction commits (undefined: deleted). */
  readonly after: LbTableState | undefined;
  /** The spec `after` is the desired table of, for the next pass's delta (lb-delta.ts). */
  readonly basis?: LbBasis;
  /**
   * The transaction starts by deleting the remembered stamp (the stamp was not listed this pass):
   * if it fails, the table was not what the cache said, and the driver passes again at once.
   */
  readonly compareAndSwap?: boolean;
}

/** A table left as it is whose basis changed (e.g. a backend list reordered): for the cache. */
export interface LbRebase {
  readonly namespace: string;
  readonly table: string;
  /** The table as read this pass. */
  readonly state: LbTableState;
  readonly basis: LbBasis;
}

/** Result of {@link diffLoadBalancing}. */
export interface LbDiff {
  readonly writes: readonly LbTableWrite[];
  readonly rebases: readonly LbRebase[];
  /** `key=value` sysctls per namespace label, to apply once the interfaces they name exist. */
  readonly sysctls: ReadonlyMap<string, readonly string[]>;
  readonly errors: readonly string[];
}

/**
 * The desired tables of a spec, computed before the kernel is read (see {@link prepareLoadBalancing}).
 */
export interface PreparedLoadBalancing {
  readonly publish: DesiredLbTable | undefined;
  /** The desired `ip vxmesh_lb` table of a namespace of the LB section (computed on first use). */
  table(namespace: string): DesiredLbTable | undefined;
  /** The basis of a namespace of the LB section (computed on first use; lb-delta.ts). */
  basis(namespace: string): LbBasis | undefined;
  /**
   * Deltas against the cache's bases, for the namespaces whose entry has one: usable when the
   * read serves exactly `state` (the remembered table the basis describes). `write`: the
   * compare-and-swap transaction of a trusted namespace.
   */
  readonly deltas: ReadonlyMap<
    string,
    {
      readonly delta: LbDelta;
      readonly state: LbTableState;
      readonly write?: { readonly lines: readonly string[]; readonly after: LbTableState };
    }
  >;
  /**
   * Namespaces this pass writes with a compare-and-swap on the stamp (lb-delta.ts), so the read
   * need not list their stamp: a delta against a cache entry the pass may serve, with statements
   * to apply, and exactly one stamp in the remembered table.
   */
  readonly trusted: ReadonlySet<string>;
}

/**
 * What the LB section of `spec` wants. Depends on the spec (and the cache's bases) only, so the
 * driver computes it while the kernel reads are running. A namespace whose cache entry has a basis
 * gets a delta (cheap: the frontends are compared with the basis position by position); the
 * others get their whole desired table now (the heavy part with thousands of services). A desired
 * table not computed here is computed on first use, should the read not serve the remembered one.
 */
export function prepareLoadBalancing(spec: NodeDataplaneSpec, cache?: LbTableCache, stamp = 0): PreparedLoadBalancing {
  const lb = spec.loadBalancing;
  const specs = new Map<string, LbNamespaceSpec>(lb?.namespaces.map((n) => [n.namespace, n]) ?? []);
  // Containers on one network share frontend objects: each is sorted and copied once.
  const memo: BackendMemo = new WeakMap();
  const copies: FrontendCopies = new WeakMap();
  const tables = new Map<string, DesiredLbTable>();
  const bases = new Map<string, LbBasis | undefined>();
  const deltas = new Map<
    string,
    { delta: LbDelta; state: LbTableState; write?: { lines: readonly string[]; after: LbTableState } }
  >();
  const trusted = new Set<string>();
  const table = (namespace: string): DesiredLbTable | undefined => {
    let desired = tables.get(namespace);
    const ns = specs.get(namespace);
    if (desired === undefined && ns !== undefined) {
      desired = desiredLbTable(ns, memo);
      tables.set(namespace, desired);
    }
    return desired;
  };
  const basis = (namespace: string): LbBasis | undefined => {
    const ns = specs.get(namespace);
    if (!bases.has(namespace) && ns !== undefined) {
      bases.set(namespace, basisOf(ns, copies));
    }
    return bases.get(namespace);
  };
  for (const ns of specs.values()) {
    const key = lbTableKey(ns.namespace, LB_TABLE);
    const entry = cache?.get(key);
    const delta = entry?.basis === undefined ? undefined : deltaOf(entry.basis, ns, memo, copies);
    if (delta !== undefined && entry?.state !== undefined) {
      const state = entry.state;
      const write =
        delta.changes.size > 0 && state.stamps.length === 1 && cache?.mayServe(key) === true
          ? diffLbDelta(LB_TABLE, delta, state, stamp, true)
          : undefined;
      if (write !== undefined && write.lines.length > 0) {
        trusted.add(ns.namespace);
        deltas.set(ns.namespace, { delta, state, write });
      } else {
        deltas.set(ns.namespace, { delta, state });
      }
    } else {
      table(ns.namespace);
    }
  }
  const sandbox = lb?.ingressSandbox;
  const split =
    sandbox?.localBackends === undefined || sandbox.localBackends.length === 0
      ? undefined
      : {
          sandboxAddr: sandbox.egressAddr,
          frontends: table(sandbox.namespace)?.frontends ?? new Map<string, readonly string[]>(),
          local: new Map(sandbox.localBackends.map((b) => [b.addr, b.egressAddr])),
        };
  return {
    publish: lb === undefined ? undefined : desiredPublishTable(lb.publishedPorts, spec.egress?.bridge, split),
    table,
    basis,
    deltas,
    trusted,
  };
}

/** Diffs the LB section of `spec`; `stamp` marks every table written by this pass. */
export function diffLoadBalancing(
  spec: NodeDataplaneSpec,
  observed: ObservedLoadBalancing,
  stamp: number,
  prepared: PreparedLoadBalancing = prepareLoadBalancing(spec),
): LbDiff {
  const writes: LbTableWrite[] = [];
  const rebases: LbRebase[] = [];
  const sysctls = new Map<string, string[]>();
  const errors: string[] = [];
  const lb = spec.loadBalancing;
  if (lb === undefined) {
    return { writes, rebases, sysctls, errors };
  }
  const addSysctl = (ns: string, kv: string): void => {
    sysctls.set(ns, [...(sysctls.get(ns) ?? []), kv]);
  };

  // Daemon namespace: published ports.
  if (!observed.unknown.has('') && observed.tables.has('')) {
    const desired = prepared.publish;
    const lines = diffLbTable(PUBLISH_TABLE, desired, observed.tables.get(''), stamp);
    if (lines.length > 0) {
      writes.push({
        namespace: '',
        table: PUBLISH_TABLE,
        lines,
        after: desired === undefined ? undefined : stateAfter(desired, stamp),
      });
    }
    if (desired !== undefined && spec.egress !== undefined) {
      const key = routeLocalnetSysctl(spec.egress.bridge);
      if (observed.sysctls.get('')?.get(key) !== '1') {
        addSysctl('', `${key}=1`);
      }
    }
  }

  // Every namespace the driver owns a table in.
  const wanted = new Map(lb.namespaces.map((n) => [n.namespace, n]));
  for (const ns of lbNamespacesOf(spec)) {
    if (observed.unknown.has(ns)) {
      continue;
    }
    if (!observed.tables.has(ns)) {
      if (wanted.has(ns)) {
        errors.push(`load balancing: namespace ${ns} does not exist`);
      }
      continue;
    }
    const nsSpec = wanted.get(ns);
    const have = observed.tables.get(ns);
    const delta = prepared.deltas.get(ns);
    if (delta !== undefined && have !== undefined && have === delta.state) {
      // The table is what the basis left: only the frontends changed since are diffed. A trusted
      // table was not listed: its transaction checks the stamp (computed before the read).
      const { lines, after } = delta.write ?? diffLbDelta(LB_TABLE, delta.delta, have, stamp);
      if (lines.length > 0) {
        writes.push({
          namespace: ns,
          table: LB_TABLE,
          lines,
          after,
          basis: delta.delta.next,
          ...(delta.write === undefined ? {} : { compareAndSwap: true }),
        });
      } else if (delta.delta.next !== delta.delta.from) {
        rebases.push({ namespace: ns, table: LB_TABLE, state: have, basis: delta.delta.next });
      }
    } else {
      const desired = prepared.table(ns);
      const lines = diffLbTable(LB_TABLE, desired, have, stamp);
      const basis = desired === undefined ? undefined : prepared.basis(ns);
      if (lines.length > 0) {
        writes.push({
          namespace: ns,
          table: LB_TABLE,
          lines,
          after: desired === undefined ? undefined : stateAfter(desired, stamp),
          ...(basis === undefined ? {} : { basis }),
        });
      } else if (basis !== undefined && have !== undefined) {
        rebases.push({ namespace: ns, table: LB_TABLE, state: have, basis });
      }
    }
    if (nsSpec?.masqueradeOut !== undefined && observed.sysctls.get(ns)?.get(FORWARDING_SYSCTL) !== '1') {
      addSysctl(ns, `${FORWARDING_SYSCTL}=1`);
    }
  }
  return { writes, rebases, sysctls, errors };
}
