import { randomBytes } from 'node:crypto';
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import { Endpoint, EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Network, SubnetAllocation } from '../../gen/vxmesh/v1/network.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../../gen/vxmesh/v1/resource.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { fenceHolds } from '../ipam/address-fence.js';
import type { AddressFence } from '../ipam/address-fence.js';
import { attachGuard, attachmentKey } from '../network/network-attachments.js';
import { getNetwork, resolveNetwork } from '../network/network-records.js';
import { newObjectId } from '../node-registry.js';
import { heldAddresses, releaseHeld } from '../services/network-addresses.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';

const log = createLogger('manager.endpoints');

const MAX_ATTEMPTS = 20;
/** Attaches whose addresses a sweep reclaimed before the commit (rare: see ipam/address-fence.ts). */
const MAX_RECLAIMED = 3;

/**
 * The commit transaction failed in a way that leaves its outcome unknown (the store did not
 * answer; etcd may still have applied it). Its addresses must stay allocated: giving them back
 * while the endpoint may exist is how an address ends up with two holders (moby/moby#33795).
 */
class UncertainCommit extends Error {
  constructor(readonly error: VxmeshError) {
    super(error.message, { cause: error });
  }
}

/**
 * The commit failed because a fence of its addresses no longer holds: a sweep may have
 * reclaimed them. They must not be used, nor given back (the sweep owns them now).
 */
class AddressesReclaimed extends Error {}

/** An address taken for an attach, with its allocation fence. */
interface AttachAddress {
  readonly subnet: string;
  readonly address: string;
  readonly fence: AddressFence;
}

/**
 * The MAC of an endpoint, derived from its IPv4 address as docker does (02:42 + the four octets),
 * so every node computes the same one; random (locally administered) without IPv4.
 */
