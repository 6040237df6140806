/**
 * Why a cache at all: listing a big LB table is slow. On nft 1.0.6, `nft -j list table` of
 * 10,000 frontends x 12 slots takes about 3 s (libnftables, not the kernel), while one element
 * change applies in ~10 ms. Reading every element on every pass would make the 10,000-service
 * case take seconds per change.
 *
 * So every write of the driver also stores a fresh number in the table's one-element `stamp` set
 * (same transaction), and the driver remembers what the table holds after each write or full read.
 * A pass first lists only the stamp set (a few ms whatever the table's size):
 * - same stamp as remembered: the table is what the driver left; the remembered state is used;
 * - anything else (no entry yet, e.g. after a restart; another stamp; table gone): full read;
 * - and a full read anyway every `fullReadEvery` passes of a table, against out-of-band edits
 *   of single elements (which would not change the stamp).
 * A failed or interrupted transaction forgets the entry, so the next pass reads everything. A
 * table the pass writes is not even listed: its transaction deletes the remembered stamp by value
 * (compare-and-swap, lb-delta.ts), and the driver passes again at once should it be refused.
 * With the table, the entry keeps the spec it is the desired table of (its basis, lb-delta.ts).
 */
import type { LbBasis } from './lb-delta.js';
import type { LbTableState } from './lb-state.js';

/** What the driver knows of one table. */
export interface CachedLbTable {
  /** The table's contents; undefined when it did not exist. */
  readonly state: LbTableState | undefined;
  /** Passes served from the cache since the last full read. */
  readonly cheapReads: number;
  /**
   * The spec `state` is the desired table of, when known (lb-delta.ts): the next pass diffs only
   * the frontends that changed since. Undefined: the next pass diffs the whole table.
   */
  readonly basis?: LbBasis;
}

/** Remembered LB tables, by {@link lbTableKey}. One per driver; passes are serialized. */
export class LbTableCache {
  readonly #entries = new Map<string, CachedLbTable>();

  /** @param fullReadEvery a table is read in full at least once every this many passes (≥ 1). */
  constructor(readonly fullReadEvery: number) {}

  get(key: string): CachedLbTable | undefined {
    return this.#entries.get(key);
  }

  /**
   * After a full read, or a committed write (`state`: what the table holds now; `basis`: the spec
   * it is the desired table of, when known).
   */
  remember(key: string, state: LbTableState | undefined, basis?: LbBasis): void {
    this.#entries.set(key, basis === undefined ? { state, cheapReads: 0 } : { state, cheapReads: 0, basis });
  }

  /**
   * A pass found the table `state` already the desired table of `basis` (nothing to write): the
   * next pass diffs against that basis. Ignored when the entry no longer holds `state`.
   */
  rebase(key: string, state: LbTableState, basis: LbBasis): void {
    const entry = this.#entries.get(key);
    if (entry?.state === state) {
      this.#entries.set(key, { ...entry, basis });
    }
  }

  /** Whether this pass may serve the entry without a full read (the periodic full read is not due). */
  mayServe(key: string): boolean {
    const entry = this.#entries.get(key);
    return entry !== undefined && entry.cheapReads + 1 < this.fullReadEvery;
  }

  /** Counts one pass served without a full read. */
  served(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      this.#entries.set(key, { ...entry, cheapReads: entry.cheapReads + 1 });
    }
  }

  /** The table's contents are unknown now (failed or interrupted write). */
  forget(key: string): void {
    this.#entries.delete(key);
  }

  /** Drops every entry whose key is not in `keys` (namespaces gone from the spec). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.#entries.keys()) {
      if (!keys.has(key)) {
        this.#entries.delete(key);
      }
    }
  }
}

/** Cache key of a table in a namespace (label "" = the daemon's). */
export function lbTableKey(namespaceLabel: string, table: string): string {
  return `${namespaceLabel}\0${table}`;
}
