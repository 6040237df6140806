import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { createRequest, fingerprint, openTestStore, seedCluster, STORE_KINDS } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

describe.each(STORE_KINDS)('address allocation on the %s store', (kind) => {
  let t: TestStore;
  let store: KvStore;
  let networks: NetworkService;
  let ipam: AddressAllocator;

  beforeEach(async () => {
    t = await openTestStore(kind);
    store = t.store;
    await seedCluster(store);
    networks = new NetworkService(store, systemClock);
    ipam = new AddressAllocator(store);
  });

  afterEach(async () => {
    await t.dispose();
  });

  it('fills a /29 and then fails cleanly, naming subnet and network, with nothing written', async () => {
    const { network } = await networks.create(createRequest('tiny', { subnets: ['10.5.0.0/29'] }));
    // .0 network, .1 gateway, .7 broadcast: five addresses to hand out.
    const before = await fingerprint(store);
    await expect(ipam.allocateMany(network.id, '10.5.0.0/29', 6)).rejects.toThrow(
      'no free address in 10.5.0.0/29 for 6 addresses (network "tiny"; 5 free)',
    );
    expect(await fingerprint(store)).toEqual(before);
    const got = await Promise.all([1, 2, 3, 4, 5].map(() => ipam.allocate(network.id, '10.5.0.0/29')));
    expect(got).toEqual(['10.5.0.2', '10.5.0.3', '10.5.0.4', '10.5.0.5', '10.5.0.6']);
    const full = await fingerprint(store);
    const refused = ipam.allocate(network.id, '10.5.0.0/29');
    await expect(refused).rejects.toThrow('no free address in 10.5.0.0/29 (network "tiny")');
    await expect(refused).rejects.toMatchObject({ code: 'EXHAUSTED' });
    // A second allocator (another manager) with a cold cache reaches the same answer.
    await expect(new AddressAllocator(store).allocate(network.id, '10.5.0.0/29')).rejects.toMatchObject({
      code: 'EXHAUSTED',
    });
    expect(await fingerprint(store)).toEqual(full);
    expect((await networks.get('tiny')).usage).toEqual([{ subnet: '10.5.0.0/29', inUse: 6n, free: 0n }]);
  });

  it('allocates serially: a released address is reissued only after the rest of the range', async () => {
    const { network } = await networks.create(createRequest('serial', { subnets: ['10.6.0.0/29'] }));
    const sub = '10.6.0.0/29';
    const a = await ipam.allocate(network.id, sub);
    const b = await ipam.allocate(network.id, sub);
    expect([a, b]).toEqual(['10.6.0.2', '10.6.0.3']);
    expect(await ipam.release(network.id, sub, a)).toBe(true);
    expect(await ipam.release(network.id, sub, a)).toBe(false);
    expect(await ipam.allocateMany(network.id, sub, 3)).toEqual(['10.6.0.4', '10.6.0.5', '10.6.0.6']);
    // Wraps round to the freed one only now.
    expect(await ipam.allocate(network.id, sub)).toBe('10.6.0.2');
  });

  it('keeps aux addresses and the gateway out of dynamic allocation and confines it to --ip-range', async () => {
    const { network } = await networks.create(
      createRequest('ranged', {
        subnets: ['10.9.0.0/24'],
        ipRanges: ['10.9.0.0/29'],
        auxAddresses: { a: '10.9.0.2', b: '10.9.0.4' },
      }),
    );
    const sub = '10.9.0.0/24';
    expect(await ipam.allocateMany(network.id, sub, 4)).toEqual(['10.9.0.3', '10.9.0.5', '10.9.0.6', '10.9.0.7']);
    await expect(ipam.allocate(network.id, sub)).rejects.toThrow('no free address in 10.9.0.0/24 (network "ranged")');
    // Static addresses may lie outside the range, inside the subnet.
    expect(await ipam.allocate(network.id, sub, { preferred: '10.9.0.200' })).toBe('10.9.0.200');
    const before = await fingerprint(store);
    const refusals: [string, RegExp, string][] = [
      ['10.9.0.200', /address 10.9.0.200 is already in use in network "ranged"/, 'ALREADY_EXISTS'],
      ['10.9.0.2', /10.9.0.2 is reserved as aux address a of 10.9.0.0\/24/, 'INVALID_ARGUMENT'],
      ['10.9.0.1', /10.9.0.1 is the gateway of 10.9.0.0\/24/, 'INVALID_ARGUMENT'],
      ['10.9.0.0', /10.9.0.0 is the network address/, 'INVALID_ARGUMENT'],
      ['10.9.0.255', /10.9.0.255 is the broadcast address/, 'INVALID_ARGUMENT'],
      ['10.9.1.1', /10.9.1.1 is outside subnet 10.9.0.0\/24 of network "ranged"/, 'INVALID_ARGUMENT'],
      ['fd00::1', /fd00::1 is outside subnet/, 'INVALID_ARGUMENT'],
      ['10.9.0.x', /"10.9.0.x" is not an IP address/, 'INVALID_ARGUMENT'],
    ];
    for (const [preferred, pattern, code] of refusals) {
      const attempt = ipam.allocate(network.id, sub, { preferred });
      await expect(attempt, preferred).rejects.toThrow(pattern);
      await expect(attempt, preferred).rejects.toMatchObject({ code });
    }
    await expect(ipam.release(network.id, sub, '10.9.0.2')).rejects.toThrow(/reserved as aux address a/);
    await expect(ipam.release(network.id, sub, '10.9.0.1')).rejects.toThrow(/is the gateway/);
    expect(await fingerprint(store)).toEqual(before);
    expect((await networks.get('ranged')).usage).toEqual([{ subnet: sub, inUse: 8n, free: 0n }]);
  });

  it('allocates IPv6 addresses serially and statically', async () => {
    const { network } = await networks.create(createRequest('six', { enableIpv6: true, subnets: ['fd00:5::/64'] }));
    const sub = 'fd00:5::/64';
    expect(await ipam.allocateMany(network.id, sub, 3)).toEqual(['fd00:5::2', 'fd00:5::3', 'fd00:5::4']);
    expect(await ipam.allocate(network.id, sub, { preferred: 'fd00:5::ffff:ffff:ffff:fffe' })).toBe(
      'fd00:5::ffff:ffff:ffff:fffe',
    );
    expect(await ipam.allocate(network.id, 'fd00:5:0:0::/64')).toBe('fd00:5::5');
    // Only an IPv6 subnet was given, so an IPv4 one came from the default pool (and got the VNI).
    expect(network.subnets.map((s) => [s.subnet, s.vni])).toEqual([
      ['10.0.1.0/24', 4097],
      ['fd00:5::/64', 0],
    ]);
    expect(await ipam.allocate(network.id, '10.0.1.0/24')).toBe('10.0.1.2');
    await expect(ipam.allocate(network.id, '10.99.0.0/24')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('batches concurrent requests: 300 allocations, all distinct, in far fewer transactions', async () => {
    const { network } = await networks.create(createRequest('busy', { subnets: ['10.40.0.0/22'] }));
    const sub = '10.40.0.0/22';
    await ipam.allocate(network.id, sub); // warm the cache: the rest is pure batching
    const start = (await store.get('v1/cluster')).revision;
    const got = await Promise.all(Array.from({ length: 300 }, () => ipam.allocate(network.id, sub)));
    const end = (await store.get('v1/cluster')).revision;
    expect(new Set(got).size).toBe(300);
    if (kind === 'embedded') {
      // Only this test writes to this store, so revisions count transactions.
      expect(end - start).toBeLessThan(10n);
    }
    expect((await networks.get('busy')).usage[0]).toMatchObject({ inUse: 302n });
  });

  it('two allocators (two managers) racing on one subnet never hand out an address twice', async () => {
    const { network } = await networks.create(createRequest('race', { subnets: ['10.41.0.0/21'] }));
    const sub = '10.41.0.0/21';
    const other = new AddressAllocator(store);
    const run = async (a: AddressAllocator): Promise<string[]> => {
      const out: string[] = [];
      for (let i = 0; i < 25; i++) {
        out.push(...(await Promise.all(Array.from({ length: 8 }, () => a.allocate(network.id, sub)))));
        if (i % 5 === 0) {
          out.push(...(await a.allocateMany(network.id, sub, 3)));
        }
      }
      return out;
    };
    const [x, y] = await Promise.all([run(ipam), run(other)]);
    const all = [...x, ...y];
    expect(all).toHaveLength(2 * (200 + 15));
    expect(new Set(all).size).toBe(all.length);
    expect((await networks.get('race')).usage[0]).toMatchObject({ inUse: BigInt(all.length + 1) });
  });

  it('refuses allocations in a removed network without leaving keys behind', async () => {
    const { network } = await networks.create(createRequest('gone', { subnets: ['10.42.0.0/24'] }));
    await ipam.allocate(network.id, '10.42.0.0/24');
    await networks.remove('gone');
    const before = await fingerprint(store);
    await expect(ipam.allocate(network.id, '10.42.0.0/24')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(new AddressAllocator(store).allocate(network.id, '10.42.0.0/24')).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    expect(await fingerprint(store)).toEqual(before);
    expect([...before.keys()].some((k) => k.includes(network.id))).toBe(false);
  });
});
