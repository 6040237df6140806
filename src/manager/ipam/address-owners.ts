import type { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import { formatAddress, tryParseAddress } from './cidr.js';

/**
 * The addresses owner records hold, per network: what the sweeper must never free. Owners are
 * every endpoint record (containers, tasks, ingress load balancers: IPv4 and IPv6) and every
 * service VIP; nothing else records an allocated address (task records copy their endpoints'
 * addresses, and those endpoints are written and deleted in the same transactions).
 */
export interface AddressOwners {
  /** Canonical address text (no prefix length) held on each network ID. */
  readonly held: ReadonlyMap<string, ReadonlySet<string>>;
  /** Networks where an owner's address does not parse: never swept, since what it holds is unknown. */
  readonly unreadable: ReadonlySet<string>;
}

/** Collects the owners of {@link AddressOwners} from decoded records. Pure. */
export function addressOwners(endpoints: Iterable<Endpoint>, services: Iterable<Service>): AddressOwners {
  const held = new Map<string, Set<string>>();
  const unreadable = new Set<string>();
  const hold = (networkId: string, cidrText: string): void => {
    if (cidrText === '') {
      return;
    }
    const parsed = tryParseAddress(cidrText.split('/')[0] ?? '');
    if (!parsed) {
      unreadable.add(networkId);
      return;
    }
    const address = formatAddress(parsed);
    let set = held.get(networkId);
    if (!set) {
      set = new Set();
      held.set(networkId, set);
    }
    set.add(address);
  };
  for (const e of endpoints) {
    hold(e.networkId, e.ipv4Address);
    hold(e.networkId, e.ipv6Address);
  }
  for (const s of services) {
    for (const vip of s.virtualIps) {
      hold(vip.networkId, vip.addr);
    }
  }
  return { held, unreadable };
}
