/**
 * A bitmap over a large integer space (addresses of a subnet, VNIs), split into fixed chunks so
 * the store keeps one small key per chunk that has a bit set, and an allocation rewrites one
 * 32-byte chunk rather than the whole map. Pure: no store access; see bitmap-store.ts.
 */

/** Bits per chunk: a /24 worth of addresses, 32 bytes of value. */
export const CHUNK_BITS = 256;
/** Bytes per chunk value. */
export const CHUNK_BYTES = CHUNK_BITS / 8;
const CHUNK_SHIFT = 8n;
const CHUNK_MASK = 255n;

/** One chunk as read from the store. */
export interface StoredChunk {
  /** Exactly {@link CHUNK_BYTES} bytes; bit i of the chunk is bit (i & 7) of byte (i >> 3). */
  readonly bits: Uint8Array;
  /** modRevision of the chunk key; 0n when the key is absent (all bits clear). */
  readonly modRevision: bigint;
}

/**
 * What the store holds for one bitmap: the chunks that exist and the serial cursor.
 * Treated as immutable; a {@link BitmapDraft} records changes on top of it.
 */
export interface BitmapSnapshot {
  /** Chunks keyed by index; an index missing here was absent when read (all clear). */
  readonly chunks: ReadonlyMap<bigint, StoredChunk>;
  /** Last offset handed out by serial allocation; undefined when never set. */
  readonly cursor: bigint | undefined;
  /** modRevision of the cursor key; 0n when absent. */
  readonly cursorModRevision: bigint;
}

/** An empty bitmap with no cursor (nothing stored yet). */
export const EMPTY_SNAPSHOT: BitmapSnapshot = { chunks: new Map(), cursor: undefined, cursorModRevision: 0n };

/** Chunk index of an offset. */
export function chunkIndexOf(offset: bigint): bigint {
  return offset >> CHUNK_SHIFT;
}

function bitPosition(offset: bigint): { byte: number; mask: number } {
  const bit = Number(offset & CHUNK_MASK);
  return { byte: bit >> 3, mask: 1 << (bit & 7) };
}

/** Number of set bits of one byte, by table. */
const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let v = i; v > 0; v >>= 1) {
    n += v & 1;
  }
  return n;
});

/** Set bits in a chunk value. */
export function popcountChunk(bits: Uint8Array): number {
  let n = 0;
  for (const b of bits) {
    n += POPCOUNT[b] ?? 0;
  }
  return n;
}

/**
 * Set bits of `snapshot` among offsets [lo, hi] (inclusive). Chunks wholly inside the interval
 * are counted by table, the two edge chunks bit by bit.
 */
export function countSetBits(snapshot: BitmapSnapshot, lo: bigint, hi: bigint): bigint {
  let total = 0n;
  for (const [index, chunk] of snapshot.chunks) {
    const first = index << CHUNK_SHIFT;
    const last = first + CHUNK_MASK;
    if (last < lo || first > hi) {
      continue;
    }
    if (first >= lo && last <= hi) {
      total += BigInt(popcountChunk(chunk.bits));
      continue;
    }
    const from = first > lo ? first : lo;
    const to = last < hi ? last : hi;
    for (let o = from; o <= to; o++) {
      const { byte, mask } = bitPosition(o);
      if (((chunk.bits[byte] ?? 0) & mask) !== 0) {
        total += 1n;
      }
    }
  }
  return total;
}

/**
 * Changes planned on top of a snapshot: reads see the changes, and {@link dirtyChunks} lists what
 * must be written (each with the modRevision the write must compare against).
 */
export class BitmapDraft {
  readonly snapshot: BitmapSnapshot;
  /** Chunks changed so far: working copies of their bits. */
  readonly #dirty = new Map<bigint, Uint8Array>();
  #cursor: bigint | undefined;

  constructor(snapshot: BitmapSnapshot) {
    this.snapshot = snapshot;
    this.#cursor = snapshot.cursor;
  }

  /** The cursor after the changes so far. */
  get cursor(): bigint | undefined {
    return this.#cursor;
  }

  /** Whether the cursor differs from the snapshot's. */
  get cursorChanged(): boolean {
    return this.#cursor !== this.snapshot.cursor;
  }

  /** Number of distinct chunks changed so far (each costs one op in the write). */
  get dirtyCount(): number {
    return this.#dirty.size;
  }

  /** Whether `offset` would be a new dirty chunk if changed (for callers bounding txn size). */
  wouldDirty(offset: bigint): boolean {
    return !this.#dirty.has(chunkIndexOf(offset));
  }

