import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import { LoopbackCluster, waitUntil } from '../support/loopback-daemons.js';

describe('daemon on loopback', () => {
  it('init, join, node ls, promote refused on embedded store, rm --force closes the session', async () => {
    await using c = new LoopbackCluster();
    const m = await c.start('mgr');
    const token = await c.init(m);
    expect(token).toMatch(/^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    const w = await c.start('wrk');
    await c.join(w, token, m);

    const ls = () => callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'ls');
    await waitUntil(
      async () => (await ls()).nodes.filter((n) => n.node?.status === NodeStatus.NODE_STATUS_READY).length === 2,
    );
    expect((await ls()).nodes.map((n) => [n.node?.hostname, n.node?.status, n.leader]).sort()).toEqual([
      ['mgr', NodeStatus.NODE_STATUS_READY, true],
      ['wrk', NodeStatus.NODE_STATUS_READY, false],
    ]);

    await expect(callUnary(w.cluster.listNodes.bind(w.cluster), {}, 'ls')).rejects.toThrow(/not a swarm manager/);
    await expect(
      callUnary(
        m.cluster.updateNode.bind(m.cluster),
        { ref: 'wrk', role: NodeRole.NODE_ROLE_MANAGER, availability: 0 },
        'promote',
      ),
    ).rejects.toThrow(/embedded store/);
    await expect(callUnary(m.cluster.removeNode.bind(m.cluster), { ref: 'wrk', force: false }, 'rm')).rejects.toThrow(
      /not down/,
    );
    await callUnary(m.cluster.removeNode.bind(m.cluster), { ref: 'wrk', force: true }, 'rm');
    await waitUntil(() => w.daemon.info().sessionState === 'disconnected', 10_000, 'session closed');
    expect(w.daemon.info().lastError).toMatch(/removed from the cluster/);
  });
});
