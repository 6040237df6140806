import { InternalError } from '../../common/errors.js';
import type { SubnetAllocation } from '../../gen/vxmesh/v1/network.js';
import { cidrCovers, cidrSize, formatAddress, parseAddress, parseCidr } from './cidr.js';
import type { Cidr, IpAddress } from './cidr.js';

/**
 * How the addresses of one subnet are used, as offsets from its network address:
 * - offset 0 (the network address) is never handed out; for IPv4 neither is the last (broadcast);
 * - the gateway and aux addresses are set in the bitmap when the network is created and stay set;
 * - dynamic (serial) allocation takes from [dynamicLo, dynamicHi]: the usable addresses of the
 *   `--ip-range`, or of the whole subnet;
 * - a static (preferred) address may be any usable offset, inside the range or not.
 */
export interface SubnetLayout {
  readonly cidr: Cidr;
  /** Canonical text of the subnet, the key of this subnet in the API and the store. */
  readonly subnet: string;
  readonly usableLo: bigint;
  readonly usableHi: bigint;
  readonly dynamicLo: bigint;
  readonly dynamicHi: bigint;
  readonly gatewayOffset: bigint | undefined;
  /** Aux address offsets, with their names. */
  readonly auxOffsets: ReadonlyMap<bigint, string>;
}

/**
 * Usable offsets of a prefix of `cidr`'s family and length: everything but the network address,
 * and for IPv4 the broadcast address. vxmesh subnets are at most /30 and /126, so this is never empty.
 */
export function usableBounds(cidr: Cidr): { lo: bigint; hi: bigint } {
  const size = cidrSize(cidr);
  return { lo: 1n, hi: cidr.family === 4 ? size - 2n : size - 1n };
}

/** Dynamic bounds for a subnet and an optional range inside it; lo > hi when nothing is usable. */
export function dynamicBounds(cidr: Cidr, range: Cidr | undefined): { lo: bigint; hi: bigint } {
  const usable = usableBounds(cidr);
  if (!range) {
    return usable;
  }
  const lo = range.base - cidr.base;
  const hi = lo + cidrSize(range) - 1n;
  return { lo: lo > usable.lo ? lo : usable.lo, hi: hi < usable.hi ? hi : usable.hi };
}

/** Offset of an address inside the subnet (the caller has checked containment). */
export function offsetOf(layout: { readonly cidr: Cidr }, addr: IpAddress): bigint {
  return addr.value - layout.cidr.base;
}

/** The address at an offset, as text. */
export function addressAt(layout: { readonly cidr: Cidr }, offset: bigint): string {
  return formatAddress({ family: layout.cidr.family, value: layout.cidr.base + offset });
}

/**
 * Layout of a subnet as stored in a network record. Stored records were validated at creation,
 * so a parse failure here means the store holds something vxmesh did not write.
 * @throws InternalError for a malformed stored allocation.
 */
export function subnetLayout(alloc: SubnetAllocation): SubnetLayout {
  try {
    const cidr = parseCidr(alloc.subnet, 'subnet');
    const range = alloc.ipRange ? parseCidr(alloc.ipRange, 'ip-range') : undefined;
    if (range && !cidrCovers(cidr, range)) {
      throw new Error(`range ${alloc.ipRange} outside ${alloc.subnet}`);
    }
    const usable = usableBounds(cidr);
    const dynamic = dynamicBounds(cidr, range);
    const gatewayOffset = alloc.gateway ? parseAddress(alloc.gateway, 'gateway').value - cidr.base : undefined;
    const auxOffsets = new Map<bigint, string>();
    for (const [name, text] of Object.entries(alloc.auxAddresses)) {
      auxOffsets.set(parseAddress(text, 'aux-address').value - cidr.base, name);
    }
    return {
      cidr,
      subnet: alloc.subnet,
      usableLo: usable.lo,
      usableHi: usable.hi,
      dynamicLo: dynamic.lo,
      dynamicHi: dynamic.hi,
      gatewayOffset,
      auxOffsets,
    };
  } catch (err) {
    throw new InternalError(`stored subnet ${alloc.subnet} is malformed`, { cause: err });
  }
}
