import ipaddr from 'ipaddr.js';
import { NotFoundError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Network, SubnetAllocation } from '../../gen/vxmesh/v1/network.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { fenceHolds, removalFence } from '../ipam/address-fence.js';
import type { AddressFence } from '../ipam/address-fence.js';
import type { KvStore } from '../../kvstore/index.js';
import { storeKeys } from '../store/store-keys.js';

const log = createLogger('manager.services.addresses');

/** An address a record holds, with the subnet text the allocator keys it by. */
export interface HeldAddress {
  readonly networkId: string;
  readonly subnet: string;
  /** Without prefix length. */
  readonly address: string;
}

/**
 * An address just handed out by the allocator, with the fence of its allocation: the owner
 * write must carry it (a failed fence means a sweep may have reclaimed the address), and so
 * must a give-back after a failed owner write.
 */
export interface TakenAddress extends HeldAddress {
  readonly fence: AddressFence;
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
    const { address, fence } = await allocator.allocateFenced(network.id, subnet.subnet);
    return { networkId: network.id, subnet: subnet.subnet, address, fence };
  } catch (err) {
    throw new AddressAllocationError(network.id, network, subnet, err);
  }
}

/** The compares of an owner write: the fences of the addresses it takes, each once. */
export function ownerFences(taken: readonly TakenAddress[]): AddressFence[] {
  const seen = new Map<string, AddressFence>();
  for (const t of taken) {
    seen.set(`${t.fence.key} ${t.fence.op} ${t.fence.value}`, t.fence);
  }
  return [...seen.values()];
}

/**
 * Whether the fences of taken addresses still hold (one read per epoch key). After a failed owner
 * write: false means a sweep may have reclaimed them, so retrying the write is pointless and the
 * addresses must be allocated anew. Decides nothing about giving them back (that is fenced in
 * the release itself).
 */
export async function fencesHold(store: KvStore, taken: readonly TakenAddress[]): Promise<boolean> {
  for (const fence of ownerFences(taken)) {
    const { kv } = await store.get(fence.key);
    if (!fenceHolds(fence, kv?.modRevision ?? 0n)) {
      return false;
    }
  }
  return true;
}

/**
 * Gives addresses back after their owner write failed, each only while its allocation fence
 * holds (else a sweep may have freed it already: it stays for the sweeper). Never throws: a
 * failure is logged and the address stays taken (a leak, not a double allocation); a network
 * that is gone took its addresses with it.
 */
export async function releaseAll(allocator: AddressAllocator, taken: readonly TakenAddress[]): Promise<void> {
  await Promise.all(
    taken.map((t) =>
      allocator.release(t.networkId, t.subnet, t.address, { fence: t.fence }).catch((err: unknown) => {
        if (!(err instanceof NotFoundError)) {
          log.warn({ err, address: t.address, networkId: t.networkId }, 'could not give back an address');
        }
      }),
    ),
  );
}

/**
 * Gives back addresses whose owner record was deleted (or rewritten without them) by the
 * transaction committed at `removedAt`, fenced so that a sweep after that revision (which may
 * have freed them) makes this a no-op. Never throws, as {@link releaseAll}.
 */
export async function releaseHeld(
  allocator: AddressAllocator,
  held: readonly HeldAddress[],
  removedAt: bigint,
): Promise<void> {
  await releaseAll(
    allocator,
    held.map((h) => ({ ...h, fence: removalFence(storeKeys.subnetSweepEpoch(h.networkId, h.subnet), removedAt) })),
  );
}

/** The addresses an endpoint-like record holds on `network`, ready for {@link releaseHeld}. */
export function heldAddresses(network: Network | undefined, addresses: readonly string[]): HeldAddress[] {
  if (!network) {
    return [];
  }
  const out: HeldAddress[] = [];
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
