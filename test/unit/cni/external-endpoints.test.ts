import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VxmeshError } from '../../../src/common/errors.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../../../src/gen/vxmesh/v1/resource.js';
import type { ResolverContainer } from '../../../src/worker/dns/index.js';
import {
  ExternalEndpoints,
  FakeExternalNamespaceDriver,
  cniAttachmentId,
  namespaceGroupId,
} from '../../../src/worker/external/index.js';
import type { AttachRequest } from '../../../src/worker/external/index.js';
import { ManualClock } from '../../support/manual-clock.js';

const NETWORK = Network.fromPartial({
  id: 'net1aaaaaaaaaaaaaaaaaaaaa',
  name: 'test-net',
  attachable: true,
  subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097 }],
});

/** The managers: addresses from .2 up, owner names unique per network, endpoints by ID. */
class FakeManagers {
  readonly endpoints = new Map<string, Endpoint>();
  next = 2;
  failAttach: Error | undefined;

  attach(req: AttachNetworkRequest): Promise<AttachNetworkResponse> {
    if (this.failAttach) {
      return Promise.reject(this.failAttach);
    }
    if (req.network !== NETWORK.name && req.network !== NETWORK.id) {
      return Promise.reject(new VxmeshError('NOT_FOUND', `network ${req.network} not found`));
    }
    if ([...this.endpoints.values()].some((e) => e.ownerName === req.ownerName)) {
      return Promise.reject(new VxmeshError('ALREADY_EXISTS', `endpoint with name ${req.ownerName} already exists`));
    }
    const host = req.ipv4Address ? Number(req.ipv4Address.split('.')[3]) : this.next++;
    const endpoint = Endpoint.fromPartial({
      id: `ep${this.endpoints.size + 1}-${host}`,
      networkId: NETWORK.id,
      ownerId: req.ownerId,
      ownerName: req.ownerName,
      ipv4Address: `10.0.1.${host}/24`,
      macAddress: `02:42:0a:00:01:${host.toString(16).padStart(2, '0')}`,
    });
    this.endpoints.set(endpoint.id, endpoint);
    return Promise.resolve({
      endpoint,
      gateway: '10.0.1.1',
      otherSubnets: [],
      networkName: NETWORK.name,
      internal: false,
      network: NETWORK,
    });
  }

  detach(endpointId: string): Promise<void> {
    this.endpoints.delete(endpointId);
    return Promise.resolve();
  }
}

