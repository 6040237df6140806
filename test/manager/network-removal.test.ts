import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import {
  attachGuard,
  attachToNetwork,
  attachmentKey,
  detachFromNetwork,
  STALE_REMOVAL_MS,
} from '../../src/manager/network/network-attachments.js';
import { resolveNetwork } from '../../src/manager/network/network-records.js';
import { removeNetwork } from '../../src/manager/network/network-removal.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { ManualClock } from '../support/manual-clock.js';
import { createRequest, fingerprint, openTestStore, seedCluster, STORE_KINDS } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

describe.each(STORE_KINDS)('network removal on the %s store', (kind) => {
  let t: TestStore;
  let store: KvStore;
  let networks: NetworkService;
  const clock = new ManualClock(systemClock.now());

  beforeEach(async () => {
    t = await openTestStore(kind);
    store = t.store;
    await seedCluster(store);
    networks = new NetworkService(store, clock);
  });

  afterEach(async () => {
    await t.dispose();
  });

  it('removes everything allocated with a network in one go: record, name, claims, VNIs, addresses', async () => {
    const before = await fingerprint(store);
    const { network } = await networks.create(
      createRequest('app', {
        subnets: ['10.1.0.0/24', '10.2.0.0/24'],
        auxAddresses: { r: '10.1.0.9' },
        options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000,5001' },
      }),
    );
    await new AddressAllocator(store).allocateMany(network.id, '10.1.0.0/24', 20);
    expect(await networks.remove(network.id.slice(0, 6))).toMatchObject({ name: 'app', ingress: false });
    const after = await fingerprint(store);
    expect(
      [...after.keys()].filter((k) => k.includes(network.id) || k.includes('app') || k.includes('10.1.0.0')),
    ).toEqual([]);
    // What remains is exactly what was there before, apart from the claims guard that every
    // create rewrites; the chunk of VNIs 5000-5001 became all clear and was deleted.
    expect([...after.keys()].filter((k) => after.get(k) !== before.get(k))).toEqual(['v1/ipam/subnets/guard']);
    expect([...before.keys()].filter((k) => !after.has(k))).toEqual([]);
    // Its subnets and VNIs are free again.
    const again = await networks.create(
      createRequest('app', {
        subnets: ['10.1.0.0/24'],
        options: { 'com.docker.network.driver.overlay.vxlanid_list': '5000' },
      }),
    );
    expect(again.network.subnets[0]?.vni).toBe(5000);
  });

  it('refuses to remove a network in use, and removes it once the user detaches', async () => {
    const { network } = await networks.create(createRequest('used'));
    await attachToNetwork(store, network.id, { kind: 'endpoint', owner: 'ep1' }, '{}', clock);
    await attachToNetwork(store, network.id, { kind: 'service', owner: 'svc1' }, '{}', clock);
    const refused = networks.remove('used');
    await expect(refused).rejects.toThrow(/network used \([0-9a-z]{25}\) is in use by endpoint ep1; remove it first/);
    await expect(refused).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    // Refusal leaves no marker: attaching still works.
    expect((await store.get(storeKeys.networkRemoval(network.id))).kv).toBeUndefined();
    await attachToNetwork(store, network.id, { kind: 'endpoint', owner: 'ep2' }, '{}', clock);
    expect(await detachFromNetwork(store, network.id, { kind: 'endpoint', owner: 'ep1' })).toBe(true);
    expect(await detachFromNetwork(store, network.id, { kind: 'endpoint', owner: 'ep1' })).toBe(false);
    await detachFromNetwork(store, network.id, { kind: 'endpoint', owner: 'ep2' });
    await expect(networks.remove('used')).rejects.toThrow(/in use by service svc1/);
    await detachFromNetwork(store, network.id, { kind: 'service', owner: 'svc1' });
    await networks.remove('used');
    await expect(networks.get('used')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(
      attachToNetwork(store, network.id, { kind: 'endpoint', owner: 'x' }, '{}', clock),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('an attach planned before a removal cannot commit after it; attaches during removal are refused', async () => {
    const { network } = await networks.create(createRequest('racy'));
    const guard = await attachGuard(store, network.id, clock);
    await removeNetwork(store, await resolveNetwork(store, 'racy'), clock);
    const late = await store.txn({
      compare: guard.compares,
      success: [{ type: 'put', key: attachmentKey(network.id, { kind: 'endpoint', owner: 'late' }), value: '{}' }],
    });
    expect(late.succeeded).toBe(false);

    // A removal in progress (marker present): attaches are refused until the marker is stale.
    const { network: other } = await networks.create(createRequest('marked'));
    await store.put(storeKeys.networkRemoval(other.id), JSON.stringify({ since: clock.now() }));
    await expect(attachToNetwork(store, other.id, { kind: 'endpoint', owner: 'e' }, '{}', clock)).rejects.toThrow(
      /network marked is being removed/,
    );
    // A marker left by a manager that died mid-removal is cleared by the next attach.
    await clock.advance(STALE_REMOVAL_MS + 1);
    await attachToNetwork(store, other.id, { kind: 'endpoint', owner: 'e' }, '{}', clock);
    expect((await store.get(storeKeys.networkRemoval(other.id))).kv).toBeUndefined();
    await expect(networks.remove('marked')).rejects.toThrow(/in use by endpoint e/);
  });

  it('removal racing with attaches: either the attach is refused or the removal is', async () => {
    for (let round = 0; round < 10; round++) {
      const { network } = await networks.create(createRequest(`r${round}`));
      const [attach, remove] = await Promise.allSettled([
        attachToNetwork(store, network.id, { kind: 'endpoint', owner: 'e' }, '{}', clock),
        networks.remove(network.id),
      ]);
      const attachments = await store.range(storeKeys.networkAttachmentsPrefix(network.id));
      const exists = (await store.get(storeKeys.network(network.id))).kv !== undefined;
      if (remove.status === 'fulfilled') {
        expect(attach.status).toBe('rejected');
        expect(exists).toBe(false);
        expect(attachments.kvs).toEqual([]);
      } else {
        expect(attach.status).toBe('fulfilled');
        expect(exists).toBe(true);
        expect(attachments.kvs).toHaveLength(1);
      }
    }
  });

  it('prunes unused networks matching label and until filters, never ingress', async () => {
    const t0 = clock.now();
    await networks.create(createRequest('old', { labels: { env: 'dev', keep: '' } }));
    await clock.advance(1000);
    await networks.create(createRequest('dev', { labels: { env: 'dev' } }));
    await networks.create(createRequest('prod', { labels: { env: 'prod' } }));
    const { network: busy } = await networks.create(createRequest('busy', { labels: { env: 'dev' } }));
    await attachToNetwork(store, busy.id, { kind: 'service', owner: 's' }, '{}', clock);
    await clock.advance(1000);
    await networks.create(createRequest('new', { labels: { env: 'dev' } }));

    expect(await networks.prune({ labels: ['env=dev'], notLabels: ['keep'], until: BigInt(t0 + 1500) })).toEqual([
      'dev',
    ]);
    expect(await networks.prune({ labels: ['env'], notLabels: ['env=prod'], until: 0n })).toEqual(['new', 'old']);
    expect(await networks.prune({ labels: [], notLabels: [], until: 0n })).toEqual(['prod']);
    expect((await networks.list()).map((v) => v.network?.name)).toEqual(['busy', 'ingress']);
  });
});