export function macForAddress(ipv4: string | undefined): string {
  const bytes = ipv4 ? [0x02, 0x42, ...ipv4.split('.').map(Number)] : [0x02, 0x42, ...randomBytes(4)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Owner names are unique per network, like docker's endpoint names. */
function ownerNameKey(networkId: string, ownerName: string): string {
  return `${storeKeys.endpointNamesPrefix(networkId)}${ownerName}`;
}

function isV6(s: SubnetAllocation): boolean {
  return s.subnet.includes(':');
}

function prefixLength(cidr: string): string {
  return cidr.split('/')[1] ?? '';
}

function subnetFor(network: Network, address: string, v6: boolean): SubnetAllocation | undefined {
  const candidates = network.subnets.filter((s) => isV6(s) === v6);
  if (!address) {
    return candidates[0];
  }
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    throw new InvalidArgumentError(v6 ? 'ip6' : 'ip', `${address} is not an IP address`);
  }
  const found = candidates.find(
    (s) => ip.kind() === ipaddr.parseCIDR(s.subnet)[0].kind() && ip.match(ipaddr.parseCIDR(s.subnet)),
  );
  if (!found) {
    throw new InvalidArgumentError(
      v6 ? 'ip6' : 'ip',
      `${address} is not in any ${v6 ? 'IPv6' : 'IPv4'} subnet of network ${network.name} (${candidates.map((s) => s.subnet).join(', ') || 'none'})`,
    );
  }
  return found;
}

/**
 * Endpoints of standalone containers on attachable networks: addresses from IPAM, then the
 * endpoint record, its owner-name index and the network attachment in one transaction guarded
 * against a concurrent `network rm`. A failed transaction gives the addresses back.
 */
export class EndpointService {
  readonly #store: KvStore;
  readonly #allocator: AddressAllocator;
  readonly #clock: Clock;

  constructor(store: KvStore, allocator: AddressAllocator, clock: Clock) {
    this.#store = store;
    this.#allocator = allocator;
    this.#clock = clock;
  }

  /**
   * @throws NotFoundError (network), VxmeshError PERMISSION_DENIED (not attachable / ingress),
   *   ALREADY_EXISTS (the owner name already has an endpoint on the network), the allocator's
   *   errors (static address taken or invalid, subnet exhausted).
   */
  async attach(nodeId: string, req: AttachNetworkRequest): Promise<AttachNetworkResponse> {
    const { network } = await resolveNetwork(this.#store, req.network);
    if (network.ingress) {
      throw new VxmeshError(
        'PERMISSION_DENIED',
        `network ${network.name} is the ingress network; containers cannot attach to it`,
      );
    }
    if (!network.attachable) {
      throw new VxmeshError(
        'PERMISSION_DENIED',
        `network ${network.name} is not manually attachable (create it with --attachable)`,
      );
    }
    if (req.ipv4Address && !isIPv4(req.ipv4Address)) {
      throw new InvalidArgumentError('ip', `${req.ipv4Address} is not an IPv4 address`);
    }
    const nameKey = ownerNameKey(network.id, req.ownerName);
    const named = (await this.#store.get(nameKey)).kv;
    if (named) {
      // A retry of an attach whose answer was lost finds its own endpoint: the same owner on the
      // same node. Answer it as the first attempt would have.
      const { kv } = await this.#store.get(storeKeys.endpoint(Buffer.from(named.value).toString('utf8')));
      const existing = kv ? Endpoint.decode(kv.value) : undefined;
      if (existing && existing.ownerId === req.ownerId && existing.nodeId === nodeId && req.ownerId !== '') {
        return this.#response(network, existing);
      }
      throw new VxmeshError(
        'ALREADY_EXISTS',
        `endpoint with name ${req.ownerName} already exists in network ${network.name}`,
      );
    }
    const v4Subnet = subnetFor(network, req.ipv4Address, false);
    const v6Subnet = network.enableIpv6 || req.ipv6Address ? subnetFor(network, req.ipv6Address, true) : undefined;
    for (let attempt = 1; attempt <= MAX_RECLAIMED; attempt++) {
      try {
        return await this.#attachOnce(nodeId, req, network, nameKey, v4Subnet, v6Subnet);
      } catch (err) {
        if (!(err instanceof AddressesReclaimed)) {
          throw err;
        }
        if (req.ipv4Address || req.ipv6Address) {
          break; // a static address stays taken until the sweep frees it; dynamic ones come anew
        }
      }
    }
    throw new VxmeshError('CONFLICT', `addresses on network ${network.name} were reclaimed while attaching; try again`);
  }

  async #attachOnce(
    nodeId: string,
    req: AttachNetworkRequest,
    network: Network,
    nameKey: string,
    v4Subnet: SubnetAllocation | undefined,
    v6Subnet: SubnetAllocation | undefined,
  ): Promise<AttachNetworkResponse> {
    const taken: AttachAddress[] = [];
    try {
      if (v4Subnet) {
        const got = await this.#allocator.allocateFenced(
          network.id,
          v4Subnet.subnet,
          req.ipv4Address ? { preferred: req.ipv4Address } : {},
        );
        taken.push({ subnet: v4Subnet.subnet, ...got });
      }
      if (v6Subnet) {
        const got = await this.#allocator.allocateFenced(
          network.id,
          v6Subnet.subnet,
          req.ipv6Address ? { preferred: req.ipv6Address } : {},
        );
        taken.push({ subnet: v6Subnet.subnet, ...got });
      }
      const v4 = v4Subnet ? taken[0]?.address : undefined;
      const v6 = v6Subnet ? taken[taken.length - 1]?.address : undefined;
      const endpoint: Endpoint = Endpoint.fromPartial({
        id: newObjectId(),
        networkId: network.id,
        nodeId,
        kind: EndpointKind.ENDPOINT_KIND_CONTAINER,
        ownerId: req.ownerId,
        ownerName: req.ownerName,
        hostname: req.hostname,
        ipv4Address: v4 && v4Subnet ? `${v4}/${prefixLength(v4Subnet.subnet)}` : '',
        ipv6Address: v6 && v6Subnet ? `${v6}/${prefixLength(v6Subnet.subnet)}` : '',
        macAddress: macForAddress(v4),
        aliases: [...req.aliases],
        createdAt: BigInt(this.#clock.now()),
      });
      await this.#commit(
        network.id,
        endpoint,
        nameKey,
        taken.map((t) => t.fence),
      );
      log.info(
        { endpointId: endpoint.id, network: network.name, nodeId, ipv4: endpoint.ipv4Address },
        'endpoint attached',
      );
      return this.#response(network, endpoint);
    } catch (err) {
      if (err instanceof UncertainCommit) {
        log.warn(
          { err: err.error, addresses: taken.map((t) => t.address), network: network.name },
          'endpoint commit outcome unknown; its addresses stay allocated',
        );
        throw err.error;
      }
      // Fenced: a give-back after a sweep may have freed the address (reclaimed) does nothing.
      for (const t of taken) {
        await this.#allocator
          .release(network.id, t.subnet, t.address, { fence: t.fence })
          .catch((e: unknown) => log.warn({ err: e, address: t.address }, 'could not give back an address'));
      }
      throw err;
    }
  }

  /** What an attach answers for `endpoint` (also to a retry that finds it already committed). */
  #response(network: Network, endpoint: Endpoint): AttachNetworkResponse {
    const v4 = endpoint.ipv4Address.split('/')[0] ?? '';
    const v6 = endpoint.ipv6Address.split('/')[0] ?? '';
    const v4Subnet = v4 ? subnetFor(network, v4, false) : undefined;
    const v6Subnet = v6 ? subnetFor(network, v6, true) : undefined;
    return {
      endpoint,
      gateway: v4Subnet?.gateway ?? v6Subnet?.gateway ?? '',
      otherSubnets: network.subnets.filter((s) => !isV6(s) && s !== v4Subnet).map((s) => s.subnet),
      networkName: network.name,
      internal: network.internal,
      network,
    };
  }

  /**
   * @throws UncertainCommit when the store failed to answer the transaction and a read-back
   *   does not show it applied; AddressesReclaimed when a fence of its addresses failed.
   */
  async #commit(
    networkId: string,
    endpoint: Endpoint,
    nameKey: string,
    fences: readonly AddressFence[],
  ): Promise<void> {
    const attachment = attachmentKey(networkId, { kind: 'endpoint', owner: endpoint.id });
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const guard = await attachGuard(this.#store, networkId, this.#clock);
      let res;
      try {
        res = await this.#store.txn({
          compare: [...guard.compares, { key: nameKey, target: 'version', op: '==', value: 0n }, ...fences],
          success: [
            ...guard.ops,
            { type: 'put', key: storeKeys.endpoint(endpoint.id), value: encodeMessage(Endpoint, endpoint) },
            { type: 'put', key: nameKey, value: endpoint.id },
            { type: 'put', key: attachment, value: endpoint.nodeId },
          ],
          failure: [{ type: 'get', key: nameKey }, ...fences.map((f) => ({ type: 'get', key: f.key }) as const)],
        });
      } catch (err) {
        if (!(err instanceof VxmeshError) || err.code !== 'UNAVAILABLE') {
          throw err;
        }
        const name = await this.#store.get(nameKey).catch(() => undefined);
        if (name?.kv && Buffer.from(name.kv.value).toString('utf8') === endpoint.id) {
          return; // applied; only the answer was lost
        }
        throw new UncertainCommit(err);
      }
      if (res.succeeded) {
        return;
      }
      const [name, ...epochs] = res.results;
      if (name?.type === 'get' && name.kv) {
        throw new VxmeshError(
          'ALREADY_EXISTS',
          `endpoint with name ${endpoint.ownerName} already exists in network ${networkId}`,
        );
      }
      if (
        fences.some((f, i) => {
          const e = epochs[i];
          return e?.type === 'get' && !fenceHolds(f, e.kv?.modRevision ?? 0n);
        })
      ) {
        throw new AddressesReclaimed(`addresses of endpoint ${endpoint.id} were reclaimed by a sweep`);
      }
    }
    throw new VxmeshError('CONFLICT', `network ${networkId} kept changing while attaching; try again`);
  }

  /**
   * Removes an endpoint and gives its addresses back. A missing endpoint is not an error.
   * @throws VxmeshError PERMISSION_DENIED when a worker asks to detach another node's endpoint.
   */
  async detach(caller: { nodeId: string; role: 'manager' | 'worker' }, endpointId: string): Promise<void> {
    const { kv } = await this.#store.get(storeKeys.endpoint(endpointId));
    if (!kv) {
      return;
    }
    const endpoint = Endpoint.decode(kv.value);
    if (caller.role !== 'manager' && endpoint.nodeId !== caller.nodeId) {
      throw new VxmeshError('PERMISSION_DENIED', `endpoint ${endpointId} belongs to another node`);
    }
    const res = await this.#store.txn({
      compare: [{ key: storeKeys.endpoint(endpointId), target: 'modRevision', op: '==', value: kv.modRevision }],
      success: [
        { type: 'delete', key: storeKeys.endpoint(endpointId) },
        { type: 'delete', key: ownerNameKey(endpoint.networkId, endpoint.ownerName) },
        { type: 'delete', key: attachmentKey(endpoint.networkId, { kind: 'endpoint', owner: endpointId }) },
      ],
    });
    if (!res.succeeded) {
      throw new VxmeshError('CONFLICT', `endpoint ${endpointId} changed while detaching; try again`);
    }
    const network = (await getNetwork(this.#store, endpoint.networkId))?.network;
    if (!network) {
      // The network's addresses went with it.
      return;
    }
    const addresses = [endpoint.ipv4Address, endpoint.ipv6Address].filter((a) => a !== '');
    // The subnets exactly as the network records them: the allocator keys its bitmaps by that text.
    const held = heldAddresses(network, addresses);
    if (held.length < addresses.length) {
      log.warn({ addresses }, 'endpoint address is in no subnet of its network; nothing to give back');
    }
    // Fenced by the deletion: a sweep since then may have freed an address (and someone taken it).
    await releaseHeld(this.#allocator, held, res.revision);
  }
}
