import type { AskerView } from './asker-view.js';
import type { RcodeValue } from './dns-wire.js';
import type { RecordTable } from './record-table.js';

/** A resolution kept in encoded form, ready to be copied into responses. */
export type CachedAnswer =
  | {
      readonly kind: 'local';
      readonly rcode: RcodeValue;
      /** Complete answer RRs (owner name = pointer to the question). */
      readonly records: readonly Buffer[];
      readonly shuffle: boolean;
    }
  | { readonly kind: 'forward' };

/** Per-asker cache bound: past it the cache starts over (random names cannot grow memory). */
export const MAX_CACHED_ANSWERS = 4096;

/**
 * One container as an asker: the record table and its view, plus answers already encoded for
 * them. {@link update} replaces both and empties the cache, so a cached answer never outlives the
 * table it was computed from.
 */
export class AskerContext {
  #table: RecordTable;
  #view: AskerView;
  readonly #cache = new Map<number, Map<string, CachedAnswer>>();
  #size = 0;

  constructor(table: RecordTable, view: AskerView) {
    this.#table = table;
    this.#view = view;
  }

  get table(): RecordTable {
    return this.#table;
  }

  get view(): AskerView {
    return this.#view;
  }

  update(table: RecordTable, view: AskerView): void {
    this.#table = table;
    this.#view = view;
    this.#cache.clear();
    this.#size = 0;
  }

  /** The answer cached for (qtype, wire key), if any. */
  cached(qtype: number, key: string): CachedAnswer | undefined {
    return this.#cache.get(qtype)?.get(key);
  }

  remember(qtype: number, key: string, answer: CachedAnswer): void {
    if (this.#size >= MAX_CACHED_ANSWERS) {
      this.#cache.clear();
      this.#size = 0;
    }
    let byName = this.#cache.get(qtype);
    if (!byName) {
      byName = new Map();
      this.#cache.set(qtype, byName);
    }
    if (!byName.has(key)) {
      this.#size++;
    }
    byName.set(key, answer);
  }
}
