import { describe, expect, it } from 'vitest';
import { UnavailableError, VxmeshError } from '../../../src/common/errors.js';
import { runCniPlugin } from '../../../src/cni/index.js';
import type { CniDaemon } from '../../../src/cni/index.js';
import { NamespaceAttachment } from '../../../src/gen/vxmesh/v1/control.js';
import type {
  AttachNamespaceRequest,
  CheckNamespaceRequest,
  DetachNamespaceRequest,
  GcNamespacesRequest,
  InfoResponse,
} from '../../../src/gen/vxmesh/v1/control.js';
import { NodeRole } from '../../../src/gen/vxmesh/v1/node.js';

const CONTAINER = 'f00dbabe1234';
const NETNS = '/run/netns/cni-test';

const ATTACHMENT = NamespaceAttachment.fromPartial({
  id: 'cni-x',
  containerId: CONTAINER,
  ifName: 'eth0',
  netnsPath: NETNS,
  namespace: 'cni-test',
  networkId: 'n1',
  networkName: 'test-net',
  endpointId: 'e1',
  ipv4Address: '10.0.1.5/24',
  macAddress: '02:42:0a:00:01:05',
  gateway: '10.0.1.1',
  otherSubnets: ['10.0.2.0/24'],
  dns: true,
});

/** Records requests; answers from the fields below. */
class FakeCniDaemon implements CniDaemon {
  readonly sockets: string[] = [];
  readonly attaches: AttachNamespaceRequest[] = [];
  readonly detaches: DetachNamespaceRequest[] = [];
  readonly checks: CheckNamespaceRequest[] = [];
  readonly gcs: GcNamespacesRequest[] = [];
  failWith: Error | undefined;
  info_: InfoResponse = {
    localNodeState: 'active',
    nodeId: 'n',
    clusterId: 'c',
    role: NodeRole.NODE_ROLE_WORKER,
    managerAddrs: [],
    sessionState: 'connected',
    lastError: '',
    certNotAfter: '',
    agent: undefined,
  };
  closed = 0;

  #answer<T>(value: T): Promise<T> {
    return this.failWith ? Promise.reject(this.failWith) : Promise.resolve(value);
  }

  attach(req: AttachNamespaceRequest) {
    this.attaches.push(req);
    return this.#answer({ attachment: ATTACHMENT, dnsServers: ['127.0.0.11'], dnsSearch: [], dnsOptions: ['ndots:0'] });
  }
  detach(req: DetachNamespaceRequest) {
    this.detaches.push(req);
    return this.#answer({ detached: true });
  }
  check(req: CheckNamespaceRequest) {
    this.checks.push(req);
    return this.#answer({ attachment: ATTACHMENT });
  }
  gc(req: GcNamespacesRequest) {
    this.gcs.push(req);
    return this.#answer({ detachedIds: [] });
  }
  info() {
    return this.#answer(this.info_);
  }
  close() {
    this.closed++;
  }
}

const env = (command: string, extra: Record<string, string> = {}): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: CONTAINER,
  CNI_NETNS: NETNS,
  CNI_IFNAME: 'eth0',
  CNI_PATH: '/opt/cni/bin',
  ...extra,
});

const config = (extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ cniVersion: '1.0.0', name: 'test-net', type: 'vxmesh-cni', ...extra });

async function run(daemon: FakeCniDaemon, e: Record<string, string | undefined>, stdin: string, exists = true) {
  const out = await runCniPlugin({
    env: e,
    stdin,
    connect: (socket) => {
      daemon.sockets.push(socket);
      return daemon;
    },
    pathExists: () => Promise.resolve(exists),
  });
  return { ...out, json: out.stdout ? (JSON.parse(out.stdout) as Record<string, unknown>) : undefined };
}

