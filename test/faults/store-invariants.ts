/**
 * What must hold in the cluster store after any fault (RELIABILITY.md A4 tests 1, 31, 32):
 * no address, subnet or VNI has two live holders, and every holder's address or VNI is marked
 * taken in its bitmap (a holder whose bit is clear is a duplicate waiting to happen: the next
 * allocation may hand the same address out again). Reads through the same key layout and
 * decoders as the managers.
 */
import type { KvStore } from '../../src/kvstore/index.js';
import { Endpoint } from '../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../src/gen/vxmesh/v1/network.js';
import { Service } from '../../src/gen/vxmesh/v1/service.js';
import { Task } from '../../src/gen/vxmesh/v1/task.js';
import { Node } from '../../src/gen/vxmesh/v1/node.js';
import { snapshotFromKeys } from '../../src/manager/ipam/bitmap-store.js';
import type { BitmapLocation } from '../../src/manager/ipam/bitmap-store.js';
import { countSetBits } from '../../src/manager/ipam/chunked-bitmap.js';
import type { BitmapSnapshot } from '../../src/manager/ipam/chunked-bitmap.js';
import { cidrContains, cidrOverlaps, parseAddress, parseCidr } from '../../src/manager/ipam/cidr.js';
import { rangeAll } from '../../src/manager/ipam/range-all.js';
import { VNI_BITMAP } from '../../src/manager/ipam/vni-space.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';

/** The records the checks and the fault suite look at. */
export interface StoreFacts {
  readonly networks: readonly Network[];
  readonly endpoints: readonly Endpoint[];
  readonly services: readonly Service[];
  readonly tasks: readonly Task[];
  readonly nodes: readonly Node[];
  /** Every key's raw value, for bitmaps and claims. */
  readonly raw: ReadonlyMap<string, Uint8Array>;
}

/** Decodes the records of a full copy of the store's keys (without the etcd namespace). */
export function factsFromEntries(raw: ReadonlyMap<string, Uint8Array>): StoreFacts {
  const decodeAll = <T>(prefix: string, decode: (b: Uint8Array) => T): T[] =>
    [...raw].filter(([key]) => key.startsWith(prefix)).map(([, value]) => decode(value));
  return {
    networks: decodeAll(storeKeys.networksPrefix, (b) => Network.decode(b)),
    endpoints: decodeAll(storeKeys.endpointsPrefix, (b) => Endpoint.decode(b)),
    services: decodeAll(storeKeys.servicesPrefix, (b) => Service.decode(b)),
    tasks: decodeAll(storeKeys.tasksPrefix, (b) => Task.decode(b)),
    nodes: decodeAll(storeKeys.nodesPrefix, (b) => Node.decode(b)),
    raw,
  };
}

/** Reads every record through a store client, as one consistent snapshot. */
export async function readFacts(store: KvStore): Promise<StoreFacts> {
  const raw = new Map<string, Uint8Array>();
  for (const kv of (await rangeAll(store, 'v1/')).kvs) {
    raw.set(kv.key, kv.value);
  }
  return factsFromEntries(raw);
}

function bitmapOf(facts: StoreFacts, loc: BitmapLocation): BitmapSnapshot {
  const kvs = [...facts.raw]
    .filter(([key]) => key.startsWith(loc.prefix))
    .map(([key, value]) => ({ key, value, createRevision: 0n, modRevision: 0n, version: 1n, lease: 0n }));
  return snapshotFromKeys(loc, kvs);
}

function isSet(snapshot: BitmapSnapshot, offset: bigint): boolean {
  return countSetBits(snapshot, offset, offset) === 1n;
}

/**
 * Every violation found, as one line each; empty when the store is consistent.
 * Holders: endpoint records (containers, tasks, load balancers) and service VIPs, per network.
 */
export function checkInvariants(facts: StoreFacts): string[] {
  const problems: string[] = [];
  const networks = new Map(facts.networks.map((n) => [n.id, n]));

  // Subnets and VNIs: one network each, every subnet claimed by its network, every VNI taken.
  const vnis = new Map<number, string>();
  const subnets: { network: string; text: string }[] = [];
  const vniBitmap = bitmapOf(facts, VNI_BITMAP);
  for (const n of facts.networks) {
    for (const s of n.subnets) {
      for (const other of subnets) {
        if (other.network !== n.name && cidrOverlaps(parseCidr(other.text, 'subnet'), parseCidr(s.subnet, 'subnet'))) {
          problems.push(`subnet ${s.subnet} of ${n.name} overlaps ${other.text} of ${other.network}`);
        }
      }
      subnets.push({ network: n.name, text: s.subnet });
      const claim = facts.raw.get(storeKeys.subnetClaim(s.subnet));
      if (claim === undefined) {
        problems.push(`subnet ${s.subnet} of ${n.name} has no claim key`);
      }
      if (s.vni !== 0) {
        const holder = vnis.get(s.vni);
        if (holder !== undefined) {
          problems.push(`VNI ${s.vni} held by ${holder} and ${n.name}`);
        }
        vnis.set(s.vni, n.name);
        if (!isSet(vniBitmap, BigInt(s.vni))) {
          problems.push(`VNI ${s.vni} of ${n.name} is not marked taken`);
        }
      }
    }
  }

  // Addresses: per network, one holder each, inside a subnet, marked taken in that subnet's bitmap.
  const holders = new Map<string, string>();
  const hold = (networkId: string, cidrText: string, who: string): void => {
    if (cidrText === '') {
      return;
    }
    const network = networks.get(networkId);
    if (!network) {
      problems.push(`${who} holds ${cidrText} on network ${networkId}, which does not exist`);
      return;
    }
    const address = cidrText.split('/')[0] ?? '';
    const key = `${networkId} ${address}`;
    const previous = holders.get(key);
    if (previous !== undefined) {
      problems.push(`${address} on ${network.name} held by ${previous} and ${who}`);
      return;
    }
    holders.set(key, who);
    const ip = parseAddress(address, 'address');
    const subnet = network.subnets.find((s) => cidrContains(parseCidr(s.subnet, 'subnet'), ip));
    if (!subnet) {
      problems.push(`${who}: ${address} is in no subnet of ${network.name}`);
      return;
    }
    const cidr = parseCidr(subnet.subnet, 'subnet');
    const bitmap = bitmapOf(facts, { prefix: storeKeys.subnetAddressesPrefix(networkId, subnet.subnet) });
    if (!isSet(bitmap, ip.value - cidr.base)) {
      problems.push(`${who}: ${address} on ${network.name} is not marked taken (a later allocation may reuse it)`);
    }
  };
  for (const e of facts.endpoints) {
    const who = `endpoint ${e.ownerName || e.id} (${e.id.slice(0, 8)})`;
    hold(e.networkId, e.ipv4Address, who);
    hold(e.networkId, e.ipv6Address, who);
  }
  for (const s of facts.services) {
    for (const vip of s.virtualIps) {
      hold(vip.networkId, vip.addr, `VIP of ${s.spec?.name ?? s.id}`);
    }
  }
  return problems;
}
