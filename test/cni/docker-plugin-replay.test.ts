import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import { addressesIn } from './cni-support.js';
import { startPluginCluster } from './plugin-daemons.js';
import type { PluginDaemon } from './plugin-daemons.js';

interface PluginReply {
  readonly status: number;
  readonly contentType: string;
  readonly body: Record<string, unknown>;
}

/** One plugin call as Docker makes it: POST, JSON body, Docker's Accept header. */
function call(socketPath: string, method: string, body: unknown, httpMethod = 'POST'): Promise<PluginReply> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        path: `/${method}`,
        method: httpMethod,
        headers: {
          Accept: 'application/vnd.docker.plugins.v1.2+json',
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(text),
        },
        timeout: 60_000,
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8').on('data', (d: string) => (data += d));
        res.on('end', () => {
          try {
            resolve({
              status: res.statusCode ?? 0,
              contentType: res.headers['content-type'] ?? '',
              body: JSON.parse(data) as Record<string, unknown>,
            });
          } catch (err) {
            reject(new Error(`${method}: answer is not JSON: ${data}`, { cause: err }));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

const dockerId = (): string => randomBytes(32).toString('hex');

/**
 * The requests Docker (moby/libnetwork's remote network and IPAM drivers) sends to a plugin for
 * `docker network create -d vxmesh --ipam-driver vxmesh`, `docker run --network`, `docker rm -f`
 * and `docker network rm`, replayed in order against vxmeshd's plugin socket on two real
 * daemons (the network is created on the manager's engine, the container runs on the worker's).
 * docs/docker-plugin.md shows the same sequence. The sandbox is a namespace bind-mounted where
 * Docker keeps them (a file outside /run/netns).
 */
describe('Docker remote network/IPAM plugin: replayed Docker requests (2 daemons)', () => {
  let hosts: TestHosts | undefined;
  let daemons: PluginDaemon[] = [];
  let sandboxDir = '';
  const d = (i: number): PluginDaemon => {
    const daemon = daemons[i];
    if (!daemon) {
      throw new Error(`no daemon ${i}`);
    }
    return daemon;
  };
  const plugin = (i: number): string => d(i).pluginSocket;
  const ok = async (i: number, method: string, body: unknown): Promise<Record<string, unknown>> => {
    const reply = await call(plugin(i), method, body);
    expect(reply.status, `${method}: ${JSON.stringify(reply.body)}`).toBe(200);
    expect(reply.contentType).toBe('application/vnd.docker.plugins.v1+json');
    return reply.body;
  };
  /** A Docker sandbox: a namespace with lo up, reachable only at <sandboxDir>/<id> like /var/run/docker/netns/<id>. */
  const sandbox = async (name: string): Promise<{ key: string; netns: string; cleanup: () => Promise<void> }> => {
    const netns = `${hosts?.prefix ?? 'vxt-'}${name}`;
    const key = join(sandboxDir, name);
    await runCommand('ip', ['netns', 'add', netns]);
    await runCommand('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await writeFile(key, '');
    await runCommand('mount', ['--bind', `/run/netns/${netns}`, key]);
    return {
      key,
      netns,
      cleanup: async () => {
        await runCommand('umount', [key], { check: false });
        await rm(key, { force: true });
        await runCommand('ip', ['netns', 'del', netns], { check: false });
      },
    };
  };

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 2 });
    sandboxDir = await mkdtemp(join(tmpdir(), 'vxt-docker-netns-'));
    daemons = await startPluginCluster(hosts, 2);
  });

  afterAll(async () => {
    await Promise.allSettled(daemons.map((d) => d.destroy()));
    await hosts?.destroy();
    if (sandboxDir) {
      await rm(sandboxDir, { recursive: true, force: true });
    }
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      for (const daemon of daemons) {
        console.error(`--- host${daemon.index} ---\n${await daemon.logTail(40)}`);
      }
    });
  });

  it('network create (vxmesh IPAM) on the manager, run on a worker, rm, network rm', async () => {
    const networkId = dockerId();
    const endpointId = dockerId();

    // --- docker network create -d vxmesh --ipam-driver vxmesh --subnet 10.60.0.0/24 dnet (engine on host0, a manager)
    expect(await ok(0, 'Plugin.Activate', {})).toEqual({ Implements: ['NetworkDriver', 'IpamDriver'] });
    expect(await ok(0, 'NetworkDriver.GetCapabilities', {})).toEqual({ Scope: 'global', ConnectivityScope: 'global' });
    expect(await ok(0, 'IpamDriver.GetCapabilities', {})).toEqual({
      RequiresMACAddress: false,
      RequiresRequestReplay: false,
    });
    expect(await ok(0, 'IpamDriver.GetDefaultAddressSpaces', {})).toEqual({
      LocalDefaultAddressSpace: 'vxmesh-local',
      GlobalDefaultAddressSpace: 'vxmesh',
    });
    const pool = await ok(0, 'IpamDriver.RequestPool', {
      AddressSpace: 'vxmesh',
      Pool: '10.60.0.0/24',
      SubPool: '',
      Options: {},
      V6: false,
    });
    expect(pool).toMatchObject({ Pool: '10.60.0.0/24', Data: { 'com.docker.network.gateway': '10.60.0.1/24' } });
    const poolId = pool['PoolID'] as string;
    const createNetwork = {
      NetworkID: networkId,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
      IPv4Data: [{ AddressSpace: 'vxmesh', Pool: '10.60.0.0/24', Gateway: '10.60.0.1/24', AuxAddresses: {} }],
      IPv6Data: [],
    };
    expect(await ok(0, 'NetworkDriver.CreateNetwork', createNetwork)).toEqual({});
    const listed = (await d(0).cliOk(['network', 'ls', '--format', 'json']))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string });
    const vxName = listed.map((n) => n.Name).find((n) => n.startsWith('docker-'));
    expect(vxName).toBeDefined();

    // --- docker run --network dnet (engine on host1, a worker): Docker creates the network there lazily.
    await ok(1, 'Plugin.Activate', {});
    await ok(1, 'NetworkDriver.GetCapabilities', {});
    await ok(1, 'IpamDriver.GetCapabilities', {});
    await ok(1, 'IpamDriver.GetDefaultAddressSpaces', {});
    expect(await ok(1, 'NetworkDriver.CreateNetwork', createNetwork)).toEqual({});
    const address = (await ok(1, 'IpamDriver.RequestAddress', { PoolID: poolId, Address: '', Options: {} }))[
      'Address'
    ] as string;
    expect(address).toMatch(/^10\.60\.0\.\d+\/24$/);
    const created = await ok(1, 'NetworkDriver.CreateEndpoint', {
      NetworkID: networkId,
      EndpointID: endpointId,
      Interface: { Address: address, AddressIPv6: '', MacAddress: '' },
      Options: { 'com.docker.network.endpoint.exposedports': [], 'com.docker.network.portmap': [] },
    });
    const mac = (created['Interface'] as { MacAddress: string }).MacAddress;
    expect(mac).toMatch(/^02:42:0a:3c:00:[0-9a-f]{2}$/);
    const sbx = await sandbox('dsbx1');
    try {
      expect(
        await ok(1, 'NetworkDriver.Join', {
          NetworkID: networkId,
          EndpointID: endpointId,
          SandboxKey: sbx.key,
          Options: {},
        }),
      ).toEqual({
        DisableGatewayService: false,
      });
      expect(await addressesIn(sbx.netns, 'vx0')).toEqual([address]);
      expect(
        await ok(1, 'NetworkDriver.EndpointOperInfo', { NetworkID: networkId, EndpointID: endpointId }),
      ).toMatchObject({
        Value: {
          'vxmesh.network': vxName,
          'vxmesh.interface': 'vx0',
          'vxmesh.ipv4_address': address,
          'vxmesh.mac_address': mac,
        },
      });
      // Join again (Docker retries after a daemon restart): same interface.
      await ok(1, 'NetworkDriver.Join', {
        NetworkID: networkId,
        EndpointID: endpointId,
        SandboxKey: sbx.key,
        Options: {},
      });
      expect(await addressesIn(sbx.netns, 'vx0')).toEqual([address]);

      // The sandbox reaches a vxmesh container on the other host over the overlay.
      await d(0).cliOk(['run', '-d', '--name', 'peer', '--network', vxName ?? '', '--', 'sleep', '600']);
      const [peer] = JSON.parse(await d(0).cliOk(['inspect', 'peer'])) as {
        NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
      }[];
      const peerIp = peer?.NetworkSettings.Networks[vxName ?? '']?.IPAddress ?? '';
      await waitFor(
        async () =>
          (await runCommand('ip', ['netns', 'exec', sbx.netns, 'ping', '-c', '1', '-W', '1', peerIp], { check: false }))
            .exitCode === 0,
        20_000,
        { what: 'the Docker sandbox on host1 pings the vxmesh container on host0' },
      );
      await d(0).cliOk(['rm', '-f', 'peer']);

      // --- docker rm -f (host1)
      expect(
        await ok(1, 'NetworkDriver.RevokeExternalConnectivity', { NetworkID: networkId, EndpointID: endpointId }),
      ).toEqual({});
      expect(await ok(1, 'NetworkDriver.Leave', { NetworkID: networkId, EndpointID: endpointId })).toEqual({});
      expect(await addressesIn(sbx.netns, 'vx0')).toEqual([]);
      expect(await ok(1, 'NetworkDriver.DeleteEndpoint', { NetworkID: networkId, EndpointID: endpointId })).toEqual({});
      expect(await ok(1, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address.split('/')[0] })).toEqual({});
      // Repeats are harmless.
      expect(await ok(1, 'NetworkDriver.Leave', { NetworkID: networkId, EndpointID: endpointId })).toEqual({});
      expect(await ok(1, 'NetworkDriver.DeleteEndpoint', { NetworkID: networkId, EndpointID: endpointId })).toEqual({});
      expect(await ok(1, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: address.split('/')[0] })).toEqual({});
    } finally {
      await sbx.cleanup();
    }
    const [inspected] = JSON.parse(await d(0).cliOk(['network', 'inspect', vxName ?? ''])) as {
      Containers: Record<string, unknown>;
    }[];
    expect(Object.keys(inspected?.Containers ?? {})).toEqual([]);

    // --- docker network rm dnet (host0; host1's engine drops its copy too)
    expect(await ok(0, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId })).toEqual({});
    expect(await ok(1, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId })).toEqual({});
    expect(await ok(0, 'IpamDriver.ReleaseAddress', { PoolID: poolId, Address: '10.60.0.1' })).toEqual({});
    expect(await ok(0, 'IpamDriver.ReleasePool', { PoolID: poolId })).toEqual({});
    const after = await d(0).cliOk(['network', 'ls', '--format', 'json']);
    expect(after).not.toContain(vxName ?? '?');
  });

  it("Docker's own IPAM: CreateNetwork makes the vxmesh network, endpoints take Docker's addresses", async () => {
    const networkId = dockerId();
    const endpointId = dockerId();
    const createNetwork = {
      NetworkID: networkId,
      Options: { 'com.docker.network.enable_ipv6': false, 'com.docker.network.generic': {} },
      IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.61.0.0/24', Gateway: '10.61.0.1/24', AuxAddresses: {} }],
      IPv6Data: [],
    };
    await ok(0, 'NetworkDriver.CreateNetwork', createNetwork);
    await ok(1, 'NetworkDriver.CreateNetwork', createNetwork);
    const [net] = JSON.parse(await d(0).cliOk(['network', 'inspect', `docker-${networkId.slice(0, 12)}`])) as {
      IPAM: { Config: { Subnet: string; Gateway: string }[] };
    }[];
    expect(net?.IPAM.Config[0]).toMatchObject({ Subnet: '10.61.0.0/24', Gateway: '10.61.0.1' });
    await ok(1, 'NetworkDriver.CreateEndpoint', {
      NetworkID: networkId,
      EndpointID: endpointId,
      Interface: { Address: '10.61.0.9/24', AddressIPv6: '', MacAddress: '' },
      Options: {},
    });
    const sbx = await sandbox('dsbx2');
    try {
      await ok(1, 'NetworkDriver.Join', {
        NetworkID: networkId,
        EndpointID: endpointId,
        SandboxKey: sbx.key,
        Options: {},
      });
      expect(await addressesIn(sbx.netns, 'vx0')).toEqual(['10.61.0.9/24']);
      await ok(1, 'NetworkDriver.Leave', { NetworkID: networkId, EndpointID: endpointId });
      await ok(1, 'NetworkDriver.DeleteEndpoint', { NetworkID: networkId, EndpointID: endpointId });
    } finally {
      await sbx.cleanup();
    }
    await ok(1, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId });
    await ok(0, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId });
    expect(await d(0).cliOk(['network', 'ls', '--format', 'json'])).not.toContain(`docker-${networkId.slice(0, 12)}`);
  });

  it('bad input gets Docker error responses: {"Err": ...} with 400, 404 or 500', async () => {
    const err = async (
      method: string,
      body: unknown,
      status: number,
      pattern: RegExp,
      httpMethod = 'POST',
    ): Promise<void> => {
      const reply = await call(plugin(1), method, body, httpMethod);
      expect(reply.status, JSON.stringify(reply.body)).toBe(status);
      expect(Object.keys(reply.body)).toEqual(['Err']);
      expect(reply.body['Err']).toMatch(pattern);
    };
    await err('NetworkDriver.Join', '{"NetworkID": ', 400, /not JSON/);
    await err('NetworkDriver.Join', '[1, 2]', 400, /not a JSON object/);
    await err('NetworkDriver.Frobnicate', {}, 404, /not implemented/);
    await err('Plugin.Activate', '', 400, /POST/, 'GET');
    await err('NetworkDriver.CreateNetwork', { Options: {} }, 400, /NetworkID.*required/);
    await err(
      'NetworkDriver.CreateEndpoint',
      { NetworkID: dockerId(), EndpointID: dockerId(), Interface: { Address: '10.0.0.2/24' } },
      500,
      /network .* not found/,
    );
    const networkId = dockerId();
    await ok(1, 'NetworkDriver.CreateNetwork', {
      NetworkID: networkId,
      Options: { 'com.docker.network.generic': { 'vxmesh.network': 'nonexistent-net' } },
      IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.62.0.0/24' }],
    });
    await err(
      'NetworkDriver.CreateEndpoint',
      { NetworkID: networkId, EndpointID: dockerId(), Interface: {} },
      400,
      /Interface\.Address/,
    );
    await err(
      'NetworkDriver.CreateEndpoint',
      { NetworkID: networkId, EndpointID: dockerId(), Interface: { Address: '10.62.0.5/24' } },
      500,
      /nonexistent-net/,
    );
    await err(
      'NetworkDriver.Join',
      { NetworkID: networkId, EndpointID: dockerId(), SandboxKey: '/var/run/docker/netns/x' },
      500,
      /endpoint .* not found/,
    );
    await err(
      'NetworkDriver.Join',
      { NetworkID: networkId, EndpointID: dockerId(), SandboxKey: 'relative' },
      400,
      /SandboxKey/,
    );
    await err('NetworkDriver.EndpointOperInfo', { NetworkID: networkId, EndpointID: 42 }, 400, /EndpointID/);
    await err('IpamDriver.RequestAddress', { PoolID: 'garbage', Address: '' }, 400, /PoolID/);
    await err(
      'IpamDriver.RequestAddress',
      { PoolID: 'a|10.0.0.0/24|10.0.0.1|own', Address: 'not-an-ip' },
      400,
      /Address/,
    );
    await err('IpamDriver.RequestPool', { AddressSpace: 'vxmesh', Pool: '10.63.0.0/33', V6: false }, 400, /Pool/);
    await err('IpamDriver.RequestPool', { AddressSpace: 'vxmesh', Pool: '', V6: true }, 400, /IPv6/);
    // Creating a network needs a manager: host1 is a worker.
    await err('IpamDriver.RequestPool', { AddressSpace: 'vxmesh', Pool: '', Options: {}, V6: false }, 500, /manager/);
    await ok(1, 'NetworkDriver.DeleteNetwork', { NetworkID: networkId });

    // A MAC Docker was given that is not the one vxmesh derives.
    const pool = await ok(0, 'IpamDriver.RequestPool', {
      AddressSpace: 'vxmesh',
      Pool: '10.64.0.0/24',
      Options: {},
      V6: false,
    });
    const nid = dockerId();
    await ok(0, 'NetworkDriver.CreateNetwork', {
      NetworkID: nid,
      Options: {},
      IPv4Data: [{ AddressSpace: 'vxmesh', Pool: '10.64.0.0/24', Gateway: '10.64.0.1/24' }],
    });
    const { Address } = (await ok(0, 'IpamDriver.RequestAddress', {
      PoolID: pool['PoolID'],
      Address: '10.64.0.7',
      Options: {},
    })) as { Address: string };
    expect(Address).toBe('10.64.0.7/24');
    const bad = await call(plugin(0), 'NetworkDriver.CreateEndpoint', {
      NetworkID: nid,
      EndpointID: dockerId(),
      Interface: { Address, MacAddress: '02:00:00:00:00:01' },
    });
    expect(bad.status).toBe(400);
    expect(bad.body['Err']).toMatch(/MAC/);
    await ok(0, 'IpamDriver.ReleaseAddress', { PoolID: pool['PoolID'], Address: '10.64.0.7' });
    await ok(0, 'NetworkDriver.DeleteNetwork', { NetworkID: nid });
    await ok(0, 'IpamDriver.ReleasePool', { PoolID: pool['PoolID'] });
  });
});