describe('ExternalEndpoints (fake namespaces, managers and dataplane)', () => {
  let dir: string;
  let driver: FakeExternalNamespaceDriver;
  let managers: FakeManagers;
  let prepared: Map<string, ResolverContainer>;
  let dataplaneBroken: boolean;
  let external: ExternalEndpoints;

  /** The dataplane pass: every attachment's interface exists with its MAC and address, nothing else of ours. */
  const reconcile = (): Promise<void> => {
    const wanted = new Map<string, Set<string>>();
    if (!dataplaneBroken) {
      for (const { container, network } of external.attachments()) {
        driver.interfacesOf(container.namespace)?.set(network.ifName, {
          name: network.ifName,
          mac: network.macAddress,
          addresses: [network.ipv4Address],
          up: true,
        });
        wanted.set(container.namespace, (wanted.get(container.namespace) ?? new Set()).add(network.ifName));
      }
    }
    for (const [path] of driver.paths) {
      const ns = path.replace('/run/netns/', '');
      for (const [name, iface] of driver.interfacesOf(ns) ?? []) {
        if (iface.mac.startsWith('02:42:') && !wanted.get(ns)?.has(name)) {
          driver.interfacesOf(ns)?.delete(name);
        }
      }
    }
    return Promise.resolve();
  };

  const make = (): ExternalEndpoints =>
    new ExternalEndpoints({
      dataRoot: dir,
      namespacePrefix: 'vx-',
      clock: new ManualClock(1_000),
      driver,
      attach: (req) => managers.attach(req),
      releaseEndpoint: async ({ endpointId }) => {
        await managers.detach(endpointId);
        return { state: 'released' };
      },
      endpointsOwnedBy: (ownerId) =>
        [...managers.endpoints.values()].filter((e) => e.ownerId === ownerId).map((e) => e.id),
      reconcile,
      dataplaneError: () => (dataplaneBroken ? 'veth refused' : ''),
      dns: {
        prepare: (c) => {
          prepared.set(c.id, c);
          return Promise.resolve();
        },
        release: (id) => {
          prepared.delete(id);
          return Promise.resolve();
        },
      },
    });

  const cni = (containerId: string, netnsPath: string, extra: Partial<AttachRequest> = {}): AttachRequest => ({
    id: cniAttachmentId(containerId, 'eth0'),
    containerId,
    origin: 'cni:test-net',
    network: 'test-net',
    ownerName: containerId,
    netnsPath,
    ifName: 'eth0',
    dns: true,
    ...extra,
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-external-'));
    driver = new FakeExternalNamespaceDriver();
    managers = new FakeManagers();
    prepared = new Map();
    dataplaneBroken = false;
    external = make();
    await external.load();
  });

  afterEach(async () => {
    await external.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('attach: endpoint from the managers, interface in the namespace, one container for DNS and the dataplane', async () => {
    driver.createNamespace('/run/netns/cni-1');
    const a = await external.attach(cni('c1', '/run/netns/cni-1', { aliases: ['web'] }));
    expect(a).toMatchObject({
      namespace: 'cni-1',
      namespaceBound: false,
      ifName: 'eth0',
      ipv4Address: '10.0.1.2/24',
      networkName: 'test-net',
    });
    expect(driver.interfacesOf('cni-1')?.get('eth0')?.addresses).toEqual(['10.0.1.2/24']);
    const [container] = external.containers();
    expect(container).toMatchObject({
      id: namespaceGroupId('cni-1'),
      name: 'c1',
      namespace: 'cni-1',
      egressAddress: '',
    });
    expect(container?.networks).toMatchObject([
      { networkId: NETWORK.id, ifName: 'eth0', aliases: ['web'], macAddress: '02:42:0a:00:01:02' },
    ]);
    expect(prepared.has(namespaceGroupId('cni-1'))).toBe(true);
    expect(external.networks.get(NETWORK.id)).toEqual(NETWORK);

    // Again: same attachment, nothing new at the managers.
    expect(await external.attach(cni('c1', '/run/netns/cni-1'))).toEqual(a);
    expect(managers.endpoints.size).toBe(1);
    // Same container and interface elsewhere: refused.
    driver.createNamespace('/run/netns/cni-2');
    await expect(external.attach(cni('c1', '/run/netns/cni-2'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('a failed plug leaves no endpoint, record, resolver or bind behind', async () => {
    driver.createNamespace('/proc/42/ns/net');
    dataplaneBroken = true;
    await expect(external.attach(cni('c1', '/proc/42/ns/net'))).rejects.toThrow(
      /interface eth0 is missing.*veth refused/,
    );
    expect(managers.endpoints.size).toBe(0);
    expect(external.list()).toEqual([]);
    expect(prepared.size).toBe(0);
    expect(driver.binds.size).toBe(0);
    // And a later detach (the runtime's DEL after a failed ADD) is fine.
    expect(await external.detach(cniAttachmentId('c1', 'eth0'))).toBe(false);
  });

  it('refuses a missing namespace before asking the managers, and an interface name already taken', async () => {
    await expect(external.attach(cni('c1', '/run/netns/none'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    driver.createNamespace('/run/netns/cni-1');
    driver.setInterface('/run/netns/cni-1', { name: 'eth0', mac: '52:54:00:00:00:01', addresses: [], up: true });
    await expect(external.attach(cni('c1', '/run/netns/cni-1'))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    expect(managers.endpoints.size).toBe(0);
    expect(driver.interfacesOf('cni-1')?.get('eth0')?.mac).toBe('52:54:00:00:00:01');
  });

  it('namespaces outside /run/netns are bound once, shared by their attachments, unbound with the last', async () => {
    driver.createNamespace('/proc/7/ns/net');
    const a = await external.attach(cni('c1', '/proc/7/ns/net'));
    const b = await external.attach({
      ...cni('c1', '/proc/7/ns/net', { network: NETWORK.id, ownerName: 'c1b' }),
      id: cniAttachmentId('c1', 'eth1'),
      ifName: 'eth1',
    });
    expect(a.namespace).toMatch(/^vx-x-/);
    expect(b.namespace).toBe(a.namespace);
    expect(driver.binds).toEqual(new Set([a.namespace]));
    const [container] = external.containers();
    expect(container?.networks.map((n) => [n.ifName, n.aliases])).toEqual([
      ['eth0', []],
      ['eth1', ['c1b']],
    ]);
    driver.removePath('/proc/7/ns/net'); // the runtime's handle goes; the bind keeps the namespace
    expect(await external.detach(a.id)).toBe(true);
    expect(driver.binds.size).toBe(1);
    expect(prepared.size).toBe(1);
    expect(await external.detach(b.id)).toBe(true);
    expect(driver.binds.size).toBe(0);
    expect(prepared.size).toBe(0);
    expect(driver.etcRemoved).toEqual([a.namespace]);
    expect(managers.endpoints.size).toBe(0);
  });

  it('the resolver of a namespace goes with its last attachment, whichever asked for it', async () => {
    driver.createNamespace('/run/netns/cni-1');
    const a = await external.attach(cni('c1', '/run/netns/cni-1'));
    const b = await external.attach({
      ...cni('c1', '/run/netns/cni-1', { ownerName: 'c1b', dns: false }),
      id: cniAttachmentId('c1', 'eth1'),
      ifName: 'eth1',
    });
    await external.detach(a.id);
    expect(prepared.size).toBe(1);
    await external.detach(b.id);
    expect(prepared.size).toBe(0);
    expect(driver.etcRemoved).toEqual(['cni-1']);
  });

  it('detach also frees endpoints the managers hold for the ID without a local record', async () => {
    await managers.attach({
      network: 'test-net',
      ownerId: cniAttachmentId('lost', 'eth0'),
      ownerName: 'lost',
      hostname: '',
      ipv4Address: '',
      ipv6Address: '',
      aliases: [],
    });
    expect(await external.detach(cniAttachmentId('lost', 'eth0'))).toBe(true);
    expect(managers.endpoints.size).toBe(0);
    expect(await external.detach(cniAttachmentId('lost', 'eth0'))).toBe(false);
  });

  it('check: the namespace, network, addresses and MAC the runtime believes, and the kernel', async () => {
    driver.createNamespace('/run/netns/cni-1');
    driver.createNamespace('/run/netns/cni-2');
    const a = await external.attach(cni('c1', '/run/netns/cni-1'));
    const good = {
      netnsPath: '/run/netns/cni-1',
      network: 'test-net',
      addresses: ['10.0.1.2/24'],
      mac: '02:42:0a:00:01:02',
    };
    await expect(external.check(a.id, good)).resolves.toEqual(a);
    await expect(external.check(a.id, { ...good, network: NETWORK.id.slice(0, 6) })).resolves.toEqual(a);
    await expect(external.check(a.id, { ...good, netnsPath: '/run/netns/cni-2' })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
    });
    await expect(external.check(a.id, { ...good, network: 'other' })).rejects.toThrow(/not other/);
    await expect(external.check(a.id, { ...good, addresses: ['10.0.1.9/24'] })).rejects.toThrow(/10\.0\.1\.9/);
    await expect(external.check(a.id, { ...good, mac: '02:42:00:00:00:00' })).rejects.toThrow(/MAC/);
    driver.interfacesOf('cni-1')?.set('eth0', { name: 'eth0', mac: '02:42:0a:00:01:02', addresses: [], up: true });
    await expect(external.check(a.id, good)).rejects.toThrow(/lacks 10\.0\.1\.2\/24/);
    driver.interfacesOf('cni-1')?.delete('eth0');
    await expect(external.check(a.id, good)).rejects.toThrow(/missing/);
    await expect(external.check('cni-nope', good)).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('records survive a restart; resolvers come back; gc releases what is not listed', async () => {
    driver.createNamespace('/run/netns/cni-1');
    driver.createNamespace('/run/netns/cni-2');
    const a = await external.attach(cni('c1', '/run/netns/cni-1'));
    const b = await external.attach(cni('c2', '/run/netns/cni-2', { dns: false }));
    await external.close();
    prepared.clear();
    external = make();
    await external.load();
    // Same creation time here: ordered by ID.
    expect(external.list()).toEqual([a, b].sort((x, y) => x.id.localeCompare(y.id)));
    expect([...prepared.keys()]).toEqual([namespaceGroupId('cni-1')]);
    expect(await external.gc('cni:test-net', [{ containerId: 'c2', ifName: 'eth0' }])).toEqual([a.id]);
    expect(await external.gc('cni:other', [])).toEqual([]);
    expect(external.list()).toEqual([b]);
  });

  it('two steps (Docker): allocate, rename, plug, unplug, release', async () => {
    const r = await external.allocate({
      id: 'dipam-1',
      containerId: '',
      origin: 'docker-ipam:p',
      network: 'test-net',
      ownerName: 'docker-1',
      ipv4Address: '10.0.1.40',
    });
    expect(r).toMatchObject({ ipv4Address: '10.0.1.40/24', ifName: '', namespace: '' });
    expect(external.attachments()).toEqual([]);
    await external.rename(r.id, 'dockerendpoint');
    driver.createNamespace('/var/run/docker/netns/abc');
    const plugged = await external.plug(r.id, { netnsPath: '/var/run/docker/netns/abc', ifName: 'vx0', dns: false });
    expect(plugged).toMatchObject({ containerId: 'dockerendpoint', ifName: 'vx0', namespaceBound: true, dns: false });
    expect(prepared.size).toBe(0);
    await external.unplug(r.id);
    expect(driver.binds.size).toBe(0);
    expect(external.get(r.id)).toMatchObject({ ifName: '', endpointId: plugged.endpointId });
    expect(managers.endpoints.size).toBe(1);
    expect(await external.release(r.id)).toBe(true);
    expect(managers.endpoints.size).toBe(0);
    await expect(
      external.plug(r.id, { netnsPath: '/var/run/docker/netns/abc', ifName: 'vx0', dns: false }),
    ).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('concurrent attaches of different containers proceed; operations on one are serialized', async () => {
    for (let i = 0; i < 5; i++) {
      driver.createNamespace(`/run/netns/cni-${i}`);
    }
    const results = await Promise.all([0, 1, 2, 3, 4].map((i) => external.attach(cni(`c${i}`, `/run/netns/cni-${i}`))));
    expect(new Set(results.map((r) => r.ipv4Address)).size).toBe(5);
    const [detached, again] = await Promise.all([
      external.detach(results[0]?.id ?? ''),
      external.detach(results[0]?.id ?? ''),
    ]);
    expect([detached, again]).toEqual([true, false]);
    expect(external.list()).toHaveLength(4);
  });
});
