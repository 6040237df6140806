import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import { storeKeys } from '../store/store-keys.js';
import { bitmapWrite, loadBitmap } from './bitmap-store.js';
import type { BitmapLocation } from './bitmap-store.js';
import { BitmapDraft } from './chunked-bitmap.js';
import type { BitmapSnapshot } from './chunked-bitmap.js';

/**
 * VNIs below 4096 are never handed out: Windows refuses VNIs that collide with 802.1Q VLAN IDs
 * (libnetwork ovmanager moved its start from 256 to 4096 for that).
 */
export const VNI_MIN = 4096;
/** VXLAN identifiers are 24 bits. */
export const VNI_MAX = 2 ** 24 - 1;
/** The driver option through which a VNI list is requested, and where the chosen one is shown. */
export const VXLANID_LIST_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

/** The cluster-wide VNI bitmap: offset = VNI. */
export const VNI_BITMAP: BitmapLocation = { prefix: storeKeys.vniBitmapPrefix };

/**
 * Parses a `vxlanid_list` value: decimal VNIs separated by commas, each in [VNI_MIN, VNI_MAX],
 * no repeats, exactly one per IPv4 subnet.
 * @throws InvalidArgumentError naming the option and value.
 */
export function parseVxlanIdList(text: string, ipv4Subnets: number): number[] {
  const field = `-o ${VXLANID_LIST_OPTION}`;
  const parts = text.split(',').map((p) => p.trim());
  const vnis = parts.map((p) => {
    if (!/^[0-9]{1,9}$/.test(p)) {
      throw new InvalidArgumentError(field, `${JSON.stringify(text)}: ${JSON.stringify(p)} is not a VNI number`);
    }
    const vni = Number(p);
    if (vni < VNI_MIN || vni > VNI_MAX) {
      throw new InvalidArgumentError(
        field,
        `${text}: VNI ${vni} is out of range (${VNI_MIN}-${VNI_MAX}; VNIs below ${VNI_MIN} would collide with VLAN IDs)`,
      );
    }
    return vni;
  });
  const dup = vnis.find((v, i) => vnis.indexOf(v) !== i);
  if (dup !== undefined) {
    throw new InvalidArgumentError(field, `${text}: VNI ${dup} is given twice`);
  }
  if (vnis.length !== ipv4Subnets) {
    throw new InvalidArgumentError(
      field,
      `${text}: ${vnis.length} VNI${vnis.length === 1 ? '' : 's'} for ${ipv4Subnets} IPv4 subnet${ipv4Subnets === 1 ? '' : 's'}; give one per IPv4 subnet`,
    );
  }
  return vnis;
}

/** Reads the VNI bitmap. */
export function loadVnis(store: KvStore, opts: { readonly signal?: AbortSignal } = {}): Promise<BitmapSnapshot> {
  return loadBitmap(store, VNI_BITMAP, opts);
}

/**
 * Takes `count` VNIs serially (after the last one handed out, wrapping), or exactly `requested`.
 * Returns the VNIs and the compare-and-swap that records them.
 * @throws InvalidArgumentError when a requested VNI is taken; VxmeshError EXHAUSTED when none is free.
 */
export function planVnis(
  snapshot: BitmapSnapshot,
  count: number,
  requested: readonly number[] | undefined,
): { vnis: number[]; compares: Compare[]; ops: TxnOp[] } {
  const draft = new BitmapDraft(snapshot);
  const vnis: number[] = [];
  if (requested) {
    for (const vni of requested) {
      if (draft.isSet(BigInt(vni))) {
        throw new InvalidArgumentError(`-o ${VXLANID_LIST_OPTION}`, `VNI ${vni} is already used by another network`);
      }
      draft.set(BigInt(vni));
      vnis.push(vni);
    }
  } else {
    for (let i = 0; i < count; i++) {
      const vni = draft.takeNext(BigInt(VNI_MIN), BigInt(VNI_MAX));
      if (vni === undefined) {
        throw new VxmeshError('EXHAUSTED', `no free VNI in ${VNI_MIN}-${VNI_MAX}`);
      }
      vnis.push(Number(vni));
    }
  }
  // The cursor is compared only when it moves: explicit VNIs touch chunks alone.
  return { vnis, ...bitmapWrite(VNI_BITMAP, draft, { guardCursor: false }) };
}

/** The compare-and-swap that frees VNIs of a removed network (the cursor stays, so they are not reused at once). */
export function releaseVnis(snapshot: BitmapSnapshot, vnis: readonly number[]): { compares: Compare[]; ops: TxnOp[] } {
  const draft = new BitmapDraft(snapshot);
  for (const vni of vnis) {
    if (draft.isSet(BigInt(vni))) {
      draft.clear(BigInt(vni));
    }
  }
  return bitmapWrite(VNI_BITMAP, draft, { guardCursor: false });
}
