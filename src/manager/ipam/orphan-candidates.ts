import { CHUNK_BITS } from './chunked-bitmap.js';
import type { BitmapSnapshot } from './chunked-bitmap.js';
import { addressAt } from './subnet-layout.js';
import type { SubnetLayout } from './subnet-layout.js';

/** An allocated address that no owner record holds, as seen by one read of the store. */
export interface OrphanCandidate {
  readonly offset: bigint;
  /** Canonical text, without prefix length. */
  readonly address: string;
  /** Index of the 256-address chunk holding its bit. */
  readonly chunk: bigint;
  /** modRevision of that chunk key at the read. */
  readonly chunkModRevision: bigint;
}

/**
 * The addresses of one subnet that are allocated in `snapshot` but held by nothing: not the
 * gateway, not an aux address (both set at create and never free), not outside the usable
 * offsets, and not in `owned` (canonical address text of every owner record on the network, read
 * at the same revision). In offset order, at most `limit`. Pure.
 */
export function orphanCandidates(
  layout: SubnetLayout,
  snapshot: BitmapSnapshot,
  owned: ReadonlySet<string>,
  limit: number,
): OrphanCandidate[] {
  const out: OrphanCandidate[] = [];
  const indexes = [...snapshot.chunks.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const index of indexes) {
    const chunk = snapshot.chunks.get(index);
    if (!chunk) {
      continue;
    }
    for (let byte = 0; byte < chunk.bits.length; byte++) {
      const value = chunk.bits[byte] ?? 0;
      if (value === 0) {
        continue;
      }
      for (let bit = 0; bit < 8; bit++) {
        if ((value & (1 << bit)) === 0) {
          continue;
        }
        const offset = index * BigInt(CHUNK_BITS) + BigInt(byte * 8 + bit);
        if (
          offset < layout.usableLo ||
          offset > layout.usableHi ||
          offset === layout.gatewayOffset ||
          layout.auxOffsets.has(offset)
        ) {
          continue;
        }
        const address = addressAt(layout, offset);
        if (owned.has(address)) {
          continue;
        }
        if (out.length >= limit) {
          return out;
        }
        out.push({ offset, address, chunk: index, chunkModRevision: chunk.modRevision });
      }
    }
  }
  return out;
}
