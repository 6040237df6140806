import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDns, NetnsDnsDriver } from '../../src/worker/dns/index.js';
import type { DnsEndpoint, DnsState } from '../../src/worker/dns/index.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';

/**
 * The embedded DNS for real: resolvers bound inside network namespaces by the netns driver and
 * served by this process, asked by Debian's dig and by libc (getent) inside those namespaces.
 *
 *   h0: container "ca" on network alpha (may forward: --dns = a dead server, then h2)
 *   h1: container "cb" on network beta (internal: no forwarding)
 *   h2: an upstream DNS server (dnsmasq) on 198.51.100.12, reached over the test underlay
 */
describe('embedded DNS in container namespaces (dig, getent, dnsmasq upstream)', () => {
  let hosts: TestHosts | undefined;
  let dns: EmbeddedDns | undefined;
  let upstream: ChildProcess | undefined;
  let dir = '';
  const h = (): TestHosts => {
    if (!hosts) {
      throw new Error('no hosts');
    }
    return hosts;
  };

  const ep = (
    id: string,
    networkId: string,
    ownerName: string,
    ipv4Address: string,
    extra: Partial<DnsEndpoint> = {},
  ): DnsEndpoint => ({
    id,
    networkId,
    ownerName,
    hostname: '',
    aliases: [],
    ipv4Address,
    ipv6Address: '',
    ...extra,
  });
  const base = (ns0: string, ns1: string): DnsState => ({
    networks: [
      { id: 'alpha-id', name: 'alpha', subnets: ['10.11.0.0/24', 'fd11::/64'], internal: false },
      { id: 'beta-id', name: 'beta', subnets: ['10.12.0.0/24'], internal: true },
    ],
    endpoints: [
      ep('e-ca', 'alpha-id', 'ca', '10.11.0.2/24', { hostname: 'ca-host', aliases: ['app'] }),
      ep('e-r1', 'alpha-id', 'r1', '10.11.0.3/24', { aliases: ['app'] }),
      ep('e-r2', 'alpha-id', 'r2', '10.11.0.4/24', { ipv6Address: 'fd11::4/64' }),
      ep('e-cb', 'beta-id', 'cb', '10.12.0.2/24'),
      ep('e-r3', 'beta-id', 'r3', '10.12.0.3/24', { aliases: ['app'] }),
    ],
    containers: [
      {
        id: 'ca',
        namespace: ns0,
        networks: [{ networkId: 'alpha-id', networkName: 'alpha', links: ['r1:friend'] }],
        dns: ['198.51.100.99', '198.51.100.12'],
      },
      {
        id: 'cb',
        namespace: ns1,
        networks: [{ networkId: 'beta-id', networkName: 'beta', links: [] }],
        dns: ['198.51.100.12'],
      },
    ],
  });
  let current: DnsState = { networks: [], endpoints: [], containers: [] };

  const dig = async (host: number, args: string[]): Promise<string> =>
    (await h().exec(host, 'dig', ['+tries=2', '+time=3', ...args], { check: false })).stdout;
  const short = async (host: number, args: string[]): Promise<string[]> =>
    (await dig(host, ['+short', ...args]))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .sort();
  const status = async (host: number, args: string[]): Promise<string> =>
    /status: (\w+)/.exec(await dig(host, args))?.[1] ?? 'no answer';

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 3 });
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-dns-test-'));
    const hostsFile = join(dir, 'upstream-hosts');
    const big = Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1} big.example.test\n`).join('');
    await writeFile(hostsFile, `192.0.2.80 www.example.test\n${big}`);
    await writeFile(join(dir, 'empty.conf'), '');
    upstream = h().spawn(
      2,
      'dnsmasq',
      [
        '-k',
        `--conf-file=${join(dir, 'empty.conf')}`,
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hostsFile}`,
        '--listen-address=198.51.100.12',
        '--bind-interfaces',
        '--port=53',
        '--user=root',
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
      ],
      { stdio: 'ignore' },
    );
    current = base(h().host(0).netns, h().host(1).netns);
    dns = new EmbeddedDns({
      driver: new NetnsDnsDriver(),
      desired: () => current,
      // The host's own servers must never be used here: every container has --dns.
      hostResolvConf: () =>
        Promise.resolve({ nameservers: ['192.0.2.254'], search: ['corp.example'], options: ['timeout:2'] }),
      forwardTimeoutMs: 500,
    });
    await dns.start();
    await dns.prepare({ id: 'ca', namespace: h().host(0).netns });
    await dns.prepare({ id: 'cb', namespace: h().host(1).netns });
    // dnsmasq answers once it is listening.
    for (let i = 0; i < 50 && (await short(2, ['@198.51.100.12', 'www.example.test'])).length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    upstream?.kill('SIGKILL');
    await dns?.close();
    for (const host of hosts?.hosts ?? []) {
      await rm(join('/etc/netns', host.netns), { recursive: true, force: true });
    }
    await hosts?.destroy();
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('resolv.conf inside the namespace points at 127.0.0.11 with the host’s search and options, ndots:0', async () => {
    const conf = (await h().exec(0, 'cat', ['/etc/resolv.conf'])).stdout;
    expect(conf).toContain('nameserver 127.0.0.11\n');
    expect(conf).toContain('search corp.example\n');
    expect(conf).toContain('options ndots:0 timeout:2\n');
    expect(await readFile(join('/etc/netns', h().host(1).netns, 'resolv.conf'), 'utf8')).toBe(conf);
  });

  it('names, hostnames, shared aliases, <name>.<network>, AAAA, PTR and any letter case, over UDP and TCP', async () => {
    expect(await short(0, ['app'])).toEqual(['10.11.0.2', '10.11.0.3']);
    expect(await short(0, ['APP', '+tcp'])).toEqual(['10.11.0.2', '10.11.0.3']);
    expect(await short(0, ['ca-host'])).toEqual(['10.11.0.2']);
    expect(await short(0, ['r2.alpha'])).toEqual(['10.11.0.4']);
    expect(await short(0, ['AAAA', 'r2'])).toEqual(['fd11::4']);
    expect(await short(0, ['-x', '10.11.0.4'])).toEqual(['r2.alpha.']);
    expect(await short(0, ['-x', 'fd11::4'])).toEqual(['r2.alpha.']);
    expect(await status(0, ['ghost'])).toBe('NXDOMAIN');
    expect(await status(0, ['-x', '10.11.0.99'])).toBe('NXDOMAIN');
    // libc: /etc/hosts first, then the embedded resolver.
    expect((await h().exec(0, 'getent', ['ahostsv4', 'r1'])).stdout).toMatch(/^10\.11\.0\.3\s/);
    expect((await h().exec(0, 'getent', ['hosts', 'r2'])).stdout).toMatch(/^fd11::4\s+r2/);
  });

  it('links are private to the linking container; networks are isolated from each other', async () => {
    expect((await h().exec(0, 'getent', ['ahostsv4', 'friend'])).stdout).toMatch(/^10\.11\.0\.3\s/);
    expect((await h().exec(1, 'getent', ['ahostsv4', 'friend'], { check: false })).exitCode).toBe(2);
    expect(await short(1, ['app'])).toEqual(['10.12.0.3']);
    expect(await status(1, ['ca'])).toBe('NXDOMAIN');
    expect(await status(0, ['cb'])).toBe('NXDOMAIN');
    // alpha is not cb's network: `ca.alpha` is an outside name for it, and cb may not forward.
    expect(await status(1, ['ca.alpha'])).toBe('SERVFAIL');
    expect(await status(1, ['-x', '10.11.0.2'])).toBe('NXDOMAIN');
  });

  it('forwards other names from inside the namespace (past a dead server), with TCP fallback on truncation', async () => {
    expect(await short(0, ['www.example.test'])).toEqual(['192.0.2.80']);
    expect((await h().exec(0, 'getent', ['ahostsv4', 'www.example.test'])).stdout).toMatch(/^192\.0\.2\.80\s/);
    // Without EDNS the 40 records do not fit in 512 bytes: the UDP answer comes back truncated,
    // dig retries over TCP, and the resolver asks dnsmasq over TCP from the namespace.
    const truncated = await dig(0, ['+noedns', '+ignore', 'big.example.test']);
    expect(truncated).toMatch(/flags: qr[^;]*tc/);
    expect(await short(0, ['+noedns', 'big.example.test'])).toHaveLength(40);
    expect((await h().exec(0, 'getent', ['ahostsv4', 'big.example.test'])).stdout).toContain('192.0.2.40');
    // Internal only: never forwarded.
    expect(await status(1, ['www.example.test'])).toBe('SERVFAIL');
    expect(dns?.counters.forwarded).toBeGreaterThanOrEqual(4);
  });

  it('records follow the state: a removed alias holder and a removed container stop resolving at the next refresh', async () => {
    const ns0 = h().host(0).netns;
    const ns1 = h().host(1).netns;
    current = { ...base(ns0, ns1), endpoints: base(ns0, ns1).endpoints.filter((e) => e.id !== 'e-r1') };
    dns?.refresh();
    expect(await short(0, ['app'])).toEqual(['10.11.0.2']);
    expect(await status(0, ['r1'])).toBe('NXDOMAIN');
    expect(await status(0, ['friend'])).toBe('NXDOMAIN');
    current = base(ns0, ns1);
    dns?.refresh();
    expect(await short(0, ['friend'])).toEqual(['10.11.0.3']);
  });

  it('release closes the resolver inside the namespace; prepare binds it again', async () => {
    await dns?.release('cb');
    expect(await status(1, ['+tries=1', '+time=1', 'app'])).toBe('no answer');
    await dns?.prepare({ id: 'cb', namespace: h().host(1).netns });
    expect(await short(1, ['app'])).toEqual(['10.12.0.3']);
  });
});
