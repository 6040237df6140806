import { describe, expect, inject, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { EmbeddedKvStore, EtcdKvStore } from '../../src/kvstore/index.js';
import { AssignmentsKind, DispatcherClient } from '../../src/gen/vxmesh/v1/dispatcher.js';
import { NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import { clusterChannelOptions, mutualTlsCredentials } from '../../src/worker/cluster-channel.js';
import { DispatcherFixture, heldKeys } from '../support/dispatcher-fixture.js';
import { kvPrefix } from '../support/kv-prefix.js';
import { waitUntil } from '../support/loopback-daemons.js';
import { ManualClock } from '../support/manual-clock.js';

const expectKeys = async (agent: Parameters<typeof heldKeys>[0], keys: string[], what: string): Promise<void> => {
  await waitUntil(() => JSON.stringify(heldKeys(agent)) === JSON.stringify([...keys].sort()), 10_000, what).catch(() => {
    expect(heldKeys(agent), what).toEqual([...keys].sort());
  });
};

describe('dispatcher assignments', () => {
  it('reach exactly the nodes with an endpoint on the network, and follow adds and removes', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    await using f = new DispatcherFixture(store);
    await f.startManager();
    const a = await f.startAgent('a');
    const b = await f.startAgent('b');
    const c = await f.startAgent('c');
    await f.putNetwork('n1', '10.1.0.0/24', 4097);
    await f.putNetwork('n2', '10.2.0.0/24', 4098);
    await f.putEndpoint('ea', 'n1', a.nodeId, '10.1.0.2');
    await f.putEndpoint('eb', 'n1', b.nodeId, '10.1.0.3');
    await expectKeys(a.agent, ['network/n1', 'endpoint/ea', 'endpoint/eb', `peer/${b.nodeId}`], 'a sees n1');
    await expectKeys(b.agent, ['network/n1', 'endpoint/ea', 'endpoint/eb', `peer/${a.nodeId}`], 'b sees n1');
    await f.putEndpoint('ec', 'n2', c.nodeId, '10.2.0.2');
    await expectKeys(c.agent, ['network/n2', 'endpoint/ec'], 'c sees only n2');
    await f.deleteEndpoint('eb');
    await expectKeys(a.agent, ['network/n1', 'endpoint/ea'], 'a forgets eb and peer b');
    await expectKeys(b.agent, [], 'b forgets n1');
    // Nobody ever heard of a network they had no endpoint on.
    expect(heldKeys(a.agent).some((k) => k.includes('n2') || k === 'endpoint/ec')).toBe(false);
    expect(heldKeys(c.agent)).toEqual(['endpoint/ec', 'network/n2']);
    expect(a.agent.status.appliedVersion).toMatch(/^\d+$/);
  });

  it('a dropped INCREMENTAL makes the worker resynchronise with a COMPLETE', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    let dropNext = false;
    let dropped = 0;
    let completes = 0;
    await using f = new DispatcherFixture(store);
    await f.startManager(undefined, {
      outboundFilter: (_node, m) => {
        if (m.kind === AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE) {
          completes++;
        }
        if (dropNext && m.kind === AssignmentsKind.ASSIGNMENTS_KIND_INCREMENTAL) {
          dropNext = false;
          dropped++;
          return false;
        }
        return true;
      },
    });
    const a = await f.startAgent('a');
    const b = await f.startAgent('b');
    await f.putNetwork('n1', '10.1.0.0/24', 4097);
    await f.putEndpoint('ea', 'n1', a.nodeId, '10.1.0.2');
    await expectKeys(a.agent, ['network/n1', 'endpoint/ea'], 'a sees its endpoint');
    const completesBefore = completes;
    dropNext = true;
    await f.putEndpoint('eb', 'n1', b.nodeId, '10.1.0.3');
    await waitUntil(() => dropped === 1, 5000, 'an increment to be dropped');
    await f.putEndpoint('eb2', 'n1', b.nodeId, '10.1.0.4');
    await expectKeys(a.agent, ['network/n1', 'endpoint/ea', 'endpoint/eb', 'endpoint/eb2', `peer/${b.nodeId}`], 'a converged after the gap');
    expect(completes).toBeGreaterThan(completesBefore);
  });

  it('a worker fails over to the other manager and converges (two managers on one etcd)', async () => {
    const store = new EtcdKvStore({ endpoints: [inject('etcdEndpoint')], namespace: kvPrefix('dispatch') });
    try {
      await using f = new DispatcherFixture(store);
      const first = await f.startManager();
      await f.startManager();
      const a = await f.startAgent('a');
      await waitUntil(() => a.agent.state.phase === 'connected', 10_000, 'session');
      expect(a.agent.state.phase === 'connected' && a.agent.state.managerAddr).toBe(first.addr);
      await f.putNetwork('n1', '10.1.0.0/24', 4097);
      await f.putEndpoint('ea', 'n1', a.nodeId, '10.1.0.2');
      await expectKeys(a.agent, ['network/n1', 'endpoint/ea'], 'before failover');
      await first.manager.close();
      await f.putEndpoint('eb', 'n1', 'some-other-node', '10.1.0.3');
      await waitUntil(() => a.agent.state.phase === 'connected' && a.agent.state.managerAddr !== first.addr, 15_000, 'failover');
      await expectKeys(a.agent, ['network/n1', 'endpoint/ea', 'endpoint/eb'], 'after failover');
    } finally {
      await store.close();
    }
  });

  it('missed heartbeats mark the node Down and its old session is rejected', async () => {
    const store = await EmbeddedKvStore.open({ path: ':memory:' });
    const managerClock = new ManualClock(Date.now());
    const agentClock = new ManualClock(Date.now());
    await using f = new DispatcherFixture(store);
    const { manager } = await f.startManager(managerClock);
    const a = await f.startAgent('a', agentClock);
    await waitUntil(() => a.agent.state.phase === 'connected', 10_000, 'session');
    const sessionId = a.agent.state.phase === 'connected' ? a.agent.state.sessionId : '';
    await waitUntil(async () => (await manager.registry.get(a.nodeId))?.node.status === NodeStatus.NODE_STATUS_READY);
    // The agent's clock stands still, so it sends no heartbeat while the manager's runs 20 s.
    for (let i = 0; i < 10; i++) {
      await managerClock.advance(2000);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitUntil(async () => (await manager.registry.get(a.nodeId))?.node.status === NodeStatus.NODE_STATUS_DOWN, 5000, 'Down');
    const client = new DispatcherClient(f.managerAddrs[0] ?? '', mutualTlsCredentials(a.agent.identity), clusterChannelOptions);
    try {
      await expect(callUnary(client.heartbeat.bind(client), { sessionId, status: undefined }, 'heartbeat')).rejects.toThrow(/not the current session/);
    } finally {
      client.close();
    }
  });
});
