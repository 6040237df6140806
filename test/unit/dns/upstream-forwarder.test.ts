import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsCounters } from '../../../src/worker/dns/dns-counters.js';
import { parseQuery } from '../../../src/worker/dns/query-parser.js';
import type { ParsedQuery } from '../../../src/worker/dns/query-parser.js';
import { UpstreamForwarder } from '../../../src/worker/dns/upstream-forwarder.js';
import type { UpstreamRoute } from '../../../src/worker/dns/upstream-forwarder.js';
import { UpstreamUdpChannel } from '../../../src/worker/dns/upstream-udp-channel.js';
import { seededRandom } from '../../support/seeded-random.js';
import { buildQuery, decodeResponse, T } from './dns-messages.js';

/** Builds a reply to `query`: same ID and question, `count` A records 192.0.2.x, TC/rcode as asked. */
function answer(query: Buffer, opts: { count?: number; tc?: boolean; rcode?: number; id?: number } = {}): Buffer {
  const q = parseQuery(query) as ParsedQuery;
  const rrs = Array.from({ length: opts.count ?? 1 }, (_, i) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0);
    rr.writeUInt16BE(1, 2);
    rr.writeUInt16BE(1, 4);
    rr.writeUInt32BE(60, 6);
    rr.writeUInt16BE(4, 10);
    Buffer.from([192, 0, 2, i + 1]).copy(rr, 12);
    return rr;
  });
  const out = Buffer.concat([query.subarray(0, q.questionEnd), ...rrs]);
  out.writeUInt16BE(opts.id ?? q.id, 0);
  out[2] = 0x80 | (opts.tc ? 0x02 : 0) | 0x01;
  out[3] = 0x80 | (opts.rcode ?? 0);
  out.writeUInt16BE(rrs.length, 6);
  out.writeUInt32BE(0, 8);
  return out;
}

type Behaviour = (query: Buffer, transport: 'udp' | 'tcp') => Buffer[];

interface FakeUpstream {
  readonly udp: UdpSocket;
  readonly tcp: Server;
  queries: { udp: number; tcp: number };
}

const opened: (() => void)[] = [];
afterEach(() => {
  for (const close of opened.splice(0)) {
    close();
  }
});

async function fakeUpstream(address: string, port: number, behaviour: Behaviour): Promise<FakeUpstream> {
  const udp = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind({ address, port }, resolve);
  });
  const tcp = createServer((s) => {
    s.on('data', (chunk: Buffer) => {
      const query = chunk.subarray(2, 2 + chunk.readUInt16BE(0));
      up.queries.tcp++;
      for (const r of behaviour(query, 'tcp')) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r.length, 0);
        s.write(Buffer.concat([len, r]));
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => tcp.listen({ host: address, port: udp.address().port }, resolve));
  const up: FakeUpstream = { udp, tcp, queries: { udp: 0, tcp: 0 } };
  udp.on('message', (msg, rinfo) => {
    up.queries.udp++;
    for (const r of behaviour(msg, 'udp')) {
      udp.send(r, rinfo.port, rinfo.address);
    }
  });
  opened.push(() => {
    udp.close();
    tcp.close();
  });
  return up;
}

async function route(): Promise<UpstreamRoute & { tcpConnects: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind({ address: '127.0.0.1', port: 0 }, resolve));
  const channel = new UpstreamUdpChannel(
    socket,
    (
      (r) => () =>
        Math.floor(r() * 65536)
    )(seededRandom(3)),
  );
  opened.push(() => {
    channel.close();
    socket.close();
  });
  const r = {
    udp4: channel,
    udp6: undefined,
    tcpConnects: 0,
    connectTcp: (address: string, port: number) =>
      new Promise<Socket>((resolve, reject) => {
        r.tcpConnects++;
        const s = connect({ host: address, port });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      }),
  };
  return r;
}

function forwarder(port: number, maxInFlight = 10, timeoutMs = 300) {
  const counters = createDnsCounters();
  return { counters, fwd: new UpstreamForwarder({ timeoutMs, maxInFlight, counters, port }) };
}

const never = new AbortController().signal;

