/**
 * The IPsec keys through the real manager and dispatcher: the leader's KeyManager creates and
 * rotates the ring in the store, the dispatcher pushes it only to nodes with an endpoint on an
 * encrypted network, and each node's boot ID reaches its peers (key derivation, issue 9).
 */
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { EmbeddedKvStore } from '../../src/kvstore/index.js';
import { Network } from '../../src/gen/vxmesh/v1/network.js';
import type { NetworkKey } from '../../src/gen/vxmesh/v1/network.js';
import { KeyManager, readKeyRing } from '../../src/manager/keys/index.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { readBootId } from '../../src/vxlan/ipsec/boot-id.js';
import type { NodeAgent } from '../../src/worker/node-agent.js';
import { DispatcherFixture, heldKeys } from '../support/dispatcher-fixture.js';
import { waitUntil } from '../support/loopback-daemons.js';

const KEYS_ITEM = 'network-keys/cluster';

function keysHeld(agent: NodeAgent): readonly NetworkKey[] | undefined {
  const item = agent.assignments.items.get(KEYS_ITEM)?.item;
  return item?.$case === 'networkKeys' ? item.value.keys : undefined;
}

describe('IPsec key distribution', () => {
  it('reaches only the nodes on an encrypted network, follows rotations, and carries boot IDs to peers', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    await using f = new DispatcherFixture(store);
    const { manager } = await f.startManager();
    await using keys = new KeyManager({ store, clock: systemClock, leaderFence: () => manager.presence.leaderFence() });
    keys.start();
    await waitUntil(async () => (await readKeyRing(store)) !== undefined, 10_000, 'the leader to create the ring');
    const a = await f.startAgent('a');
    const b = await f.startAgent('b');
    const c = await f.startAgent('c');
    await store.put(
      storeKeys.network('e1'),
      encodeMessage(
        Network,
        Network.fromPartial({
          id: 'e1',
          name: 'e1',
          driver: 'overlay',
          encrypted: true,
          subnets: [{ subnet: '10.7.0.0/24', gateway: '10.7.0.1', vni: 4700 }],
        }),
      ),
    );
    await f.putNetwork('n2', '10.2.0.0/24', 4098);
    await f.putEndpoint('ea', 'e1', a.nodeId, '10.7.0.2');
    await f.putEndpoint('eb', 'e1', b.nodeId, '10.7.0.3');
    await f.putEndpoint('ec', 'n2', c.nodeId, '10.2.0.2');
    await waitUntil(
      () => keysHeld(a.agent) !== undefined && keysHeld(b.agent) !== undefined,
      10_000,
      'a and b to hold the keys',
    );
    await waitUntil(() => heldKeys(c.agent).includes('endpoint/ec'), 10_000, 'c to hold its endpoint');
    expect(heldKeys(c.agent)).not.toContain(KEYS_ITEM);
    const ring = (await readKeyRing(store))?.ring;
    expect(keysHeld(a.agent)?.map((k) => k.tag)).toEqual(ring?.keys.map((k) => k.tag));

    // The boot ID each agent sent when its session opened reaches the other as part of the peer.
    await waitUntil(
      () => {
        const peer = b.agent.assignments.items.get(`peer/${a.nodeId}`)?.item;
        return peer?.$case === 'peer' && peer.value.bootId === readBootId();
      },
      10_000,
      "b to learn a's boot ID",
    );

    // Rotation: every holder gets the new ring.
    expect(await keys.rotateNow()).toBe('rotated');
    const rotated = (await readKeyRing(store))?.ring.keys.map((k) => k.tag);
    await waitUntil(
      () => JSON.stringify(keysHeld(a.agent)?.map((k) => k.tag)) === JSON.stringify(rotated),
      10_000,
      'a to get the rotated ring',
    );
    await waitUntil(
      () => JSON.stringify(keysHeld(b.agent)?.map((k) => k.tag)) === JSON.stringify(rotated),
      10_000,
      'b to get the rotated ring',
    );

    // b leaves the encrypted network: its keys go with it.
    await f.deleteEndpoint('eb');
    await waitUntil(() => keysHeld(b.agent) === undefined, 10_000, 'b to lose the keys');
    expect(keysHeld(a.agent)).toBeDefined();
  });
});
