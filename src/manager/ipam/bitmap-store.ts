import { InternalError } from '../../common/errors.js';
import type { Compare, KeyValue, KvStore, TxnOp } from '../../kvstore/index.js';
import { CHUNK_BYTES, isAllClear } from './chunked-bitmap.js';
import type { BitmapDraft, BitmapSnapshot, StoredChunk } from './chunked-bitmap.js';
import { rangeAll } from './range-all.js';

/**
 * Where one bitmap lives in the store: `<prefix>cursor` (decimal offset of the last serial
 * allocation) and `<prefix>chunks/<hex index>` (32 bytes each, only for chunks with a bit set).
 */
export interface BitmapLocation {
  readonly prefix: string;
}

export function cursorKey(loc: BitmapLocation): string {
  return `${loc.prefix}cursor`;
}

export function chunkKey(loc: BitmapLocation, index: bigint): string {
  // Fixed width keeps the keys in index order when listed.
  return `${loc.prefix}chunks/${index.toString(16).padStart(8, '0')}`;
}

/**
 * Builds a snapshot from the keys of one bitmap (as returned by a range over its prefix); other
 * keys are ignored.
 * @throws InternalError when a stored value is malformed (the store was written by something else).
 */
export function snapshotFromKeys(loc: BitmapLocation, kvs: readonly KeyValue[]): BitmapSnapshot {
  const chunks = new Map<bigint, StoredChunk>();
  let cursor: bigint | undefined;
  let cursorModRevision = 0n;
  const chunkPrefix = `${loc.prefix}chunks/`;
  for (const kv of kvs) {
    if (kv.key === cursorKey(loc)) {
      const text = Buffer.from(kv.value).toString('utf8');
      if (!/^[0-9]+$/.test(text)) {
        throw new InternalError(`malformed bitmap cursor at ${kv.key}`);
      }
      cursor = BigInt(text);
      cursorModRevision = kv.modRevision;
    } else if (kv.key.startsWith(chunkPrefix)) {
      const hex = kv.key.slice(chunkPrefix.length);
      if (!/^[0-9a-f]+$/.test(hex) || kv.value.length !== CHUNK_BYTES) {
        throw new InternalError(`malformed bitmap chunk at ${kv.key}`);
      }
      chunks.set(BigInt(`0x${hex}`), { bits: Uint8Array.from(kv.value), modRevision: kv.modRevision });
    }
  }
  return { chunks, cursor, cursorModRevision };
}

/** Reads one bitmap with a single range. */
export async function loadBitmap(
  store: KvStore,
  loc: BitmapLocation,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<BitmapSnapshot> {
  const { kvs } = await rangeAll(store, loc.prefix, opts);
  return snapshotFromKeys(loc, kvs);
}

/** Applies `get` results of the keys listed by {@link bitmapRefreshOps} to a snapshot. */
export function refreshSnapshot(
  loc: BitmapLocation,
  snapshot: BitmapSnapshot,
  fresh: readonly { key: string; kv: KeyValue | undefined }[],
): BitmapSnapshot {
  const chunks = new Map(snapshot.chunks);
  let { cursor, cursorModRevision } = snapshot;
  const chunkPrefix = `${loc.prefix}chunks/`;
  for (const { key, kv } of fresh) {
    if (key === cursorKey(loc)) {
      const parsed = kv ? snapshotFromKeys(loc, [kv]) : undefined;
      cursor = parsed?.cursor;
      cursorModRevision = parsed?.cursorModRevision ?? 0n;
    } else if (key.startsWith(chunkPrefix)) {
      const index = BigInt(`0x${key.slice(chunkPrefix.length)}`);
      if (kv) {
        const parsed = snapshotFromKeys(loc, [kv]).chunks.get(index);
        if (parsed) {
          chunks.set(index, parsed);
        }
      } else {
        chunks.delete(index);
      }
    }
  }
  return { chunks, cursor, cursorModRevision };
}

/**
 * The compare-and-swap that writes a draft: every dirty chunk compares its modRevision with the
 * one it was read at (0 = still absent), and the cursor key is compared when `guardCursor` says
 * so or when the cursor moved. A chunk that became all clear is deleted (absent means all clear).
 */
export function bitmapWrite(
  loc: BitmapLocation,
  draft: BitmapDraft,
  opts: { readonly guardCursor: boolean },
): { compares: Compare[]; ops: TxnOp[] } {
  const compares: Compare[] = [];
  const ops: TxnOp[] = [];
  if (opts.guardCursor || draft.cursorChanged) {
    compares.push({
      key: cursorKey(loc),
      target: 'modRevision',
      op: '==',
      value: draft.snapshot.cursorModRevision,
    });
  }
  for (const chunk of draft.dirtyChunks()) {
    const key = chunkKey(loc, chunk.index);
    compares.push({ key, target: 'modRevision', op: '==', value: chunk.expectModRevision });
    if (!isAllClear(chunk.bits)) {
      ops.push({ type: 'put', key, value: Uint8Array.from(chunk.bits) });
    } else if (chunk.existed) {
      ops.push({ type: 'delete', key });
    }
  }
  if (draft.cursorChanged && draft.cursor !== undefined) {
    ops.push({ type: 'put', key: cursorKey(loc), value: draft.cursor.toString() });
  }
  return { compares, ops };
}

/** `get` ops for the keys a failed {@link bitmapWrite} compared, to refresh them in the same round trip. */
export function bitmapRefreshOps(loc: BitmapLocation, draft: BitmapDraft): TxnOp[] {
  return [
    { type: 'get', key: cursorKey(loc) },
    ...draft.dirtyChunks().map((c): TxnOp => ({ type: 'get', key: chunkKey(loc, c.index) })),
  ];
}