  #bits(index: bigint): Uint8Array | undefined {
    return this.#dirty.get(index) ?? this.snapshot.chunks.get(index)?.bits;
  }

  #writable(index: bigint): Uint8Array {
    let bits = this.#dirty.get(index);
    if (!bits) {
      bits = new Uint8Array(CHUNK_BYTES);
      const stored = this.snapshot.chunks.get(index);
      if (stored) {
        bits.set(stored.bits);
      }
      this.#dirty.set(index, bits);
    }
    return bits;
  }

  isSet(offset: bigint): boolean {
    const bits = this.#bits(chunkIndexOf(offset));
    if (!bits) {
      return false;
    }
    const { byte, mask } = bitPosition(offset);
    return ((bits[byte] ?? 0) & mask) !== 0;
  }

  /** Sets the bit; the caller has checked it was clear. */
  set(offset: bigint): void {
    const bits = this.#writable(chunkIndexOf(offset));
    const { byte, mask } = bitPosition(offset);
    bits[byte] = (bits[byte] ?? 0) | mask;
  }

  /** Clears the bit; the caller has checked it was set. */
  clear(offset: bigint): void {
    const bits = this.#writable(chunkIndexOf(offset));
    const { byte, mask } = bitPosition(offset);
    bits[byte] = (bits[byte] ?? 0) & ~mask;
  }

  setCursor(offset: bigint): void {
    this.#cursor = offset;
  }

  /**
   * The first clear offset at or after `start` within [lo, hi], wrapping around to `lo` once;
   * undefined when every offset in [lo, hi] is set. An absent chunk answers at once (all clear),
   * a full byte is skipped whole, so a sparse space (an IPv6 /64) costs nothing to search.
   */
  findClear(lo: bigint, hi: bigint, start: bigint): bigint | undefined {
    if (lo > hi) {
      return undefined;
    }
    const from = start < lo || start > hi ? lo : start;
    return this.#scan(from, hi) ?? (from > lo ? this.#scan(lo, from - 1n) : undefined);
  }

  /**
   * Serial allocation: the first clear offset after the cursor in [lo, hi] (wrapping), which it
   * then sets and makes the new cursor. A cursor outside [lo, hi] starts the search at `lo`.
   */
  takeNext(lo: bigint, hi: bigint): bigint | undefined {
    const after = this.#cursor;
    const start = after === undefined ? lo : after + 1n;
    const found = this.findClear(lo, hi, start);
    if (found !== undefined) {
      this.set(found);
      this.#cursor = found;
    }
    return found;
  }

  #scan(from: bigint, to: bigint): bigint | undefined {
    let offset = from;
    while (offset <= to) {
      const index = chunkIndexOf(offset);
      const bits = this.#bits(index);
      if (!bits) {
        return offset;
      }
      const chunkLast = (index << CHUNK_SHIFT) + CHUNK_MASK;
      const end = chunkLast < to ? chunkLast : to;
      let bit = Number(offset & CHUNK_MASK);
      const endBit = Number(end & CHUNK_MASK);
      while (bit <= endBit) {
        const byteValue = bits[bit >> 3] ?? 0;
        if ((bit & 7) === 0 && byteValue === 0xff) {
          bit += 8;
          continue;
        }
        if ((byteValue & (1 << (bit & 7))) === 0) {
          return (index << CHUNK_SHIFT) + BigInt(bit);
        }
        bit++;
      }
      offset = chunkLast + 1n;
    }
    return undefined;
  }

  /** Chunks to write, in index order, with the modRevision each write must compare against. */
  dirtyChunks(): { index: bigint; bits: Uint8Array; expectModRevision: bigint; existed: boolean }[] {
    return [...this.#dirty.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([index, bits]) => {
        const stored = this.snapshot.chunks.get(index);
        return { index, bits, expectModRevision: stored?.modRevision ?? 0n, existed: stored !== undefined };
      });
  }

  /**
   * The snapshot as it will be once the draft is written at `revision` (chunks that became all
   * clear are dropped, as the write deletes them).
   */
  committed(revision: bigint): BitmapSnapshot {
    const chunks = new Map(this.snapshot.chunks);
    for (const [index, bits] of this.#dirty) {
      if (isAllClear(bits)) {
        chunks.delete(index);
      } else {
        chunks.set(index, { bits: Uint8Array.from(bits), modRevision: revision });
      }
    }
    return {
      chunks,
      cursor: this.#cursor,
      cursorModRevision: this.cursorChanged ? revision : this.snapshot.cursorModRevision,
    };
  }
}

/** Whether no bit of the chunk value is set. */
export function isAllClear(bits: Uint8Array): boolean {
  return bits.every((b) => b === 0);
}
