import type { Network } from '../../gen/vxmesh/v1/network.js';
import { EndpointMode } from '../../gen/vxmesh/v1/service.js';
import type { ServiceSpec, VirtualIp } from '../../gen/vxmesh/v1/service.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { allocateIn, heldAddresses, ipv4Subnet, releaseAll, withPrefix } from './network-addresses.js';
import type { HeldAddress, TakenAddress } from './network-addresses.js';
import { hasIngressPorts } from './service-spec-validation.js';

/**
 * Networks a service has a virtual IP on, in order: its networks in vip mode (none in dnsrr
 * mode), then ingress when it publishes a port through the routing mesh (docker's
 * `AllocateService`).
 */
export function vipNetworkIds(spec: ServiceSpec, ingressNetworkId: string | undefined): string[] {
  if (spec.endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR) {
    return [];
  }
  const ids = spec.networks.map((n) => n.network);
  if (ingressNetworkId && hasIngressPorts(spec)) {
    ids.push(ingressNetworkId);
  }
  return ids;
}

/** VIPs after a create or update, and what changed hands. */
export interface VipPlan {
  readonly virtualIps: VirtualIp[];
  /** Newly allocated: give back if the record is not written. */
  readonly allocated: TakenAddress[];
  /** No longer needed: give back once the record is written (fenced by its revision: `releaseHeld`). */
  readonly released: HeldAddress[];
}

/**
 * Keeps the VIPs of networks that stay, allocates one for each new network (from its first IPv4
 * subnet; a network without one gets none) and lists those to release. On failure, what this
 * call allocated is given back before the error propagates.
 * @throws the allocator's error with the network and subnet named (subnet exhausted...).
 */
export async function planVips(
  allocator: AddressAllocator,
  networks: ReadonlyMap<string, Network>,
  wanted: readonly string[],
  current: readonly VirtualIp[],
): Promise<VipPlan> {
  const virtualIps: VirtualIp[] = [];
  const allocated: TakenAddress[] = [];
  try {
    for (const networkId of wanted) {
      const kept = current.find((v) => v.networkId === networkId);
      if (kept) {
        virtualIps.push(kept);
        continue;
      }
      const network = networks.get(networkId);
      const subnet = network ? ipv4Subnet(network) : undefined;
      if (!network || !subnet) {
        continue;
      }
      const taken = await allocateIn(allocator, network, subnet);
      allocated.push(taken);
      virtualIps.push({ networkId, addr: withPrefix(taken.address, subnet) });
    }
  } catch (err) {
    await releaseAll(allocator, allocated);
    throw err;
  }
  const released = current
    .filter((v) => !wanted.includes(v.networkId))
    .flatMap((v) => heldAddresses(networks.get(v.networkId), [v.addr]));
  return { virtualIps, allocated, released };
}