describe('vxmesh-cni command handling', () => {
  it('ADD: asks the daemon named by the config and prints a 1.0.0 result', async () => {
    const d = new FakeCniDaemon();
    const res = await run(
      d,
      env('ADD', { CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAME=web-1;K8S_POD_NAMESPACE=default;IP=10.0.1.5' }),
      config({
        network: 'vx-net',
        socket: '/tmp/d.sock',
        runtimeConfig: { aliases: { 'test-net': ['web', 'web-1'] } },
        dns: { search: ['corp.example'] },
      }),
    );
    expect(res.exitCode).toBe(0);
    expect(d.sockets).toEqual(['/tmp/d.sock']);
    expect(d.attaches).toEqual([
      {
        containerId: CONTAINER,
        ifName: 'eth0',
        netnsPath: NETNS,
        network: 'vx-net',
        origin: 'cni:test-net',
        name: 'web-1',
        ipv4Address: '10.0.1.5',
        ipv6Address: '',
        aliases: ['web'],
        dns: true,
      },
    ]);
    expect(res.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: '02:42:0a:00:01:05', sandbox: NETNS }],
      ips: [{ address: '10.0.1.5/24', gateway: '10.0.1.1', interface: 0 }],
      routes: [{ dst: '10.0.2.0/24', gw: '10.0.1.1' }],
      dns: { nameservers: ['127.0.0.11'], search: ['corp.example'], options: ['ndots:0'] },
    });
    expect(d.closed).toBe(1);
  });

  it('ADD: defaults (network = CNI name, default socket, resolver on) and a 0.4.0 result', async () => {
    const d = new FakeCniDaemon();
    const res = await run(d, env('ADD'), config({ cniVersion: '0.4.0', runtimeConfig: { ips: ['10.0.1.5/24'] } }));
    expect(res.exitCode).toBe(0);
    expect(d.sockets).toEqual(['/run/vxmesh/vxmesh.sock']);
    expect(d.attaches[0]).toMatchObject({ network: 'test-net', name: '', ipv4Address: '10.0.1.5', dns: true });
    expect(res.json).toMatchObject({
      cniVersion: '0.4.0',
      ips: [{ version: '4', address: '10.0.1.5/24', interface: 0 }],
    });
  });

  it('embeddedDns false is passed on', async () => {
    const d = new FakeCniDaemon();
    await run(d, env('ADD'), config({ embeddedDns: false }));
    expect(d.attaches[0]?.dns).toBe(false);
  });

  it('DEL: detaches by container and interface, prints nothing; no CNI_NETNS is fine', async () => {
    const d = new FakeCniDaemon();
    const res = await run(d, env('DEL', { CNI_NETNS: '' }), config());
    expect(res).toMatchObject({ exitCode: 0, stdout: '' });
    expect(d.detaches).toEqual([{ containerId: CONTAINER, ifName: 'eth0' }]);
  });

  it('CHECK: sends what prevResult says about the interface', async () => {
    const d = new FakeCniDaemon();
    const prevResult = {
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'lo', sandbox: NETNS },
        { name: 'eth0', mac: '02:42:0a:00:01:05', sandbox: NETNS },
      ],
      ips: [
        { address: '10.0.1.5/24', interface: 1 },
        { address: '127.0.0.1/8', interface: 0 },
      ],
    };
    const res = await run(d, env('CHECK'), config({ network: 'vx-net', prevResult }));
    expect(res.exitCode).toBe(0);
    expect(d.checks).toEqual([
      {
        containerId: CONTAINER,
        ifName: 'eth0',
        netnsPath: NETNS,
        network: 'vx-net',
        addresses: ['10.0.1.5/24'],
        macAddress: '02:42:0a:00:01:05',
      },
    ]);
  });

  it('GC and STATUS (1.1.0)', async () => {
    const d = new FakeCniDaemon();
    const gc = await run(
      d,
      { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' },
      config({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }] }),
    );
    expect(gc.exitCode).toBe(0);
    expect(d.gcs).toEqual([{ origin: 'cni:test-net', valid: [{ containerId: 'a', ifName: 'eth0' }] }]);
    expect((await run(d, { CNI_COMMAND: 'STATUS' }, config({ cniVersion: '1.1.0' }))).exitCode).toBe(0);
    d.info_ = { ...d.info_, sessionState: 'disconnected', lastError: 'manager gone' };
    expect((await run(d, { CNI_COMMAND: 'STATUS' }, config({ cniVersion: '1.1.0' }))).json).toMatchObject({ code: 50 });
    d.info_ = { ...d.info_, localNodeState: 'inactive' };
    expect((await run(d, { CNI_COMMAND: 'STATUS' }, config({ cniVersion: '1.1.0' }))).json).toMatchObject({ code: 50 });
    d.failWith = new UnavailableError('no socket');
    expect((await run(d, { CNI_COMMAND: 'STATUS' }, config({ cniVersion: '1.1.0' }))).json).toMatchObject({ code: 51 });
  });

  it('VERSION answers in the version asked, without a daemon', async () => {
    const d = new FakeCniDaemon();
    const res = await run(d, { CNI_COMMAND: 'VERSION' }, JSON.stringify({ cniVersion: '0.4.0' }));
    expect(res.json).toEqual({ cniVersion: '0.4.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    expect((await run(d, { CNI_COMMAND: 'VERSION' }, '')).json).toMatchObject({ cniVersion: '1.0.0' });
    expect(d.sockets).toEqual([]);
  });

  it.each([
    ['no command', { CNI_COMMAND: undefined }, config(), 4],
    ['unknown command', { CNI_COMMAND: 'FROB' }, config(), 4],
    ['bad container ID', { CNI_CONTAINERID: '/x' }, config(), 4],
    ['bad interface name', { CNI_IFNAME: 'a-very-long-interface-name' }, config(), 4],
    ['no CNI_PATH', { CNI_PATH: '' }, config(), 4],
    ['no CNI_NETNS for ADD', { CNI_NETNS: '' }, config(), 4],
    ['relative CNI_NETNS', { CNI_NETNS: 'netns/x' }, config(), 4],
    ['malformed CNI_ARGS', { CNI_ARGS: 'novalue' }, config(), 4],
    ['unknown CNI_ARGS', { CNI_ARGS: 'FOO=bar' }, config(), 2],
    ['not JSON', {}, '{', 6],
    ['not an object', {}, '[]', 6],
    ['no name', {}, JSON.stringify({ cniVersion: '1.0.0' }), 7],
    ['no version', {}, JSON.stringify({ name: 'n' }), 1],
    ['unknown version', {}, config({ cniVersion: '2.0.0' }), 1],
    ['dns not an object', {}, config({ dns: true }), 7],
    ['bad static address', { CNI_ARGS: 'IP=10.0.1' }, config(), 7],
    ['two static IPv4 addresses', { CNI_ARGS: 'IP=10.0.1.5,10.0.1.6' }, config(), 7],
  ])('ADD refused before the daemon is asked: %s', async (_what, override, stdin, code) => {
    const d = new FakeCniDaemon();
    const res = await run(d, { ...env('ADD'), ...override }, stdin);
    expect(res.exitCode).toBe(1);
    expect(res.json).toMatchObject({ code, msg: expect.any(String) as string });
    expect(d.attaches).toEqual([]);
  });

  it('ADD into a namespace that does not exist: unknown container (3)', async () => {
    const d = new FakeCniDaemon();
    expect((await run(d, env('ADD'), config(), false)).json).toMatchObject({ code: 3 });
  });

  it('CHECK needs 0.4.0+ and a prevResult that lists the interface', async () => {
    const d = new FakeCniDaemon();
    expect((await run(d, env('CHECK'), config({ cniVersion: '0.3.1' }))).json).toMatchObject({ code: 1 });
    expect((await run(d, env('CHECK'), config())).json).toMatchObject({ code: 7 });
    expect(
      (await run(d, env('CHECK'), config({ prevResult: { interfaces: [{ name: 'eth1', sandbox: NETNS }], ips: [] } })))
        .json,
    ).toMatchObject({
      code: 102,
    });
    expect((await run(d, env('STATUS'), config())).json).toMatchObject({ code: 1 });
  });

  it.each([
    ['INVALID_ARGUMENT', 'ADD', 7],
    ['NOT_FOUND', 'ADD', 7],
    ['PERMISSION_DENIED', 'ADD', 7],
    ['ALREADY_EXISTS', 'ADD', 100],
    ['EXHAUSTED', 'ADD', 101],
    ['UNAVAILABLE', 'ADD', 11],
    ['FAILED_PRECONDITION', 'ADD', 11],
    ['UNAVAILABLE', 'DEL', 11],
    ['NOT_FOUND', 'CHECK', 3],
    ['FAILED_PRECONDITION', 'CHECK', 102],
    ['INTERNAL', 'DEL', 110],
  ] as const)('daemon error %s on %s is CNI code %i, in the config version', async (code, command, cniCode) => {
    const d = new FakeCniDaemon();
    d.failWith = new VxmeshError(code, `boom ${code}`);
    const prevResult = { interfaces: [{ name: 'eth0', sandbox: NETNS }], ips: [] };
    const res = await run(d, env(command), config({ cniVersion: '0.4.0', prevResult }));
    expect(res.exitCode).toBe(1);
    expect(res.json).toEqual({ cniVersion: '0.4.0', code: cniCode, msg: `boom ${code}`, details: code });
    expect(d.closed).toBe(1);
  });
});
