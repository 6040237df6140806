import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedDns, NetnsDnsDriver } from '../../src/worker/dns/index.js';
import type { DnsState } from '../../src/worker/dns/index.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';

const PACKETS = 100_000;

/**
 * Sender run inside the container namespace: PACKETS datagrams to 127.0.0.11:53 from one socket,
 * a third each random bytes (0–599 long), truncated valid queries and valid queries with 1–4
 * bytes overwritten; a seeded PRNG makes every run the same. Paced at 50 per millisecond at most
 * (about half the resolver's capacity) so the socket buffer sees a steady stream. Prints
 * "sent=N replies=M" once the replies stop coming.
 */
const SENDER = String.raw`
const dgram = require('node:dgram');
const total = Number(process.argv[1]);
let a = 12345;
const rnd = () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const q = (name, type, edns) => {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const h = Buffer.alloc(12); h.writeUInt16BE(Math.floor(rnd() * 65536), 0); h[2] = 1; h.writeUInt16BE(1, 4); h.writeUInt16BE(edns ? 1 : 0, 10);
  const t = Buffer.alloc(4); t.writeUInt16BE(type, 0); t.writeUInt16BE(1, 2);
  const opt = Buffer.from([0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([h, ...labels, Buffer.from([0]), t, ...(edns ? [opt] : [])]);
};
const valid = [q('web', 1, true), q('app', 28, false), q('5.0.13.10.in-addr.arpa', 12, false), q('www.example.org', 1, false), q('_x._tcp.web', 33, true)];
const s = dgram.createSocket('udp4');
let sent = 0, replies = 0, last = Date.now();
s.on('message', () => { replies++; last = Date.now(); });
const burst = () => {
  for (let i = 0; i < 50 && sent < total; i++, sent++) {
    const base = valid[sent % valid.length];
    let m;
    if (sent % 3 === 0) { m = Buffer.alloc(Math.floor(rnd() * 600)); for (let j = 0; j < m.length; j++) m[j] = Math.floor(rnd() * 256); if (m.length > 2) m[2] &= 0x7f; }
    else if (sent % 3 === 1) { m = base.subarray(0, Math.floor(rnd() * base.length)); }
    else { m = Buffer.from(base); for (let f = 1 + Math.floor(rnd() * 4); f > 0; f--) m[Math.floor(rnd() * m.length)] = Math.floor(rnd() * 256); }
    s.send(m, 53, '127.0.0.11');
  }
  if (sent < total) { setTimeout(burst, 1); return; }
  const wait = setInterval(() => { if (Date.now() - last > 500) { clearInterval(wait); console.log('sent=' + sent + ' replies=' + replies); s.close(); } }, 100);
};
s.bind(0, '127.0.0.1', burst);
`;

describe('embedded DNS under garbage (in a namespace)', () => {
  let hosts: TestHosts | undefined;
  let dns: EmbeddedDns | undefined;

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 1 });
    const ns = hosts.host(0).netns;
    const state: DnsState = {
      networks: [{ id: 'n', name: 'fuzz', subnets: ['10.13.0.0/24'], internal: false }],
      endpoints: [
        {
          id: 'e1',
          networkId: 'n',
          ownerName: 'web',
          hostname: '',
          aliases: ['app'],
          ipv4Address: '10.13.0.5/24',
          ipv6Address: '',
        },
      ],
      containers: [{ id: 'c', namespace: ns, networks: [{ networkId: 'n', networkName: 'fuzz', links: [] }], dns: [] }],
    };
    dns = new EmbeddedDns({
      driver: new NetnsDnsDriver(),
      desired: () => state,
      // Forwarding goes nowhere: SERVFAIL at once (no upstream), nothing leaves the namespace.
      hostResolvConf: () => Promise.resolve({ nameservers: [], search: [], options: [] }),
    });
    await dns.start();
    await dns.prepare({ id: 'c', namespace: ns });
  });

  afterAll(async () => {
    await dns?.close();
    if (hosts) {
      await rm(join('/etc/netns', hosts.host(0).netns), { recursive: true, force: true });
      await hosts.destroy();
    }
  });

  it(`${PACKETS.toLocaleString('en')} random, truncated and mutated packets: the agent survives and still answers`, async () => {
    const h = hosts as TestHosts;
    const before = dns?.counters.udpQueries ?? 0;
    const out = await h.exec(0, process.execPath, ['-e', SENDER, String(PACKETS)]);
    const [, sent = '0', replies = '0'] = /sent=(\d+) replies=(\d+)/.exec(out.stdout) ?? [];
    expect(Number(sent)).toBe(PACKETS);
    const c = dns?.counters;
    const received = (c?.udpQueries ?? 0) - before;
    console.log(`fuzz: sent ${sent}, resolver received ${received}, replies ${replies}; counters ${JSON.stringify(c)}`);
    // Under a loaded CI machine (the whole suite runs in parallel) the socket buffer drops part
    // of the burst; what matters is that most of it reached the resolver and it still answers.
    expect(received).toBeGreaterThan(PACKETS * 0.5);
    expect(c?.malformed).toBeGreaterThan(5_000);
    expect(c?.dropped).toBeGreaterThan(1_000);
    const dig = await h.exec(0, 'dig', ['+short', '+tries=1', '+time=2', 'web']);
    expect(dig.stdout.trim()).toBe('10.13.0.5');
    const tcp = await h.exec(0, 'dig', ['+short', '+tcp', '+tries=1', '+time=2', 'app']);
    expect(tcp.stdout.trim()).toBe('10.13.0.5');
  });
});
