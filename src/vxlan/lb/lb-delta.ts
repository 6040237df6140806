/**
 * The incremental diff of a namespace's `ip vxmesh_lb` table: what changed in the spec since the
 * pass that left the table as the cache remembers it, and the statements for those frontends only.
 * Pure.
 *
 * Why: with 10,000 frontends, building the whole desired table (10,000 keys, 30,000 backend
 * texts) and comparing it key by key with the remembered one takes 15-30 ms of JavaScript per
 * pass on a loaded 2-CPU node, against a few ms of kernel work to move one backend. The spec of
 * the previous pass (its *basis*: a private copy, kept with the cache entry) is compared with the
 * new one position by position instead, which allocates nothing for unchanged frontends; only the
 * frontends that differ are turned into keys and diffed against the remembered table.
 *
 * The delta is used only when the table is exactly what that basis produced: the pass served the
 * remembered state (same stamp as written, lb-cache.ts), the hook and masquerade are the same, the
 * spec has as many frontends, and no frontend key appears twice. Anything else, including the
 * periodic full read, goes through the full diff (lb-diff.ts), which then sets a new basis.
 */
import { BACKENDS_MAP, FRONTENDS_SET, LB_SLOTS, STAMP_SET } from './lb-names.js';
import type { LbFrontendSpec, LbHook, LbNamespaceSpec } from './lb-spec.js';
import { frontendKey } from './lb-state.js';
import type { LbTableState } from './lb-state.js';
import { backendTexts, elementLine, tableRef } from './lb-table.js';
import type { BackendMemo } from './lb-table.js';

/** The spec a remembered table was computed from. Never mutated once built. */
export interface LbBasis {
  readonly hook: LbHook;
  readonly masqueradeOut: string | undefined;
  /** Private copies of the frontends, in spec order (the caller's objects may change later). */
  readonly frontends: readonly LbFrontendSpec[];
  /** Frontend key → its position in `frontends` (keys are distinct in a basis). */
  readonly positions: ReadonlyMap<string, number>;
}

/** What changed between a basis and a namespace's spec. */
export interface LbDelta {
  /** The basis this was computed against. */
  readonly from: LbBasis;
  /** The basis after this pass (`from` itself when nothing changed). */
  readonly next: LbBasis;
  /**
   * Affected frontend keys → their backends now (`addr . port`, as the full diff orders them);
   * undefined: no frontend with that key is wanted any more (removed, or no serving backend).
   */
  readonly changes: ReadonlyMap<string, readonly string[] | undefined>;
}

/** Private copies of spec frontends, shared by the namespaces of one pass (one per spec object). */
export type FrontendCopies = WeakMap<LbFrontendSpec, LbFrontendSpec>;

function copyOf(f: LbFrontendSpec, copies: FrontendCopies): LbFrontendSpec {
  let copy = copies.get(f);
  if (copy === undefined) {
    copy = {
      addr: f.addr,
      protocol: f.protocol,
      port: f.port,
      backends: f.backends.map((b) => ({ addr: b.addr, port: b.port })),
    };
    copies.set(f, copy);
  }
  return copy;
}

function sameFrontend(a: LbFrontendSpec, b: LbFrontendSpec): boolean {
  if (a.addr !== b.addr || a.port !== b.port || a.protocol !== b.protocol || a.backends.length !== b.backends.length) {
    return false;
  }
  for (let i = 0; i < a.backends.length; i++) {
    const x = a.backends[i];
    const y = b.backends[i];
    if (x === undefined || y === undefined || x.addr !== y.addr || x.port !== y.port) {
      return false;
    }
  }
  return true;
}

const keyOf = (f: LbFrontendSpec): string => frontendKey(f.addr, f.protocol, f.port);

/** The basis of a namespace's spec; undefined when two frontends share a key (no delta then). */
export function basisOf(ns: LbNamespaceSpec, copies: FrontendCopies = new WeakMap()): LbBasis | undefined {
  const positions = new Map<string, number>();
  const frontends: LbFrontendSpec[] = [];
  for (const [i, f] of ns.frontends.entries()) {
    const key = keyOf(f);
    if (positions.has(key)) {
      return undefined;
    }
    positions.set(key, i);
    frontends.push(copyOf(f, copies));
  }
  return { hook: ns.hook, masqueradeOut: ns.masqueradeOut, frontends, positions };
}

/**
 * The changes from `from` to `ns`; undefined when they cannot be expressed as a delta (another
 * hook or masquerade, another number of frontends, a key appearing twice): the full diff then.
 */
