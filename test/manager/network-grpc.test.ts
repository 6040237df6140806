import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { ClusterControlClient } from '../../src/gen/vxmesh/v1/control.js';
import { clusterChannelOptions, mutualTlsCredentials } from '../../src/worker/cluster-channel.js';
import { LoopbackCluster } from '../support/loopback-daemons.js';
import { createRequest } from './create-request.js';

describe('network RPCs through a running manager', () => {
  it('swarm init creates ingress; create, list, get and rm round-trip over gRPC with mutual TLS on 127.0.0.1', async () => {
    await using c = new LoopbackCluster();
    const m = await c.start('mgr');
    await c.init(m);
    const control = new ClusterControlClient(m.addr, mutualTlsCredentials(await m.identity()), clusterChannelOptions);
    try {
      const ls = await callUnary(control.listNetworks.bind(control), {}, 'ls');
      expect(
        ls.networks.map((v) => [v.network?.name, v.network?.subnets[0]?.subnet, v.network?.subnets[0]?.vni]),
      ).toEqual([['ingress', '10.0.0.0/24', 4096]]);

      const created = await callUnary(
        control.createNetwork.bind(control),
        createRequest('web', {
          attachable: true,
          labels: { a: 'b' },
          options: { 'com.docker.network.driver.mtu': '1400' },
        }),
        'create',
      );
      const id = created.network?.id ?? '';
      expect(id).toMatch(/^[0-9a-z]{25}$/);
      expect(created.network).toMatchObject({ name: 'web', attachable: true, mtu: 1400, labels: { a: 'b' } });

      const got = await callUnary(control.getNetwork.bind(control), { ref: id.slice(0, 5) }, 'get');
      expect(got.network?.network?.subnets[0]).toMatchObject({ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097 });
      expect(got.network?.usage).toEqual([{ subnet: '10.0.1.0/24', inUse: 1n, free: 253n }]);
      expect(got.network?.version).toBeGreaterThan(0n);

      // Errors keep their code and message across the wire.
      const bad = callUnary(
        control.createNetwork.bind(control),
        createRequest('x', { subnets: ['10.0.0.0/33'] }),
        'create',
      );
      await expect(bad).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(bad).rejects.toThrow(/invalid --subnet: 10.0.0.0\/33: prefix length "33" is out of range/);

      expect(await callUnary(control.removeNetwork.bind(control), { ref: 'web' }, 'rm')).toEqual({ wasIngress: false });
      await expect(callUnary(control.getNetwork.bind(control), { ref: 'web' }, 'get')).rejects.toMatchObject({
        code: 'NOT_FOUND',
      });
      expect(await callUnary(control.removeNetwork.bind(control), { ref: 'ingress' }, 'rm')).toEqual({
        wasIngress: true,
      });
      const pruned = await callUnary(
        control.pruneNetworks.bind(control),
        { labelFilters: [], labelNotFilters: [], until: 0n },
        'prune',
      );
      expect(pruned.deletedNames).toEqual([]);
      // The local socket serves the same handlers.
      expect((await callUnary(m.cluster.listNetworks.bind(m.cluster), {}, 'ls')).networks).toEqual([]);
    } finally {
      control.close();
    }
  });
});
