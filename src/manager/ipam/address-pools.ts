import { InternalError } from '../../common/errors.js';
import { cidrLast, cidrOverlaps, cidrSize, familyBits, parseCidr } from './cidr.js';
import type { Cidr, IpFamily } from './cidr.js';

/** The global default when `swarm init` names no pool (docker's 10.0.0.0/8 split into /24s). */
export const DEFAULT_POOL = '10.0.0.0/8';
export const DEFAULT_POOL_SUBNET_PREFIX = 24;
/** IPv6 pools (only when configured) are split into /64s, whatever the IPv4 mask length. */
export const IPV6_POOL_SUBNET_PREFIX = 64;

/** A default address pool and the size of the subnets cut from it. */
export interface AddressPool {
  readonly cidr: Cidr;
  readonly subnetPrefix: number;
}

/**
 * The default pools recorded at `swarm init`, in order. IPv4 pools are split by the cluster's
 * mask length; IPv6 pools into /64s (or the pool itself when it is longer).
 * @throws InternalError when the stored settings are malformed (init validated them).
 */
export function defaultPools(cluster: {
  readonly defaultAddrPools: readonly string[];
  readonly defaultAddrPoolMaskLength: number;
}): AddressPool[] {
  const texts = cluster.defaultAddrPools.length > 0 ? cluster.defaultAddrPools : [DEFAULT_POOL];
  const mask = cluster.defaultAddrPoolMaskLength || DEFAULT_POOL_SUBNET_PREFIX;
  return texts.map((text) => {
    let cidr: Cidr;
    try {
      cidr = parseCidr(text, 'default-addr-pool');
    } catch (err) {
      throw new InternalError(`stored default address pool ${text} is malformed`, { cause: err });
    }
    const wanted = cidr.family === 4 ? mask : IPV6_POOL_SUBNET_PREFIX;
    return { cidr, subnetPrefix: Math.max(wanted, cidr.prefix) };
  });
}

/**
 * The first prefix of each pool's subnet size, walking the pools in order and each pool from its
 * start, that overlaps none of `taken` (docker's allocatePredefinedPool: sequential, reusing
 * freed space). Undefined when every pool of the family is full.
 * Skips past a taken prefix in one step, so the cost is O(pools × taken²) at worst, not the pool size.
 */
export function firstFreeSubnet(
  pools: readonly AddressPool[],
  family: IpFamily,
  taken: readonly Cidr[],
): Cidr | undefined {
  for (const pool of pools) {
    if (pool.cidr.family !== family) {
      continue;
    }
    const prefix = pool.subnetPrefix;
    const size = 1n << BigInt(familyBits(family) - prefix);
    const end = cidrLast(pool.cidr);
    const inPool = taken.filter((t) => cidrOverlaps(t, pool.cidr));
    let base = pool.cidr.base;
    while (base + size - 1n <= end) {
      const candidate: Cidr = { family, base, prefix };
      const clash = inPool.find((t) => cidrOverlaps(t, candidate));
      if (!clash) {
        return candidate;
      }
      // Next aligned candidate after the clashing prefix (which may be larger or smaller).
      const after = clash.base + cidrSize(clash);
      const next = ((after + size - 1n) / size) * size;
      base = next > base ? next : base + size;
    }
  }
  return undefined;
}
