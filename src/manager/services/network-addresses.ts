import ipaddr from 'ipaddr.js';
import { NotFoundError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Network, SubnetAllocation } from '../../gen/vxmesh/v1/network.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';

const log = createLogger('manager.services.addresses');

/** An address handed out by the allocator, with the subnet text the allocator keys it by. */
export interface TakenAddress {
  readonly networkId: string;
  readonly subnet: string;
  /** Without prefix length. */
  readonly address: string;
}

function isV6(s: SubnetAllocation): boolean {
  return s.subnet.includes(':');
}

/** The subnet VIPs and task addresses come from: the network's first IPv4 subnet. */
export function ipv4Subnet(network: Network): SubnetAllocation | undefined {
  return network.subnets.find((s) => !isV6(s));
}

/** The first IPv6 subnet, when the network has IPv6 enabled. */
export function ipv6Subnet(network: Network): SubnetAllocation | undefined {
  return network.enableIpv6 ? network.subnets.find(isV6) : undefined;
}

/** "10.0.1.5" in "10.0.1.0/24" → "10.0.1.5/24". */
export function withPrefix(address: string, subnet: SubnetAllocation): string {
  return `${address}/${subnet.subnet.split('/')[1] ?? ''}`;
}

/**
 * The subnet of `network` an address ("10.0.1.5/24" or bare) lies in, exactly as the network
 * records it (the allocator keys its bitmaps by that text).
 */
export function subnetOfAddress(network: Network, address: string): SubnetAllocation | undefined {
  const bare = address.split('/')[0] ?? '';
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(bare);
  } catch {
    return undefined;
  }
  return network.subnets.find((s) => {
    const cidr = ipaddr.parseCIDR(s.subnet);
    return cidr[0].kind() === ip.kind() && ip.match(cidr);
  });
}

/**
 * The allocator's failure with the network and subnet in front, as task errors and API errors
 * show it: "could not allocate an address on network x (10.9.0.0/29): no free address ...".
 * Keeps the allocator's code (EXHAUSTED, NOT_FOUND, CONFLICT...).
 */
export class AddressAllocationError extends VxmeshError {
  constructor(
    readonly networkId: string,
    network: Network,
    subnet: SubnetAllocation,
    err: unknown,
  ) {
    super(
      err instanceof VxmeshError ? err.code : 'INTERNAL',
      `could not allocate an address on network ${network.name} (${subnet.subnet}): ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

/** One address from the subnet, with the error naming the network when it fails. */
export async function allocateIn(
  allocator: AddressAllocator,
  network: Network,
  subnet: SubnetAllocation,
): Promise<TakenAddress> {
  try {
    const address = await allocator.allocate(network.id, subnet.subnet);
    return { networkId: network.id, subnet: subnet.subnet, address };
  } catch (err) {
    throw new AddressAllocationError(network.id, network, subnet, err);
  }
}

/**
 * Gives addresses back. Never throws: a failure is logged and the address stays taken (a leak,
 * not a double allocation); a network that is gone took its addresses with it.
 */
export async function releaseAll(allocator: AddressAllocator, taken: readonly TakenAddress[]): Promise<void> {
  await Promise.all(
    taken.map((t) =>
      allocator.release(t.networkId, t.subnet, t.address).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) {
          log.warn({ err, address: t.address, networkId: t.networkId }, 'could not give back an address');
        }
      }),
    ),
  );
}

/** The addresses an endpoint-like record holds on `network`, ready for {@link releaseAll}. */
export function heldAddresses(network: Network | undefined, addresses: readonly string[]): TakenAddress[] {
  if (!network) {
    return [];
  }
  const out: TakenAddress[] = [];
  for (const cidr of addresses) {
    if (cidr === '') {
      continue;
    }
    const subnet = subnetOfAddress(network, cidr);
    if (subnet) {
      out.push({ networkId: network.id, subnet: subnet.subnet, address: cidr.split('/')[0] ?? '' });
    }
  }
  return out;
}
