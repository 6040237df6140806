import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { ContainerState } from '../../src/gen/vxmesh/v1/container.js';
import type { RunContainerRequest } from '../../src/gen/vxmesh/v1/control.js';
import { namespaceExists } from '../../src/worker/containers/network-namespaces.js';
import { LoopbackCluster, waitUntil } from '../support/loopback-daemons.js';
import type { LoopbackDaemon } from '../support/loopback-daemons.js';

const run = (d: LoopbackDaemon, req: Partial<RunContainerRequest>) =>
  callUnary(
    d.local.runContainer.bind(d.local),
    { name: '', hostname: '', command: ['sleep', '30'], networks: [], dns: [], dnsSearch: [], dnsOptions: [], autoRemove: false, createOnly: false, ...req },
    'run',
  );

const createNetwork = (d: LoopbackDaemon, name: string, extra: { subnets?: string[]; attachable?: boolean } = {}) =>
  callUnary(
    d.cluster.createNetwork.bind(d.cluster),
    {
      name,
      driver: 'overlay',
      subnets: extra.subnets ?? [],
      gateways: [],
      ipRanges: [],
      auxAddresses: {},
      enableIpv6: false,
      internal: false,
      attachable: extra.attachable ?? true,
      ingress: false,
      labels: {},
      options: {},
      ipamDriver: '',
      ipamOptions: {},
    },
    'network create',
  );

