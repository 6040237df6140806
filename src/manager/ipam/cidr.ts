import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../../common/errors.js';

/** Address family of a prefix or address. */
export type IpFamily = 4 | 6;

/** An IP address as a number, with its family (the same bigint means different things per family). */
export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

/**
 * A prefix in canonical form: `base` is the network address (host bits clear), `prefix` the
 * length. Parsing never yields host bits; see {@link parseCidr}.
 */
export interface Cidr {
  readonly family: IpFamily;
  readonly base: bigint;
  readonly prefix: number;
}

/** Width of an address of `family`, in bits. */
export function familyBits(family: IpFamily): 32 | 128 {
  return family === 4 ? 32 : 128;
}

function bytesToBigint(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const b of bytes) {
    value = (value << 8n) | BigInt(b);
  }
  return value;
}

/**
 * Parses one address in the only notations vxmesh accepts: dotted quad IPv4 (four decimal parts,
 * no octal, hex or short forms, which ipaddr.js would otherwise take) or RFC 4291 IPv6 without a
 * zone. Returns undefined for anything else.
 */
export function tryParseAddress(text: string): IpAddress | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    return { family: 4, value: bytesToBigint(ipaddr.IPv4.parse(text).toByteArray()) };
  }
  if (text.includes(':') && !text.includes('%') && ipaddr.IPv6.isValid(text)) {
    return { family: 6, value: bytesToBigint(ipaddr.IPv6.parse(text).toByteArray()) };
  }
  return undefined;
}

/**
 * Parses an address given for `field` (a flag name such as `--gateway`).
 * @throws InvalidArgumentError naming the field and the value when it is not an IP address.
 */
export function parseAddress(text: string, field: string): IpAddress {
  const addr = tryParseAddress(text);
  if (!addr) {
    throw new InvalidArgumentError(field, `${JSON.stringify(text)} is not an IP address`);
  }
  return addr;
}

/** The usual text form: dotted quad, or RFC 5952 compressed IPv6. */
export function formatAddress(addr: IpAddress): string {
  if (addr.family === 4) {
    const v = addr.value;
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 0xffn)).join('.');
  }
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) {
    bytes.push(Number((addr.value >> BigInt(i * 8)) & 0xffn));
  }
  return ipaddr.fromByteArray(bytes).toString();
}

/** Number of addresses in the prefix. */
export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefix);
}

/** The last address of the prefix (the broadcast address for IPv4). */
export function cidrLast(cidr: Cidr): bigint {
  return cidr.base + cidrSize(cidr) - 1n;
}

/** "10.0.1.0/24", "fd00:1::/64". */
export function formatCidr(cidr: Cidr): string {
  return `${formatAddress({ family: cidr.family, value: cidr.base })}/${cidr.prefix}`;
}

/** Whether `addr` lies inside `cidr` (same family and within its bounds). */
export function cidrContains(cidr: Cidr, addr: IpAddress): boolean {
  return addr.family === cidr.family && addr.value >= cidr.base && addr.value <= cidrLast(cidr);
}

/** Whether `inner` lies wholly inside `outer`. */
export function cidrCovers(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && inner.base >= outer.base && cidrLast(inner) <= cidrLast(outer);
}

/** Whether the two prefixes share at least one address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.base <= cidrLast(b) && b.base <= cidrLast(a);
}

/**
 * Parses `text` as a prefix for `field`. Accepts exactly `address/length` with a decimal length
 * within the family's width, and refuses host bits set (naming the network the user probably
 * meant) rather than masking them silently, because `10.0.0.1/24` usually hides a typo.
 * @throws InvalidArgumentError naming the field and value: not CIDR, bad address, bad length,
 *   host bits set.
 */
export function parseCidr(text: string, field: string): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0 || slash !== text.lastIndexOf('/')) {
    throw new InvalidArgumentError(field, `${JSON.stringify(text)} is not in CIDR notation (address/prefix-length)`);
  }
  const addrText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const addr = tryParseAddress(addrText);
  if (!addr) {
    throw new InvalidArgumentError(field, `${JSON.stringify(text)}: ${JSON.stringify(addrText)} is not an IP address`);
  }
  const bits = familyBits(addr.family);
  if (!/^(0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
    throw new InvalidArgumentError(
      field,
      `${text}: prefix length ${JSON.stringify(lengthText)} is out of range (0-${bits} for IPv${addr.family})`,
    );
  }
  const prefix = Number(lengthText);
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const base = addr.value & ~hostMask;
  if (base !== addr.value) {
    const meant = formatCidr({ family: addr.family, base, prefix });
    throw new InvalidArgumentError(field, `${text} has host bits set (the network is ${meant})`);
  }
  return { family: addr.family, base, prefix };
}
