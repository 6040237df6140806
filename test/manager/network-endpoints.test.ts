import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { Endpoint, EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { attachmentKey } from '../../src/manager/network/network-attachments.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { createRequest, openTestStore, seedCluster } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

// `network inspect` / `network ls` answers carry the network's endpoints (aliases included): get
// reads them through the network's attachment keys in batched transactions, list with one range.
// The embedded store enforces etcd's 128-operation limit, so 150 endpoints exercise the batching.

describe('NetworkService endpoints (embedded store)', () => {
  let t: TestStore;
  let store: KvStore;
  let networks: NetworkService;

  beforeEach(async () => {
    t = await openTestStore('embedded');
    store = t.store;
    await seedCluster(store, { ingress: false });
    networks = new NetworkService(store, systemClock);
  });

  afterEach(async () => {
    await t.dispose();
  });

  /** An endpoint record with its attachment key, as EndpointService commits them. */
  async function putEndpoint(networkId: string, n: number, aliases: string[] = []): Promise<Endpoint> {
    const endpoint = Endpoint.fromPartial({
      id: `ep${String(n).padStart(4, '0')}`,
      networkId,
      nodeId: 'node-a',
      kind: EndpointKind.ENDPOINT_KIND_CONTAINER,
      ownerId: `owner${n}`,
      ownerName: `c${n}`,
      ipv4Address: `10.7.${n >> 8}.${n & 255}/16`,
      aliases,
    });
    await store.put(storeKeys.endpoint(endpoint.id), encodeMessage(Endpoint, endpoint));
    await store.put(attachmentKey(networkId, { kind: 'endpoint', owner: endpoint.id }), 'node-a');
    return endpoint;
  }

  it('get and list return each network’s endpoints, sorted by ID, aliases included', async () => {
    const a = (await networks.create(createRequest('neta', { subnets: ['10.7.0.0/16'], attachable: true }))).network;
    const b = (await networks.create(createRequest('netb', { subnets: ['10.8.0.0/16'], attachable: true }))).network;
    const empty = (await networks.create(createRequest('netc', { attachable: true }))).network;
    for (let n = 150; n >= 1; n--) {
      await putEndpoint(a.id, n, n === 7 ? ['app', 'web'] : []);
    }
    const onB = await putEndpoint(b.id, 999, ['app']);
    // A service's attachment is not an endpoint and is not listed.
    await store.put(attachmentKey(a.id, { kind: 'service', owner: 'svc1' }), 'x');

    const got = await networks.get('neta');
    expect(got.endpoints).toHaveLength(150);
    expect(got.endpoints.map((e) => e.id)).toEqual([...got.endpoints.map((e) => e.id)].sort());
    expect(got.endpoints.find((e) => e.ownerName === 'c7')?.aliases).toEqual(['app', 'web']);
    expect((await networks.get('netb')).endpoints).toEqual([onB]);
    expect((await networks.get(empty.id)).endpoints).toEqual([]);

    const listed = new Map((await networks.list()).map((v) => [v.network?.name, v.endpoints]));
    expect(listed.get('neta')).toEqual(got.endpoints);
    expect(listed.get('netb')).toEqual([onB]);
    expect(listed.get('netc')).toEqual([]);
  });

  it('leaves out an endpoint removed after its attachment key was read', async () => {
    const a = (await networks.create(createRequest('neta', { subnets: ['10.7.0.0/16'], attachable: true }))).network;
    await putEndpoint(a.id, 1);
    const gone = await putEndpoint(a.id, 2);
    await store.delete(storeKeys.endpoint(gone.id));
    expect((await networks.get('neta')).endpoints.map((e) => e.ownerName)).toEqual(['c1']);
  });
});
