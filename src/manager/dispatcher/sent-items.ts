import type { SharedItem } from './shared-items.js';

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * What one session last sent: the shared items themselves, in one array sorted by key.
 *
 * A session holds one entry per item it sent (hundreds with ingress) for as long as it lives, so
 * the entry must be small. A `Map<string, …>` costs about 48 bytes per entry at this size (three
 * words per entry plus buckets, in a table that grows by doubling) and needs the key string as
 * well; a sorted array of references costs 8 bytes per entry and reuses the item's own key. Look-ups
 * are a binary search and inserts shift the tail, which for a few hundred entries is a short copy.
 */
export class SentItems {
  #items: SharedItem[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The index of `key`, or `-(insertion point) - 1` when absent. */
  #find(key: string): number {
    const items = this.#items;
    let lo = 0;
    let hi = items.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareKeys((items[mid] as SharedItem).key, key);
      if (c < 0) {
        lo = mid + 1;
      } else if (c > 0) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -lo - 1;
  }

  get(key: string): SharedItem | undefined {
    const i = this.#find(key);
    return i >= 0 ? this.#items[i] : undefined;
  }

  /** Records `item` as sent, replacing what was sent under its key. */
  set(item: SharedItem): void {
    const i = this.#find(item.key);
    if (i >= 0) {
      this.#items[i] = item;
    } else {
      this.#items.splice(-i - 1, 0, item);
    }
  }

  /** Forgets `key`; returns what was sent under it. */
  delete(key: string): SharedItem | undefined {
    const i = this.#find(key);
    return i >= 0 ? this.#items.splice(i, 1)[0] : undefined;
  }

  /** Replaces the whole state with `items` (distinct keys, any order). */
  reset(items: readonly SharedItem[]): void {
    // slice() copies into an array of exactly this length: a COMPLETE's array grew by pushes and
    // carries spare capacity that would otherwise stay allocated for the session's lifetime.
    this.#items = items.slice().sort((a, b) => compareKeys(a.key, b.key));
  }

  keys(): IterableIterator<string> {
    return this.#items.map((item) => item.key).values();
  }
}
