import { InvalidArgumentError } from '../../common/errors.js';
import { cidrContains, cidrCovers, cidrOverlaps, formatCidr, parseAddress, parseCidr } from './cidr.js';
import type { Cidr, IpAddress, IpFamily } from './cidr.js';
import { dynamicBounds, usableBounds } from './subnet-layout.js';

/** Shortest and longest subnet prefixes accepted, per family. */
export const SUBNET_PREFIX_LIMITS: Readonly<Record<IpFamily, { readonly min: number; readonly max: number }>> = {
  // /30 leaves a gateway and one address; /31 and /32 leave no room for both.
  4: { min: 8, max: 30 },
  6: { min: 32, max: 126 },
};

/** Aux address names: 1-63 of letters, digits, '.', '_' and '-'. */
const AUX_NAME = /^[A-Za-z0-9._-]{1,63}$/;

/** One `--subnet` with the flags docker pairs with it. */
export interface SubnetRequest {
  readonly cidr: Cidr;
  readonly gateway: IpAddress | undefined;
  readonly ipRange: Cidr | undefined;
  /** Name → address. */
  readonly aux: ReadonlyMap<string, IpAddress>;
}

/** The IPAM part of `network create`, validated and paired; pools are applied later. */
export interface IpamRequest {
  /** Explicit subnets, IPv4 first, each family in the order given. */
  readonly explicit: readonly SubnetRequest[];
  /** No IPv4 `--subnet` was given: one IPv4 subnet comes from the default pools. */
  readonly autoV4: boolean;
  /** `--ipv6` without an IPv6 `--subnet`: one IPv6 subnet must come from an IPv6 default pool. */
  readonly autoV6: boolean;
}

/** The raw flags, as the CLI sends them. */
export interface IpamFlags {
  readonly subnets: readonly string[];
  readonly gateways: readonly string[];
  readonly ipRanges: readonly string[];
  /** `--aux-address NAME=IP`, already split. */
  readonly auxAddresses: Readonly<Record<string, string>>;
  readonly enableIpv6: boolean;
}

/**
 * Checks one subnet against the prefix policy and the `--ipv6` flag.
 * @throws InvalidArgumentError naming `--subnet` and the value.
 */
export function checkSubnetPolicy(cidr: Cidr, text: string, enableIpv6: boolean): void {
  const limits = SUBNET_PREFIX_LIMITS[cidr.family];
  if (cidr.prefix < limits.min || cidr.prefix > limits.max) {
    throw new InvalidArgumentError(
      '--subnet',
      `${text}: prefix length /${cidr.prefix} is out of range for an IPv${cidr.family} overlay subnet ` +
        `(/${limits.min} to /${limits.max}: room for a gateway and at least one address)`,
    );
  }
  if (cidr.family === 6 && !enableIpv6) {
    throw new InvalidArgumentError('--subnet', `${text} is an IPv6 subnet; add --ipv6 to create an IPv6 network`);
  }
}

/**
 * Validates the IPAM flags and pairs each `--gateway`, `--ip-range` and `--aux-address` with the
 * `--subnet` that contains it, as the docker CLI does (by containment, not position). Pure; every
 * error names the flag and the value:
 * - malformed CIDR or address, prefix out of range, host bits set;
 * - IPv6 subnet without `--ipv6`; subnets overlapping each other;
 * - more gateways or ranges than subnets, or any of them without a `--subnet`;
 * - gateway, range or aux address outside every subnet, or two gateways/ranges for one subnet;
 * - gateway or aux address on the network or broadcast address, aux on the gateway, the same
 *   address under two aux names; a range with no usable address.
 */
