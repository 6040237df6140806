/**
 * The LB part of a pass: spec + what {@link readLoadBalancing} found → one `nft -f -` script per
 * namespace that differs, the sysctls the LB needs, and what each written table will hold (for
 * the cache). Pure.
 */
import { FORWARDING_SYSCTL } from '../overlay-diff.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { diffLbTable } from './lb-diff.js';
import { LB_TABLE, PUBLISH_TABLE, routeLocalnetSysctl } from './lb-names.js';
import type { ObservedLoadBalancing } from './lb-reader.js';
import { lbNamespacesOf } from './lb-reader.js';
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
}

/** Result of {@link diffLoadBalancing}. */
export interface LbDiff {
  readonly writes: readonly LbTableWrite[];
  /** `key=value` sysctls per namespace label, to apply once the interfaces they name exist. */
  readonly sysctls: ReadonlyMap<string, readonly string[]>;
  readonly errors: readonly string[];
}

/** The desired tables of a spec, computed before the kernel is read (see {@link prepareLoadBalancing}). */
export interface PreparedLoadBalancing {
  readonly publish: DesiredLbTable | undefined;
  readonly tables: ReadonlyMap<string, DesiredLbTable>;
}

/**
 * The desired tables of `spec`'s LB section. Depends on the spec only, so the driver computes it
 * while the kernel reads are running (the heavy part with thousands of services).
 */
export function prepareLoadBalancing(spec: NodeDataplaneSpec): PreparedLoadBalancing {
  const lb = spec.loadBalancing;
  const tables = new Map<string, DesiredLbTable>();
  if (lb === undefined) {
    return { publish: undefined, tables };
  }
  // Containers on one network share frontend objects: each is sorted once.
  const memo: BackendMemo = new WeakMap();
  for (const ns of lb.namespaces) {
    tables.set(ns.namespace, desiredLbTable(ns, memo));
  }
  return { publish: desiredPublishTable(lb.publishedPorts, spec.egress?.bridge), tables };
}

/** Diffs the LB section of `spec`; `stamp` marks every table written by this pass. */
export function diffLoadBalancing(
  spec: NodeDataplaneSpec,
  observed: ObservedLoadBalancing,
  stamp: number,
  prepared: PreparedLoadBalancing = prepareLoadBalancing(spec),
): LbDiff {
  const writes: LbTableWrite[] = [];
  const sysctls = new Map<string, string[]>();
  const errors: string[] = [];
  const lb = spec.loadBalancing;
  if (lb === undefined) {
    return { writes, sysctls, errors };
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
    const desired = prepared.tables.get(ns);
    const lines = diffLbTable(LB_TABLE, desired, observed.tables.get(ns), stamp);
    if (lines.length > 0) {
      writes.push({
        namespace: ns,
        table: LB_TABLE,
        lines,
        after: desired === undefined ? undefined : stateAfter(desired, stamp),
      });
    }
    if (nsSpec?.masqueradeOut !== undefined && observed.sysctls.get(ns)?.get(FORWARDING_SYSCTL) !== '1') {
      addSysctl(ns, `${FORWARDING_SYSCTL}=1`);
    }
  }
  return { writes, sysctls, errors };
}
