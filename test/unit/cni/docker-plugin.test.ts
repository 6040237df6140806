import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NotFoundError, VxmeshError } from '../../../src/common/errors.js';
import { DockerPluginServer, formatPoolId, parsePoolId } from '../../../src/daemon/docker-plugin/index.js';
import type { DockerPluginBackend } from '../../../src/daemon/docker-plugin/index.js';
import type { CreateNetworkRequest } from '../../../src/gen/vxmesh/v1/control.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { ExternalEndpoints, FakeExternalNamespaceDriver } from '../../../src/worker/external/index.js';
import { ManualClock } from '../../support/manual-clock.js';

/** Networks and endpoints of an in-memory cluster; `manager` false makes network calls fail as on a worker. */
class FakeBackend implements DockerPluginBackend {
  readonly networks = new Map<string, Network>();
  readonly endpoints = new Map<string, Endpoint>();
  manager = true;
  readonly driver = new FakeExternalNamespaceDriver();
  externalEndpoints: ExternalEndpoints | undefined;
  #next = 1;

  #notManager(): void {
    if (!this.manager) {
      throw new VxmeshError('FAILED_PRECONDITION', 'This node is not a swarm manager.');
    }
  }

  #find(ref: string): Network {
    const n = [...this.networks.values()].find((x) => x.id === ref || x.name === ref);
    if (!n) {
      throw new NotFoundError('network', ref);
    }
    return n;
  }

  getNetwork(ref: string): Promise<Network> {
    this.#notManager();
    return Promise.resolve(this.#find(ref));
  }

  createNetwork(req: CreateNetworkRequest): Promise<Network> {
    this.#notManager();
    if ([...this.networks.values()].some((n) => n.name === req.name)) {
      return Promise.reject(new VxmeshError('ALREADY_EXISTS', `network with name ${req.name} already exists`));
    }
    const subnet = req.subnets[0] ?? `10.${100 + this.#next}.0.0/24`;
    const base = subnet.split('/')[0]?.split('.').slice(0, 3).join('.') ?? '';
    const network = Network.fromPartial({
      id: `net${this.#next++}`.padEnd(25, 'x'),
      name: req.name,
      attachable: req.attachable,
      labels: req.labels,
      subnets: [{ subnet, gateway: req.gateways[0] ?? `${base}.1`, vni: 4096 + this.#next }],
    });
    this.networks.set(network.id, network);
    return Promise.resolve(network);
  }

  removeNetwork(ref: string): Promise<void> {
    this.#notManager();
    this.networks.delete(this.#find(ref).id);
    return Promise.resolve();
  }

  external(): ExternalEndpoints {
    if (!this.externalEndpoints) {
      throw new VxmeshError('FAILED_PRECONDITION', 'not a member');
    }
    return this.externalEndpoints;
  }

  attach(ownerId: string, ownerName: string, network: string, ip: string) {
    const n = this.#find(network);
    const base = n.subnets[0]?.subnet.split('/')[0]?.split('.').slice(0, 3).join('.') ?? '';
    const host = ip ? Number(ip.split('.')[3]) : 10 + this.endpoints.size;
    const endpoint = Endpoint.fromPartial({
      id: `ep-${ownerId}`,
      networkId: n.id,
      ownerId,
      ownerName,
      ipv4Address: `${base}.${host}/24`,
      macAddress: `02:42:0a:00:00:${host.toString(16).padStart(2, '0')}`,
    });
    this.endpoints.set(endpoint.id, endpoint);
    return {
      endpoint,
      gateway: n.subnets[0]?.gateway ?? '',
      otherSubnets: [],
      networkName: n.name,
      internal: false,
      network: n,
    };
  }
}

function call(
  socketPath: string,
  method: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: `/${method}`, method: 'POST' }, (res) => {
      let data = '';
      res.setEncoding('utf8').on('data', (d: string) => (data += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(data) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

describe('Docker plugin API (in process, fake cluster and namespaces)', () => {
  let dir: string;
  let backend: FakeBackend;
  let server: DockerPluginServer;
  let socket: string;
  const ok = async (method: string, body: unknown): Promise<Record<string, unknown>> => {
    const reply = await call(socket, method, body);
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    return reply.body;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-docker-plugin-'));
    backend = new FakeBackend();
    const external = new ExternalEndpoints({
      dataRoot: dir,
      namespacePrefix: 'vx-',
      clock: new ManualClock(),
      driver: backend.driver,
      attach: (req) => Promise.resolve(backend.attach(req.ownerId, req.ownerName, req.network, req.ipv4Address)),
      releaseEndpoint: ({ endpointId }) => {
        backend.endpoints.delete(endpointId);
        return Promise.resolve({ state: 'released' });
      },
      endpointsOwnedBy: () => [],
      reconcile: () => {
        for (const { container, network } of external.attachments()) {
          backend.driver.interfacesOf(container.namespace)?.set(network.ifName, {
            name: network.ifName,
            mac: network.macAddress,
            addresses: [network.ipv4Address],
            up: true,
          });
        }
        return Promise.resolve();
      },
    });
    await external.load();
    backend.externalEndpoints = external;
    socket = join(dir, 'plugins', 'vxmesh.sock');
    server = await DockerPluginServer.start({ socketPath: socket, dataRoot: dir, backend });
  });

  afterEach(async () => {
    await server.close();
    await backend.externalEndpoints?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('pool IDs round-trip and refuse anything else', () => {
    const p = { networkId: 'abc', subnet: 'fd00:1::/64', gateway: 'fd00:1::1', own: false };
    expect(parsePoolId(formatPoolId(p))).toEqual(p);
    expect(() => parsePoolId('abc|10.0.0.0/24|10.0.0.1|maybe')).toThrow(/PoolID/);
    expect(() => parsePoolId('')).toThrow(/PoolID/);
  });

  it('vxmesh IPAM: pool, gateway, address, endpoint, join, leave, release; state survives a restart of the server', async () => {
    const pool = await ok('IpamDriver.RequestPool', {
      AddressSpace: 'vxmesh',
      Pool: '10.70.0.0/24',
      SubPool: '',
      Options: {},
      V6: false,
    });
    expect(pool).toMatchObject({ Pool: '10.70.0.0/24', Data: { 'com.docker.network.gateway': '10.70.0.1/24' } });
    const created = [...backend.networks.values()][0];
    expect(created).toMatchObject({ attachable: true, labels: { 'com.vxmesh.created-by': 'docker-ipam' } });
    expect(
      await ok('IpamDriver.RequestAddress', {
        PoolID: pool['PoolID'],
        Address: '',
        Options: { RequestAddressType: 'com.docker.network.gateway' },
      }),
    ).toEqual({
      Address: '10.70.0.1/24',
      Data: {},
    });
    const network = {
      NetworkID: 'n'.repeat(64),
      Options: {},
      IPv4Data: [{ AddressSpace: 'vxmesh', Pool: '10.70.0.0/24', Gateway: '10.70.0.1/24' }],
    };
    await ok('NetworkDriver.CreateNetwork', network);
    const { Address } = (await ok('IpamDriver.RequestAddress', {
      PoolID: pool['PoolID'],
      Address: '10.70.0.33',
      Options: {},
    })) as { Address: string };
    expect(Address).toBe('10.70.0.33/24');
    await server.close();
    server = await DockerPluginServer.start({ socketPath: socket, dataRoot: dir, backend });
    const endpoint = { NetworkID: network.NetworkID, EndpointID: 'e'.repeat(64) };
    expect(
      await ok('NetworkDriver.CreateEndpoint', {
        ...endpoint,
        Interface: { Address, AddressIPv6: '', MacAddress: '' },
      }),
    ).toEqual({
      Interface: { MacAddress: '02:42:0a:00:00:21' },
    });
    backend.driver.createNamespace('/var/run/docker/netns/s1');
    expect(
      await ok('NetworkDriver.Join', { ...endpoint, SandboxKey: '/var/run/docker/netns/s1', Options: {} }),
    ).toEqual({ DisableGatewayService: false });
    const info = (await ok('NetworkDriver.EndpointOperInfo', endpoint))['Value'] as Record<string, string>;
    expect(info).toMatchObject({ 'vxmesh.interface': 'vx0', 'vxmesh.ipv4_address': '10.70.0.33/24' });
    await ok('NetworkDriver.Leave', endpoint);
    await ok('NetworkDriver.DeleteEndpoint', endpoint);
    expect(backend.endpoints.size).toBe(1); // still reserved by the IPAM
    await ok('IpamDriver.ReleaseAddress', { PoolID: pool['PoolID'], Address: '10.70.0.33' });
    expect(backend.endpoints.size).toBe(0);
    await ok('NetworkDriver.DeleteNetwork', { NetworkID: network.NetworkID });
    await ok('IpamDriver.ReleasePool', { PoolID: pool['PoolID'] });
    expect(backend.networks.size).toBe(0);
  });

  it('-o vxmesh.network=NAME maps onto an existing network; --ipam-opt likewise for pools', async () => {
    const existing = await backend.createNetwork({
      name: 'test-net',
      driver: 'overlay',
      subnets: ['10.80.0.0/24'],
      gateways: [],
      ipRanges: [],
      auxAddresses: {},
      enableIpv6: false,
      internal: false,
      attachable: true,
      ingress: false,
      labels: {},
      options: {},
      ipamDriver: '',
      ipamOptions: {},
    });
    const pool = await ok('IpamDriver.RequestPool', {
      AddressSpace: 'vxmesh',
      Options: { 'vxmesh.network': 'test-net' },
      V6: false,
    });
    expect(parsePoolId(pool['PoolID'] as string)).toEqual({
      networkId: existing.id,
      subnet: '10.80.0.0/24',
      gateway: '10.80.0.1',
      own: false,
    });
    await ok('IpamDriver.ReleasePool', { PoolID: pool['PoolID'] });
    expect(backend.networks.size).toBe(1);
    // Docker's default IPAM with the network named: the endpoint takes Docker's address on it.
    await ok('NetworkDriver.CreateNetwork', {
      NetworkID: 'm'.repeat(64),
      Options: { 'com.docker.network.generic': { 'vxmesh.network': 'test-net' } },
      IPv4Data: [{ AddressSpace: 'GlobalDefault', Pool: '10.80.0.0/24' }],
    });
    await ok('NetworkDriver.CreateEndpoint', {
      NetworkID: 'm'.repeat(64),
      EndpointID: 'f'.repeat(64),
      Interface: { Address: '10.80.0.9/24' },
    });
    expect([...backend.endpoints.values()].map((e) => e.ipv4Address)).toEqual(['10.80.0.9/24']);
    await ok('NetworkDriver.DeleteEndpoint', { NetworkID: 'm'.repeat(64), EndpointID: 'f'.repeat(64) });
    expect(backend.endpoints.size).toBe(0);
    await ok('NetworkDriver.DeleteNetwork', { NetworkID: 'm'.repeat(64) });
    expect(backend.networks.size).toBe(1);
  });

  it('errors: worker refusals and membership are 500 with Err; bad input 400', async () => {
    backend.manager = false;
    const worker = await call(socket, 'IpamDriver.RequestPool', { AddressSpace: 'vxmesh', Options: {}, V6: false });
    expect(worker).toEqual({ status: 500, body: { Err: 'This node is not a swarm manager.' } });
    backend.externalEndpoints = undefined;
    const pool = formatPoolId({ networkId: 'x', subnet: '10.0.0.0/24', gateway: '10.0.0.1', own: false });
    expect(await call(socket, 'IpamDriver.RequestAddress', { PoolID: pool, Options: {} })).toEqual({
      status: 500,
      body: { Err: 'not a member' },
    });
    expect((await call(socket, 'NetworkDriver.Leave', { EndpointID: 'x' })).status).toBe(400);
    expect((await call(socket, 'NetworkDriver.CreateNetwork', 'null')).status).toBe(400);
  });
});