export function pairIpamConfig(flags: IpamFlags): IpamRequest {
  const subnets = flags.subnets.map((text) => {
    const cidr = parseCidr(text, '--subnet');
    checkSubnetPolicy(cidr, text, flags.enableIpv6);
    return { cidr, text };
  });
  for (const [i, a] of subnets.entries()) {
    for (const b of subnets.slice(i + 1)) {
      if (cidrOverlaps(a.cidr, b.cidr)) {
        throw new InvalidArgumentError('--subnet', `${b.text} overlaps ${a.text}, also given`);
      }
    }
  }
  const auxEntries = Object.entries(flags.auxAddresses);
  for (const [flag, count] of [
    ['--gateway', flags.gateways.length],
    ['--ip-range', flags.ipRanges.length],
    ['--aux-address', auxEntries.length],
  ] as const) {
    if (count > 0 && subnets.length === 0) {
      throw new InvalidArgumentError(flag, `${flag} needs an explicit --subnet to belong to`);
    }
    if (flag !== '--aux-address' && count > subnets.length) {
      throw new InvalidArgumentError(
        flag,
        `${count} given for ${subnets.length} subnet${subnets.length === 1 ? '' : 's'}; give at most one per --subnet`,
      );
    }
  }

  const containing = (addr: IpAddress, flag: string, text: string): number => {
    const i = subnets.findIndex((s) => cidrContains(s.cidr, addr));
    if (i < 0) {
      throw new InvalidArgumentError(
        flag,
        `${text} is outside every --subnet (${subnets.map((s) => s.text).join(', ')})`,
      );
    }
    return i;
  };
  const checkUsable = (i: number, addr: IpAddress, flag: string, text: string): void => {
    const s = subnets[i];
    if (!s) {
      return;
    }
    const usable = usableBounds(s.cidr);
    const offset = addr.value - s.cidr.base;
    if (offset < usable.lo || offset > usable.hi) {
      const what = offset === 0n ? 'network' : 'broadcast';
      throw new InvalidArgumentError(flag, `${text} is the ${what} address of ${s.text}`);
    }
  };

  const gateways = new Map<number, { addr: IpAddress; text: string }>();
  for (const text of flags.gateways) {
    const addr = parseAddress(text, '--gateway');
    const i = containing(addr, '--gateway', text);
    checkUsable(i, addr, '--gateway', text);
    const earlier = gateways.get(i);
    if (earlier) {
      throw new InvalidArgumentError(
        '--gateway',
        `${text} and ${earlier.text} are both for subnet ${subnets[i]?.text}; give one gateway per subnet`,
      );
    }
    gateways.set(i, { addr, text });
  }

  const ranges = new Map<number, { cidr: Cidr; text: string }>();
  for (const text of flags.ipRanges) {
    const cidr = parseCidr(text, '--ip-range');
    const i = subnets.findIndex((s) => cidrCovers(s.cidr, cidr));
    if (i < 0) {
      throw new InvalidArgumentError(
        '--ip-range',
        `${text} is not inside any --subnet (${subnets.map((s) => s.text).join(', ')})`,
      );
    }
    const earlier = ranges.get(i);
    if (earlier) {
      throw new InvalidArgumentError(
        '--ip-range',
        `${text} and ${earlier.text} are both inside subnet ${subnets[i]?.text}; give one range per subnet`,
      );
    }
    const subnet = subnets[i];
    if (subnet) {
      const dyn = dynamicBounds(subnet.cidr, cidr);
      if (dyn.lo > dyn.hi) {
        throw new InvalidArgumentError('--ip-range', `${text} holds no assignable address of ${subnet.text}`);
      }
    }
    ranges.set(i, { cidr, text });
  }

  const aux = subnets.map(() => new Map<string, IpAddress>());
  const auxSeen = new Map<string, string>();
  for (const [name, text] of auxEntries) {
    if (!AUX_NAME.test(name)) {
      throw new InvalidArgumentError(
        '--aux-address',
        `${JSON.stringify(name)}=${text}: names are 1-63 letters, digits, '.', '_' or '-'`,
      );
    }
    const addr = parseAddress(text, '--aux-address');
    const i = containing(addr, '--aux-address', `${name}=${text}`);
    checkUsable(i, addr, '--aux-address', `${name}=${text}`);
    const gateway = gateways.get(i);
    if (gateway && gateway.addr.value === addr.value) {
      throw new InvalidArgumentError('--aux-address', `${name}=${text} is the gateway of ${subnets[i]?.text}`);
    }
    const other = auxSeen.get(`${addr.family}:${addr.value}`);
    if (other !== undefined) {
      throw new InvalidArgumentError('--aux-address', `${name}=${text}: ${text} is already reserved as ${other}`);
    }
    auxSeen.set(`${addr.family}:${addr.value}`, name);
    aux[i]?.set(name, addr);
  }

  const explicit: SubnetRequest[] = subnets.map((s, i) => ({
    cidr: s.cidr,
    gateway: gateways.get(i)?.addr,
    ipRange: ranges.get(i)?.cidr,
    aux: aux[i] ?? new Map(),
  }));
  explicit.sort((a, b) => a.cidr.family - b.cidr.family);
  return {
    explicit,
    autoV4: !explicit.some((s) => s.cidr.family === 4),
    autoV6: flags.enableIpv6 && !explicit.some((s) => s.cidr.family === 6),
  };
}

/**
 * The gateway of a subnet: the given one, else the first usable address that is not an aux
 * address (docker hands out `.1`).
 */
export function defaultGateway(req: SubnetRequest): bigint {
  if (req.gateway) {
    return req.gateway.value;
  }
  const taken = new Set([...req.aux.values()].map((a) => a.value));
  const { lo, hi } = usableBounds(req.cidr);
  for (let v = req.cidr.base + lo; v <= req.cidr.base + hi; v++) {
    if (!taken.has(v)) {
      return v;
    }
  }
  throw new InvalidArgumentError(
    '--aux-address',
    `the aux addresses leave no address for the gateway of ${formatCidr(req.cidr)}`,
  );
}

/** Canonical text of a subnet request, for messages. */
export function describeSubnet(req: SubnetRequest): string {
  return formatCidr(req.cidr);
}