describe('containers on attachable overlays (control path, recorded dataplane)', () => {
  it('run attaches, both nodes get the overlay with each other as peers, rm detaches', async () => {
    await using c = new LoopbackCluster();
    const m = await c.start('mgr');
    const token = await c.init(m);
    const w = await c.start('wrk');
    await c.join(w, token, m);
    await createNetwork(m, 'test-net', { subnets: ['10.10.0.0/24'] });
    await expect(createNetwork(m, 'closed', { attachable: false }).then(() => run(m, { name: 'x', networks: [{ network: 'closed', ipv4Address: '', ipv6Address: '', aliases: [], links: [] }] }))).rejects.toThrow(/not manually attachable/);

    const a1 = (await run(m, { name: 'alpine1', networks: [{ network: 'test-net', ipv4Address: '', ipv6Address: '', aliases: [], links: [] }] })).container;
    const a2 = (await run(w, { name: 'alpine2', networks: [{ network: 'test-net', ipv4Address: '10.10.0.50', ipv6Address: '', aliases: ['app'], links: [] }] })).container;
    expect(a1?.state).toBe(ContainerState.CONTAINER_STATE_RUNNING);
    expect(a2?.networks[0]?.ipv4Address).toBe('10.10.0.50/24');
    expect(a2?.networks[0]?.macAddress).toBe('02:42:0a:0a:00:32');
    expect(await namespaceExists(a1?.namespace ?? 'none')).toBe(true);

    // Each node's dataplane spec: the overlay with its own endpoint local and the other's remote.
    // Every node also serves the ingress overlay (its routing-mesh sandbox): pick test-net by its gateway.
    const testNet = (s: typeof m.driver.last) => s?.overlays.find((o) => o.subnets[0]?.gatewayCidr === '10.10.0.1/24');
    await waitUntil(() => (testNet(m.driver.last)?.remoteEndpoints.length ?? 0) === 1, 10_000, 'manager sees alpine2');
    await waitUntil(() => (testNet(w.driver.last)?.remoteEndpoints.length ?? 0) === 1, 10_000, 'worker sees alpine1');
    const spec = m.driver.last;
    expect(testNet(spec)?.subnets[0]).toMatchObject({ vni: expect.any(Number) as number, gatewayCidr: '10.10.0.1/24' });
    expect(testNet(spec)?.localEndpoints[0]).toMatchObject({ ifName: 'eth0', containerNamespace: a1?.namespace });
    expect(testNet(spec)?.remoteEndpoints[0]).toMatchObject({ ipv4: '10.10.0.50', vtep: '127.0.0.1' });
    expect(spec?.egress?.attachments.map((e) => e.containerId).filter((id) => id !== 'ingress-sbox')).toEqual([a1?.id]);

    // Same name on the same node is refused; the same static address elsewhere too.
    await expect(run(w, { name: 'alpine2' })).rejects.toThrow(/already in use/);
    await expect(
      run(m, { name: 'other', networks: [{ network: 'test-net', ipv4Address: '10.10.0.50', ipv6Address: '', aliases: [], links: [] }] }),
    ).rejects.toThrow(/in use|already/);

    await callUnary(w.local.removeContainer.bind(w.local), { ref: 'alpine2', force: true }, 'rm');
    await waitUntil(() => (testNet(m.driver.last)?.remoteEndpoints.length ?? 1) === 0, 10_000, 'alpine2 gone on the manager');
    await waitUntil(() => testNet(w.driver.last) === undefined, 10_000, 'test-net gone on the worker');
    await expect(callUnary(m.cluster.removeNetwork.bind(m.cluster), { ref: 'test-net' }, 'rm')).rejects.toThrow(/in use|endpoint/);
    await callUnary(m.local.removeContainer.bind(m.local), { ref: 'alpine1', force: true }, 'rm');
    expect(await namespaceExists(a1?.namespace ?? 'none')).toBe(false);
    await callUnary(m.cluster.removeNetwork.bind(m.cluster), { ref: 'test-net' }, 'rm');
  });

  it('network inspect lists every endpoint with its aliases; run --dns-search/--dns-option reach resolv.conf', async () => {
    await using c = new LoopbackCluster();
    const m = await c.start('mgr');
    const token = await c.init(m);
    const w = await c.start('wrk');
    await c.join(w, token, m);
    await createNetwork(m, 'alias-net', { subnets: ['10.11.0.0/24'] });
    await createNetwork(m, 'other-net', { subnets: ['10.12.0.0/24'] });
    const net = (name: string, aliases: string[]) => ({ network: name, ipv4Address: '', ipv6Address: '', aliases, links: [] });

    const c6 = (
      await run(m, {
        name: 'container6',
        networks: [net('alias-net', ['app'])],
        dnsSearch: ['corp.example'],
        dnsOptions: ['ndots:2', 'edns0'],
      })
    ).container;
    const c7 = (await run(w, { name: 'container7', networks: [net('alias-net', ['app'])] })).container;
    await callUnary(m.local.connectNetwork.bind(m.local), { container: 'container6', network: net('other-net', ['scoped-app']) }, 'connect');

    // The container record and its resolv.conf carry --dns-search/--dns-option (docker's HostConfig).
    expect(c6).toMatchObject({ dnsSearch: ['corp.example'], dnsOptions: ['ndots:2', 'edns0'] });
    expect(await readFile(`/etc/netns/${c6?.namespace ?? 'none'}/resolv.conf`, 'utf8')).toContain(
      'nameserver 127.0.0.11\nsearch corp.example\noptions ndots:2 edns0\n',
    );

    // The manager's answer has every endpoint, both nodes', each with its network-scoped aliases.
    const view = (await callUnary(m.cluster.getNetwork.bind(m.cluster), { ref: 'alias-net' }, 'get')).network;
    const byOwner = new Map(view?.endpoints.map((e) => [e.ownerId, e]));
    expect(byOwner.get(c6?.id ?? '')).toMatchObject({ ownerName: 'container6', aliases: ['app'], ipv4Address: c6?.networks[0]?.ipv4Address });
    expect(byOwner.get(c7?.id ?? '')).toMatchObject({ ownerName: 'container7', aliases: ['app'], macAddress: c7?.networks[0]?.macAddress });
    expect(view?.endpoints).toHaveLength(2);
    const listed = (await callUnary(m.cluster.listNetworks.bind(m.cluster), {}, 'ls')).networks;
    const other = listed.find((n) => n.network?.name === 'other-net');
    expect(other?.endpoints.map((e) => [e.ownerName, e.aliases])).toEqual([['container6', ['scoped-app']]]);

    // Every node's heartbeats carry its resolver counters (`node inspect`'s Agent.Resolver).
    await waitUntil(
      async () => {
        const nodes = (await callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'node ls')).nodes;
        return nodes.length === 2 && nodes.every((n) => n.agent?.resolver !== undefined);
      },
      15_000,
      'resolver counters in heartbeats',
    );

    // Removing container6 leaves container7 holding the shared alias.
    await callUnary(m.local.removeContainer.bind(m.local), { ref: 'container6', force: true }, 'rm');
    const after = (await callUnary(m.cluster.getNetwork.bind(m.cluster), { ref: 'alias-net' }, 'get')).network;
    expect(after?.endpoints.map((e) => [e.ownerName, e.aliases])).toEqual([['container7', ['app']]]);
    await callUnary(w.local.removeContainer.bind(w.local), { ref: 'container7', force: true }, 'rm');
  });
});
