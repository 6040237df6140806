import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { DispatcherClient } from '../../src/gen/vxmesh/v1/dispatcher.js';
import { ClusterControlClient } from '../../src/gen/vxmesh/v1/control.js';
import { NodeAvailability, NodeRole } from '../../src/gen/vxmesh/v1/node.js';
import { parseJoinToken } from '../../src/manager/ca/join-token.js';
import { clusterChannelOptions, mutualTlsCredentials } from '../../src/worker/cluster-channel.js';
import { joinCluster } from '../../src/worker/join-cluster.js';
import { parseHostPort } from '../../src/common/net/host-port.js';
import { LoopbackCluster, waitUntil } from '../support/loopback-daemons.js';

describe('cluster port authorization', () => {
  it('refuses wrong tokens, worker calls to manager RPCs and foreign certificates, changing nothing', async () => {
    await using c = new LoopbackCluster();
    const m = await c.start('mgr');
    const token = await c.init(m);
    const w = await c.start('wrk');
    await c.join(w, token, m);
    const nodeCount = async (): Promise<number> =>
      (await callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'ls')).nodes.length;
    expect(await nodeCount()).toBe(2);

    const join = (t: string) =>
      joinCluster({
        remote: parseHostPort(m.addr, 2377, 'addr'),
        token: t,
        hostname: 'intruder',
        advertiseAddr: '127.0.0.1:1',
        dataPathAddr: '',
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
      });
    const { secret } = parseJoinToken(token);
    const otherDigest = '0'.repeat(49) + '1';
    await expect(join(`SWMTKN-1-${otherDigest}-${secret}`)).rejects.toThrow(/does not match the join token's digest/);
    await expect(join('SWMTKN-1-abc')).rejects.toThrow(/invalid token: has 3 parts/);
    await expect(join(`SWMTKN-1-${token.split('-')[2] ?? ''}-${'0'.repeat(25)}`)).rejects.toThrow(
      /invalid or has been rotated/,
    );
    await callUnary(m.cluster.rotateJoinToken.bind(m.cluster), { role: NodeRole.NODE_ROLE_WORKER }, 'rotate');
    await expect(join(token)).rejects.toThrow(/invalid or has been rotated/);
    expect(await nodeCount()).toBe(2);

    // A worker's own certificate does not open manager-only methods.
    const workerControl = new ClusterControlClient(
      m.addr,
      mutualTlsCredentials(await w.identity()),
      clusterChannelOptions,
    );
    try {
      const denied = callUnary(workerControl.listNodes.bind(workerControl), {}, 'ls');
      await expect(denied).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
      await expect(denied).rejects.toThrow(/ListNodes is not allowed for a worker node/);
    } finally {
      workerControl.close();
    }

    // A certificate from another cluster is not accepted even with this cluster's CA trusted.
    const other = await c.start('other');
    await c.init(other);
    const foreign = { ...(await other.identity()), caPem: (await m.identity()).caPem };
    const foreignDispatcher = new DispatcherClient(m.addr, mutualTlsCredentials(foreign), clusterChannelOptions);
    try {
      await expect(
        callUnary(foreignDispatcher.heartbeat.bind(foreignDispatcher), { sessionId: 'x', status: undefined }, 'heartbeat'),
      ).rejects.toMatchObject({
        code: 'UNAUTHENTICATED',
      });
    } finally {
      foreignDispatcher.close();
    }
    expect(await nodeCount()).toBe(2);
    await waitUntil(() => w.daemon.info().sessionState === 'connected');
  });
});
