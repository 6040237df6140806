import { describe, expect, it } from 'vitest';
import { BitmapDraft, CHUNK_BYTES, countSetBits, EMPTY_SNAPSHOT } from '../../../../src/manager/ipam/chunked-bitmap.js';
import type { BitmapSnapshot } from '../../../../src/manager/ipam/chunked-bitmap.js';

function withBits(offsets: number[], cursor?: bigint): BitmapSnapshot {
  const draft = new BitmapDraft(EMPTY_SNAPSHOT);
  for (const o of offsets) {
    draft.set(BigInt(o));
  }
  const committed = draft.committed(7n);
  return { ...committed, cursor, cursorModRevision: cursor === undefined ? 0n : 3n };
}

describe('BitmapDraft', () => {
  it.each([
    // [set offsets, lo, hi, start, expected]
    [[], 1, 254, 1, 1],
    [[1, 2, 3], 1, 254, 1, 4],
    [[5], 1, 10, 5, 6],
    [[8, 9, 10], 1, 10, 8, 1],
    [Array.from({ length: 254 }, (_, i) => i + 1), 1, 254, 100, undefined],
    [Array.from({ length: 300 }, (_, i) => i), 0, 1000, 0, 300],
    [[256, 257], 250, 260, 256, 258],
    [[], 5, 4, 5, undefined],
  ] as [number[], number, number, number, number | undefined][])(
    'set %j: findClear(%i, %i, from %i) = %s',
    (bits, lo, hi, start, expected) => {
      const draft = new BitmapDraft(withBits(bits));
      expect(draft.findClear(BigInt(lo), BigInt(hi), BigInt(start))).toBe(
        expected === undefined ? undefined : BigInt(expected),
      );
    },
  );

  it('takes serially after the cursor and wraps, never reissuing a just-freed offset first', () => {
    const draft = new BitmapDraft(withBits([2, 3, 4], 4n));
    draft.clear(3n);
    expect(draft.takeNext(1n, 6n)).toBe(5n);
    expect(draft.takeNext(1n, 6n)).toBe(6n);
    expect(draft.takeNext(1n, 6n)).toBe(1n);
    expect(draft.takeNext(1n, 6n)).toBe(3n);
    expect(draft.takeNext(1n, 6n)).toBeUndefined();
    expect(draft.cursor).toBe(3n);
  });

  it('reports dirty chunks with the revision to compare, and drops all-clear chunks when committed', () => {
    const base = withBits([1, 300]);
    const draft = new BitmapDraft(base);
    draft.clear(1n);
    draft.set(600n);
    expect(draft.dirtyChunks().map((c) => [c.index, c.expectModRevision, c.existed])).toEqual([
      [0n, 7n, true],
      [2n, 0n, false],
    ]);
    const next = draft.committed(9n);
    expect([...next.chunks.keys()]).toEqual([1n, 2n]);
    expect(next.chunks.get(2n)?.modRevision).toBe(9n);
    expect(next.chunks.get(1n)?.modRevision).toBe(7n);
    expect(next.chunks.get(2n)?.bits).toHaveLength(CHUNK_BYTES);
    // The snapshot it was drafted on is unchanged.
    expect(new BitmapDraft(base).isSet(1n)).toBe(true);
  });

  it.each([
    [[1, 2, 255, 256, 511, 512], 0, 1000, 6],
    [[1, 2, 255, 256, 511, 512], 2, 511, 4],
    [[1, 2, 255, 256, 511, 512], 3, 254, 0],
    [Array.from({ length: 1024 }, (_, i) => i), 100, 899, 800],
  ] as [number[], number, number, number][])('counts set bits of %j in [%i, %i] = %i', (bits, lo, hi, n) => {
    expect(countSetBits(withBits(bits), BigInt(lo), BigInt(hi))).toBe(BigInt(n));
  });

  it('searches a sparse IPv6-sized space without touching absent chunks', () => {
    const hi = (1n << 64n) - 1n;
    const draft = new BitmapDraft(withBits([1, 2]));
    draft.setCursor(hi - 1n);
    expect(draft.takeNext(1n, hi)).toBe(hi);
    expect(draft.takeNext(1n, hi)).toBe(3n);
  });
});