describe('UpstreamForwarder', () => {
  it('forwards under a fresh ID and answers with the client’s', async () => {
    let seenId = -1;
    const up = await fakeUpstream('127.0.0.1', 0, (q) => {
      seenId = q.readUInt16BE(0);
      return [answer(q)];
    });
    const port = up.udp.address().port;
    const { fwd, counters } = forwarder(port);
    const msg = buildQuery('www.example.org', T.A, { id: 4242 });
    const out = await fwd.forward(msg, parseQuery(msg) as ParsedQuery, ['127.0.0.1'], await route(), false, never);
    expect(Buffer.isBuffer(out)).toBe(true);
    expect(decodeResponse(out as Buffer)).toMatchObject({ id: 4242, rcode: 0, answers: [{ data: '192.0.2.1' }] });
    expect(seenId).not.toBe(-1);
    expect(counters).toMatchObject({ forwarded: 1, forwardFailures: 0 });
  });

  it('passes over a silent server and one answering SERVFAIL to the next', async () => {
    const silent = await fakeUpstream('127.0.0.1', 0, () => []);
    const port = silent.udp.address().port;
    const failing = await fakeUpstream('127.0.0.2', port, (q) => [answer(q, { rcode: 2 })]);
    const good = await fakeUpstream('127.0.0.3', port, (q) => [answer(q, { count: 2 })]);
    const { fwd } = forwarder(port, 10, 200);
    const msg = buildQuery('x.example.org', T.A, { id: 1 });
    const started = Date.now();
    const out = await fwd.forward(
      msg,
      parseQuery(msg) as ParsedQuery,
      ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
      await route(),
      false,
      never,
    );
    expect(decodeResponse(out as Buffer).answers).toHaveLength(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect([silent.queries.udp, failing.queries.udp, good.queries.udp]).toEqual([1, 1, 1]);
  });

  it('ignores replies with the wrong ID, the wrong question or from the wrong port', async () => {
    const stranger = createSocket('udp4');
    opened.push(() => stranger.close());
    const up = await fakeUpstream('127.0.0.1', 0, () => []);
    up.udp.removeAllListeners('message');
    up.udp.on('message', (q, rinfo) => {
      // A stranger on another port sends a well-formed reply first (5 records): ignored.
      stranger.send(answer(q, { count: 5 }), rinfo.port, rinfo.address);
      const other = buildQuery('evil.example.org', T.A, { id: q.readUInt16BE(0) });
      const wrongId = answer(q, { id: (q.readUInt16BE(0) + 1) & 0xffff, count: 3 });
      setTimeout(() => {
        for (const r of [wrongId, answer(other, { count: 4 }), answer(q)]) {
          up.udp.send(r, rinfo.port, rinfo.address);
        }
      }, 30);
    });
    const port = up.udp.address().port;
    const { fwd } = forwarder(port);
    const msg = buildQuery('a.example.org', T.A, { id: 99 });
    const out = await fwd.forward(msg, parseQuery(msg) as ParsedQuery, ['127.0.0.1'], await route(), false, never);
    expect(decodeResponse(out as Buffer)).toMatchObject({ id: 99, answers: [{ data: '192.0.2.1' }] });
  });

  it('a truncated UDP reply goes back as is to a UDP client; a TCP client gets the TCP answer', async () => {
    const up = await fakeUpstream('127.0.0.1', 0, (q, transport) =>
      transport === 'udp' ? [answer(q, { tc: true, count: 1 })] : [answer(q, { count: 40 })],
    );
    const port = up.udp.address().port;
    const { fwd } = forwarder(port);
    const r = await route();
    const msg = buildQuery('big.example.org', T.A, { id: 7 });
    const viaUdp = decodeResponse(
      (await fwd.forward(msg, parseQuery(msg) as ParsedQuery, ['127.0.0.1'], r, false, never)) as Buffer,
    );
    expect(viaUdp).toMatchObject({ id: 7, tc: true });
    expect(r.tcpConnects).toBe(0);
    const viaTcp = decodeResponse(
      (await fwd.forward(msg, parseQuery(msg) as ParsedQuery, ['127.0.0.1'], r, true, never)) as Buffer,
    );
    expect(viaTcp).toMatchObject({ id: 7, tc: false });
    expect(viaTcp.answers).toHaveLength(40);
    expect(r.tcpConnects).toBe(1);
    expect(up.queries).toEqual({ udp: 2, tcp: 1 });
  });

  it('refuses past the in-flight bound and reports failure when every server fails', async () => {
    const up = await fakeUpstream('127.0.0.1', 0, () => []);
    const port = up.udp.address().port;
    const { fwd, counters } = forwarder(port, 1, 150);
    const r = await route();
    const msg = buildQuery('slow.example.org', T.A);
    const q = parseQuery(msg) as ParsedQuery;
    const first = fwd.forward(msg, q, ['127.0.0.1'], r, false, never);
    expect(await fwd.forward(msg, q, ['127.0.0.1'], r, false, never)).toBe('busy');
    expect(await first).toBe('failed');
    expect(fwd.inFlight).toBe(0);
    expect(counters).toMatchObject({ forwarded: 1, refused: 1, forwardFailures: 1 });
  });
});
