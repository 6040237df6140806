import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { ClusterControlClient, LocalControlClient } from '../../src/gen/vxmesh/v1/control.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import { freePort } from '../support/etcd-server.js';

/** Two daemons in this process on loopback: the control plane without network namespaces. */
describe('daemon on loopback', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      await c();
    }
  });

  async function startDaemon(name: string): Promise<{ daemon: Daemon; local: LocalControlClient; cluster: ClusterControlClient }> {
    const dir = await mkdtemp(join(tmpdir(), `vxmeshd-${name}-`));
    const socketPath = join(dir, 'vxmesh.sock');
    const daemon = await Daemon.start({ dataRoot: join(dir, 'data'), socketPath, hostname: name, clock: systemClock });
    const local = new LocalControlClient(`unix://${socketPath}`, credentials.createInsecure());
    const cluster = new ClusterControlClient(`unix://${socketPath}`, credentials.createInsecure());
    cleanups.push(async () => {
      local.close();
      cluster.close();
      await daemon.close();
      await rm(dir, { recursive: true, force: true });
    });
    return { daemon, local, cluster };
  }

  it('init, join, node ls, promote refused on embedded store, rm --force closes the session', async () => {
    const m = await startDaemon('mgr');
    const port = await freePort();
    const init = await callUnary(m.local.swarmInit.bind(m.local), {
      advertiseAddr: `127.0.0.1:${port}`,
      listenAddr: `127.0.0.1:${port}`,
      dataPathAddr: '',
      dataPathPort: 0,
      defaultAddrPools: [],
      defaultAddrPoolMaskLength: 0,
      etcdEndpoints: [],
      certExpiryMs: 0n,
    }, 'init');
    expect(init.workerJoinCommand).toMatch(new RegExp(`^vxmesh swarm join --token SWMTKN-1-\\S+ 127.0.0.1:${port}$`));
    const token = init.workerJoinCommand.split(' ')[4] ?? '';

    const w = await startDaemon('wrk');
    const wport = await freePort();
    const joined = await callUnary(w.local.swarmJoin.bind(w.local), {
      token,
      remoteAddr: `127.0.0.1:${port}`,
      advertiseAddr: `127.0.0.1:${wport}`,
      dataPathAddr: '',
      listenAddr: '',
      availability: NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED,
    }, 'join');
    expect(joined.role).toBe(NodeRole.NODE_ROLE_WORKER);

    const deadline = Date.now() + 10_000;
    let nodes = await callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'ls');
    while (nodes.nodes.filter((n) => n.node?.status === NodeStatus.NODE_STATUS_READY).length < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      nodes = await callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'ls');
    }
    expect(nodes.nodes.map((n) => [n.node?.hostname, n.node?.status, n.leader]).sort()).toEqual([
      ['mgr', NodeStatus.NODE_STATUS_READY, true],
      ['wrk', NodeStatus.NODE_STATUS_READY, false],
    ]);

    await expect(callUnary(w.cluster.listNodes.bind(w.cluster), {}, 'ls')).rejects.toThrow(/not a swarm manager/);
    await expect(
      callUnary(m.cluster.updateNode.bind(m.cluster), { ref: 'wrk', role: NodeRole.NODE_ROLE_MANAGER, availability: 0 }, 'promote'),
    ).rejects.toThrow(/embedded store/);
    await expect(callUnary(m.cluster.removeNode.bind(m.cluster), { ref: 'wrk', force: false }, 'rm')).rejects.toThrow(/not down/);
    await callUnary(m.cluster.removeNode.bind(m.cluster), { ref: 'wrk', force: true }, 'rm');
    const until = Date.now() + 10_000;
    while (w.daemon.info().sessionState === 'connected' && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(w.daemon.info().sessionState).toBe('disconnected');
    expect(w.daemon.info().lastError).toMatch(/removed from the cluster/);
  });
});
