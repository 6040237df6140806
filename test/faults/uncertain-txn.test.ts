/**
 * RELIABILITY.md A4 test 3: the response to an allocation transaction is lost (a TCP proxy in
 * front of etcd cuts the connection after etcd applied it), the caller sees UNAVAILABLE and
 * retries. Nothing may end up with two holders, and every endpoint's address must stay marked
 * taken, including after the subnet wraps around and hands out addresses again.
 */
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { VxmeshError } from '../../src/common/errors.js';
import { EtcdKvStore } from '../../src/kvstore/index.js';
import { EndpointService } from '../../src/manager/endpoints/endpoint-service.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { createRequest, seedCluster } from '../manager/network-fixtures.js';
import { kvPrefix } from '../support/kv-prefix.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import { startResponseDropProxy } from './response-drop-proxy.js';
import type { ResponseDropProxy } from './response-drop-proxy.js';
import { checkInvariants, readFacts } from './store-invariants.js';

describe('a lost response to an allocation transaction, then a retry', () => {
  let proxy: ResponseDropProxy;
  let store: EtcdKvStore;
  let direct: EtcdKvStore;

  beforeEach(async () => {
    const url = new URL(inject('etcdEndpoint'));
    proxy = await startResponseDropProxy({ host: url.hostname, port: Number(url.port) });
    const namespace = kvPrefix('uncertain');
    store = new EtcdKvStore({ endpoints: [proxy.endpoint], namespace, dialTimeoutMs: 2000 });
    direct = new EtcdKvStore({ endpoints: [url.origin], namespace });
    await seedCluster(store, { ingress: false });
  });

  afterEach(async () => {
    await store.close();
    await direct.close();
    await proxy.close();
  });

  const attachRequest = (name: string) => ({
    network: 'small',
    ownerId: `owner-${name}`,
    ownerName: name,
    hostname: name,
    ipv4Address: '',
    ipv6Address: '',
    aliases: [],
  });

  const outcome = (p: Promise<{ endpoint?: { ipv4Address: string } | undefined }>): Promise<string> =>
    p.then(
      (r) => `ok ${r.endpoint?.ipv4Address}`,
      (err: unknown) => (err instanceof VxmeshError ? err.code : String(err)),
    );

  /**
   * Fills the /29 after c1 (serial allocation wraps around to whatever was freed) and checks the
   * store: one c1, no address with two holders, every held address marked taken.
   */
  const fillAndCheck = async (endpoints: EndpointService): Promise<{ c1: string; others: string[] }> => {
    const others: string[] = [];
    for (const name of ['c2', 'c3', 'c4', 'c5', 'c6']) {
      others.push(`${name} ${await outcome(endpoints.attach('node-a', attachRequest(name)))}`);
    }
    const facts = await readFacts(direct);
    expect(checkInvariants(facts)).toEqual([]);
    const c1 = facts.endpoints.filter((e) => e.ownerName === 'c1');
    expect(c1).toHaveLength(1);
    return { c1: c1[0]?.ipv4Address ?? '', others };
  };

  const setUp = async (): Promise<EndpointService> => {
    // A /29: five addresses for containers, so serial allocation wraps around quickly.
    await new NetworkService(store, systemClock).create(
      createRequest('small', { subnets: ['10.99.0.0/29'], attachable: true }),
    );
    return new EndpointService(store, new AddressAllocator(store, { clock: systemClock }), systemClock);
  };

  // The commit writes the endpoint, its name index and the attachment in one transaction;
  // nothing else sends both keys.
  const COMMIT = ['endpoint-names/', 'network-attachments/'];

  it('etcd reachable again at once: the manager reads the outcome back and acknowledges', async () => {
    const endpoints = await setUp();
    const lost = proxy.dropNextResponse(COMMIT);
    const first = await outcome(endpoints.attach('node-a', attachRequest('c1')));
    await lost;
    expect(proxy.dropped).toBe(1);
    const { c1, others } = await fillAndCheck(endpoints);
    console.log(`uncertain-txn (read back): first attempt ${first}; then ${others.join(', ')}`);
    expect(first).toBe(`ok ${c1}`);
  });

  it('etcd unreachable for a while: UNAVAILABLE, the addresses stay taken, and the retry gets the same endpoint', async () => {
    const endpoints = await setUp();
    const lost = proxy.dropNextResponse(COMMIT, { refuseMs: 3000 });
    const first = await outcome(endpoints.attach('node-a', attachRequest('c1')));
    await lost;
    expect(first).toBe('UNAVAILABLE');
    await waitFor(async () => (await outcome(store.get('v1/cluster').then(() => ({})))) !== 'UNAVAILABLE', 10_000, {
      what: 'etcd reachable through the proxy again',
    });
    const retry = await outcome(endpoints.attach('node-a', attachRequest('c1')));
    const { c1, others } = await fillAndCheck(endpoints);
    console.log(`uncertain-txn (retry): first attempt ${first}; retry ${retry}; then ${others.join(', ')}`);
    expect(retry).toBe(`ok ${c1}`);
  });
});
