import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KvStore, TxnRequest, TxnResult } from '../../src/kvstore/index.js';
import type { Network } from '../../src/gen/vxmesh/v1/network.js';
import { EndpointService } from '../../src/manager/endpoints/endpoint-service.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import { removalFence } from '../../src/manager/ipam/address-fence.js';
import { AddressSweeper } from '../../src/manager/ipam/address-sweeper.js';
import type { SweepSummary } from '../../src/manager/ipam/address-sweeper.js';
import { loadBitmap } from '../../src/manager/ipam/bitmap-store.js';
import { countSetBits } from '../../src/manager/ipam/chunked-bitmap.js';
import { parseAddress, parseCidr } from '../../src/manager/ipam/cidr.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { releaseAll } from '../../src/manager/services/network-addresses.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { ManualClock } from '../support/manual-clock.js';
import { createRequest, openTestStore, seedCluster, STORE_KINDS } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';
import { ALWAYS_LEADER } from './services-fixtures.js';

const SUBNET = '10.30.0.0/24';
const MIN_AGE = 60_000;

/** Runs `after` once, right after the first transaction that only bumps a sweep epoch commits. */
function afterBump(store: KvStore, after: () => Promise<void>): KvStore {
  let pending: (() => Promise<void>) | undefined = after;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'txn') {
        return async (req: TxnRequest, opts?: unknown): Promise<TxnResult> => {
          const res = await target.txn(req, opts as never);
          const bump =
            req.success.length === 1 && req.success[0]?.type === 'put' && req.success[0].key.endsWith('/swept');
          const hook = pending;
          if (res.succeeded && bump && hook) {
            pending = undefined;
            await hook();
          }
          return res;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe.each(STORE_KINDS)('address sweep on the %s store', (kind) => {
  let t: TestStore;
  let store: KvStore;
  let ipam: AddressAllocator;
  let clock: ManualClock;
  let network: Network;

  const sweeperOn = (s: KvStore): AddressSweeper =>
    new AddressSweeper({ store: s, clock, leaderFence: () => ALWAYS_LEADER, minOrphanAgeMs: MIN_AGE });

  /** Whether the address's bit is set in the store. */
  const allocated = async (address: string): Promise<boolean> => {
    const snapshot = await loadBitmap(store, { prefix: storeKeys.subnetAddressesPrefix(network.id, SUBNET) });
    const offset = parseAddress(address, 'address').value - parseCidr(SUBNET, 'subnet').base;
    return countSetBits(snapshot, offset, offset) === 1n;
  };

  const summary = (r: SweepSummary | 'not-leader'): Pick<SweepSummary, 'candidates' | 'ripe' | 'released'> => {
    if (r === 'not-leader') {
      throw new Error('not leading');
    }
    return { candidates: r.candidates, ripe: r.ripe, released: r.released };
  };

  beforeEach(async () => {
    t = await openTestStore(kind);
    store = t.store;
    await seedCluster(store);
    clock = new ManualClock();
    ipam = new AddressAllocator(store);
    const networks = new NetworkService(store, clock);
    ({ network } = await networks.create(
      createRequest('leaky', { subnets: [SUBNET], attachable: true, auxAddresses: { printer: '10.30.0.9' } }),
    ));
  });

  afterEach(async () => {
    await t.dispose();
  });

  /** A container endpoint on the leaky network, through the endpoint service (an owned address). */
  const attachWeb1 = () =>
    new EndpointService(store, ipam, clock).attach('node-1', {
      network: 'leaky',
      ownerId: 'c1',
      ownerName: 'web-1',
      hostname: 'web-1',
      ipv4Address: '',
      ipv6Address: '',
      aliases: [],
    });

  it('frees a leak after the minimum age over two sweeps; never an owned address, the gateway or an aux address', async () => {
    const attached = await attachWeb1();
    const owned = attached.endpoint?.ipv4Address.split('/')[0] ?? '';
    const leak = await ipam.allocate(network.id, SUBNET);
    expect([owned, leak]).toEqual(['10.30.0.2', '10.30.0.3']);

    const sweeper = sweeperOn(store);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 0, released: 0 });
    await clock.advance(MIN_AGE / 2);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 0, released: 0 });
    expect(await allocated(leak)).toBe(true);
    await clock.advance(MIN_AGE / 2);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 1 });

    expect(await allocated(leak)).toBe(false);
    for (const kept of [owned, '10.30.0.1', '10.30.0.9']) {
      expect(await allocated(kept), kept).toBe(true);
    }
    expect(sweeper.releasedTotal).toBe(1);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 0, ripe: 0, released: 0 });
    // The endpoint's own detach still gives its address back (its removal fence holds).
    await new EndpointService(store, ipam, clock).detach({ nodeId: 'node-1', role: 'manager' }, attached.endpoint?.id ?? '');
    expect(await allocated(owned)).toBe(false);
  });

  it('does nothing while this manager does not lead', async () => {
    await ipam.allocate(network.id, SUBNET);
    const sweeper = new AddressSweeper({ store, clock, leaderFence: () => undefined, minOrphanAgeMs: 0 });
    expect(await sweeper.sweep()).toBe('not-leader');
    await clock.advance(MIN_AGE);
    expect(await sweeper.sweep()).toBe('not-leader');
    expect(await allocated('10.30.0.2')).toBe(true);
  });

  it('leaves an address whose chunk was written after the epoch bump to a later sweep', async () => {
    const first = await ipam.allocate(network.id, SUBNET);
    let second = '';
    // Another manager allocates in the same chunk between the bump and the sweep's second read.
    const racing = afterBump(store, async () => {
      second = await new AddressAllocator(store).allocate(network.id, SUBNET);
    });
    const sweeper = sweeperOn(racing);
    await sweeper.sweep();
    await clock.advance(MIN_AGE);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 0 });
    expect([await allocated(first), await allocated(second)]).toEqual([true, true]);

    await clock.advance(MIN_AGE);
    // `first` is ripe and its chunk now predates this sweep's bump; `second` was first seen last sweep.
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 2, ripe: 1, released: 1 });
    expect([await allocated(first), await allocated(second)]).toEqual([false, true]);
    await clock.advance(MIN_AGE);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 1 });
    expect(await allocated(second)).toBe(false);
  });

  it('a paused owner write fails after the sweep freed its address, gives nothing back, and the address gets one holder', async () => {
    const taken = await ipam.allocateFenced(network.id, SUBNET);
    const sweeper = sweeperOn(store);
    await sweeper.sweep();
    await clock.advance(MIN_AGE);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 1 });

    // The writer resumes: its owner write carries the allocation's fence and fails cleanly.
    const owner = await store.txn({
      compare: [taken.fence],
      success: [{ type: 'put', key: storeKeys.endpoint('paused-owner'), value: taken.address }],
    });
    expect(owner.succeeded).toBe(false);

    // Someone else gets the address; the writer's give-back (fenced) then frees nothing.
    const other = new AddressAllocator(store);
    expect(await other.allocate(network.id, SUBNET, { preferred: taken.address })).toBe(taken.address);
    await releaseAll(ipam, [{ networkId: network.id, subnet: SUBNET, ...taken }]);
    expect(await ipam.release(network.id, SUBNET, taken.address, { fence: taken.fence })).toBe(false);
    expect(await allocated(taken.address)).toBe(true);
    // Exactly one holder: a second request for it is refused, on both allocators.
    await expect(other.allocate(network.id, SUBNET, { preferred: taken.address })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    await expect(ipam.allocate(network.id, SUBNET, { preferred: taken.address })).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
  });

  it('an owner write landing between the sweep reads and its release fails: the epoch moved first', async () => {
    const taken = await ipam.allocateFenced(network.id, SUBNET);
    let ownerCommitted: boolean | undefined;
    const racing = afterBump(store, async () => {
      const res = await store.txn({
        compare: [taken.fence],
        success: [{ type: 'put', key: storeKeys.endpoint('late-owner'), value: taken.address }],
      });
      ownerCommitted = res.succeeded;
    });
    const sweeper = sweeperOn(racing);
    await sweeper.sweep();
    await clock.advance(MIN_AGE);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 1 });
    expect(ownerCommitted).toBe(false);
    expect((await store.get(storeKeys.endpoint('late-owner'))).kv).toBeUndefined();
  });

  it('a give-back fenced by an owner deletion frees nothing once a sweep freed the address', async () => {
    const attached = await attachWeb1();
    const address = attached.endpoint?.ipv4Address.split('/')[0] ?? '';
    // The owner is deleted, and the manager that deleted it pauses before giving the address back.
    const deleted = await store.txn({
      compare: [],
      success: [{ type: 'delete', key: storeKeys.endpoint(attached.endpoint?.id ?? '') }],
    });
    const sweeper = sweeperOn(store);
    await sweeper.sweep();
    await clock.advance(MIN_AGE);
    expect(summary(await sweeper.sweep())).toEqual({ candidates: 1, ripe: 1, released: 1 });
    expect(await new AddressAllocator(store).allocate(network.id, SUBNET, { preferred: address })).toBe(address);

    const fence = removalFence(storeKeys.subnetSweepEpoch(network.id, SUBNET), deleted.revision);
    expect(await ipam.release(network.id, SUBNET, address, { fence })).toBe(false);
    expect(await allocated(address)).toBe(true);
  });
});
