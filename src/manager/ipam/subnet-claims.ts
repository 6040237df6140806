import { InternalError } from '../../common/errors.js';
import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import { storeKeys } from '../store/store-keys.js';
import { cidrOverlaps, formatCidr, parseCidr } from './cidr.js';
import type { Cidr } from './cidr.js';
import { rangeAll } from './range-all.js';

/** A subnet held by a network, cluster-wide. */
export interface SubnetClaim {
  readonly cidr: Cidr;
  readonly networkId: string;
  readonly networkName: string;
}

/**
 * Every claim plus the guard's modRevision, read by one range so they are consistent. A create
 * that adds claims compares the guard against `guardModRevision` and rewrites it: two creates
 * that both decided "10.0.5.0/24 is free" from the same claims can't both commit, even when
 * their subnets differ but overlap (which per-key compares alone would miss).
 */
export interface ClaimsSnapshot {
  readonly claims: readonly SubnetClaim[];
  readonly guardModRevision: bigint;
}

export const EMPTY_CLAIMS: ClaimsSnapshot = { claims: [], guardModRevision: 0n };

interface ClaimValue {
  readonly subnet: string;
  readonly network: string;
  readonly name: string;
}

/** Reads every claim and the guard. */
export async function loadClaims(
  store: KvStore,
  opts: { readonly signal?: AbortSignal } = {},
): Promise<ClaimsSnapshot> {
  const { kvs } = await rangeAll(store, storeKeys.subnetClaimsPrefix, opts);
  const claims: SubnetClaim[] = [];
  let guardModRevision = 0n;
  for (const kv of kvs) {
    if (kv.key === storeKeys.subnetClaimsGuard) {
      guardModRevision = kv.modRevision;
      continue;
    }
    try {
      const value = JSON.parse(Buffer.from(kv.value).toString('utf8')) as ClaimValue;
      claims.push({ cidr: parseCidr(value.subnet, 'subnet'), networkId: value.network, networkName: value.name });
    } catch (err) {
      throw new InternalError(`malformed subnet claim at ${kv.key}`, { cause: err });
    }
  }
  return { claims, guardModRevision };
}

/** The first claim overlapping `cidr`, if any. */
export function findOverlap(snapshot: ClaimsSnapshot, cidr: Cidr): SubnetClaim | undefined {
  return snapshot.claims.find((c) => cidrOverlaps(c.cidr, cidr));
}

/** Compares and writes that add claims for a new network. */
export function claimWrite(
  snapshot: ClaimsSnapshot,
  network: { readonly id: string; readonly name: string },
  subnets: readonly Cidr[],
): { compares: Compare[]; ops: TxnOp[] } {
  const compares: Compare[] = [
    { key: storeKeys.subnetClaimsGuard, target: 'modRevision', op: '==', value: snapshot.guardModRevision },
  ];
  const ops: TxnOp[] = [{ type: 'put', key: storeKeys.subnetClaimsGuard, value: network.id }];
  for (const cidr of subnets) {
    const subnet = formatCidr(cidr);
    const key = storeKeys.subnetClaim(subnet);
    compares.push({ key, target: 'version', op: '==', value: 0n });
    const value: ClaimValue = { subnet, network: network.id, name: network.name };
    ops.push({ type: 'put', key, value: JSON.stringify(value) });
  }
  return { compares, ops };
}

/**
 * Deletes of a removed network's claims. Freeing space can't create an overlap, so the guard is
 * left alone (a create that missed the freed space merely picks a later subnet).
 */
export function claimRelease(subnets: readonly string[]): TxnOp[] {
  return subnets.map((subnet): TxnOp => ({ type: 'delete', key: storeKeys.subnetClaim(subnet) }));
}