export function deltaOf(
  from: LbBasis,
  ns: LbNamespaceSpec,
  memo: BackendMemo = new WeakMap(),
  copies: FrontendCopies = new WeakMap(),
): LbDelta | undefined {
  const now = ns.frontends;
  if (ns.hook !== from.hook || ns.masqueradeOut !== from.masqueradeOut || now.length !== from.frontends.length) {
    return undefined;
  }
  const changed: number[] = [];
  for (let i = 0; i < now.length; i++) {
    const a = from.frontends[i];
    const b = now[i];
    if (a === undefined || b === undefined || !sameFrontend(a, b)) {
      changed.push(i);
    }
  }
  if (changed.length === 0) {
    return { from, next: from, changes: new Map() };
  }
  const changes = new Map<string, readonly string[] | undefined>();
  const oldKeys = changed.map((i) => keyOf(from.frontends[i] as LbFrontendSpec));
  const newKeys = changed.map((i) => keyOf(now[i] as LbFrontendSpec));
  let positions = from.positions;
  if (oldKeys.some((k, j) => k !== newKeys[j])) {
    const moved = new Map(from.positions);
    for (const k of oldKeys) {
      moved.delete(k);
    }
    for (const [j, k] of newKeys.entries()) {
      if (moved.has(k)) {
        return undefined;
      }
      moved.set(k, changed[j] as number);
    }
    positions = moved;
  }
  for (const k of oldKeys) {
    changes.set(k, undefined);
  }
  const frontends = from.frontends.slice();
  for (const [j, i] of changed.entries()) {
    const f = now[i] as LbFrontendSpec;
    frontends[i] = copyOf(f, copies);
    let backends: readonly string[] | undefined;
    if (f.backends.length > 0) {
      backends = memo.get(f);
      if (backends === undefined) {
        backends = backendTexts(f.backends);
        memo.set(f, backends);
      }
    }
    changes.set(newKeys[j] as string, backends);
  }
  return { from, next: { hook: from.hook, masqueradeOut: from.masqueradeOut, frontends, positions }, changes };
}

/**
 * The statements applying `delta` to `observed` (the table as `delta.from` left it) and the table
 * they leave; no statements when the kernel already matches. Statement order and the stamp as in
 * the full diff (lb-diff.ts). With `cas` (the table's stamp was not listed this pass, and
 * `observed` has exactly one), the old stamp is deleted by value instead of flushed: the
 * transaction then fails as a whole, changing nothing, unless the kernel's stamp is still the one
 * the cache remembers, so the write itself checks what the listing would have.
 */
export function diffLbDelta(
  table: string,
  delta: LbDelta,
  observed: LbTableState,
  stamp: number,
  cas = false,
): { lines: string[]; after: LbTableState } {
  const deleteFrontends: string[] = [];
  const addFrontends: string[] = [];
  const deleteSlots: string[] = [];
  const addSlots: string[] = [];
  for (const [key, want] of delta.changes) {
    const hasFrontend = observed.frontends.has(key);
    if (want === undefined && hasFrontend) {
      deleteFrontends.push(key);
    } else if (want !== undefined && !hasFrontend) {
      addFrontends.push(key);
    }
    const rr = observed.backends.get(key);
    const explicit = observed.slots.get(key);
    for (let slot = 0; slot < LB_SLOTS; slot++) {
      const w = want?.[slot % want.length];
      const h = rr === undefined ? explicit?.[slot] : rr[slot % rr.length];
      if (h !== w) {
        if (h !== undefined) {
          deleteSlots.push(`${key} . ${slot}`);
        }
        if (w !== undefined) {
          addSlots.push(`${key} . ${slot} : ${w}`);
        }
      }
    }
  }
  const [casStamp] = observed.stamps;
  const lines = [
    ...elementLine('delete', table, FRONTENDS_SET, deleteFrontends),
    ...elementLine('delete', table, BACKENDS_MAP, deleteSlots),
    ...elementLine('add', table, FRONTENDS_SET, addFrontends),
    ...elementLine('add', table, BACKENDS_MAP, addSlots),
  ];
  if (lines.length === 0) {
    return { lines, after: observed };
  }
  if (cas && observed.stamps.length === 1 && casStamp !== undefined) {
    lines.unshift(...elementLine('delete', table, STAMP_SET, [String(casStamp)]));
  } else if (observed.stamps.length > 0) {
    lines.push(`flush set ${tableRef(table)} ${STAMP_SET}`);
  }
  lines.push(...elementLine('add', table, STAMP_SET, [String(stamp)]));

  const frontends = new Set(observed.frontends);
  const backends = new Map(observed.backends);
  let slots = observed.slots;
  for (const [key, want] of delta.changes) {
    if (want === undefined) {
      frontends.delete(key);
      backends.delete(key);
    } else {
      frontends.add(key);
      backends.set(key, want);
    }
    if (slots.has(key)) {
      const fewer = new Map(slots);
      fewer.delete(key);
      slots = fewer;
    }
  }
  return { lines, after: { ...observed, stamps: [stamp], frontends, backends, slots } };
}
