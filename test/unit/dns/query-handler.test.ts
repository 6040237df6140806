import { describe, expect, it } from 'vitest';
import { AskerContext } from '../../../src/worker/dns/asker-context.js';
import { ISOLATED_VIEW } from '../../../src/worker/dns/asker-view.js';
import { createDnsCounters } from '../../../src/worker/dns/dns-counters.js';
import { QueryHandler } from '../../../src/worker/dns/query-handler.js';
import type { HandleOutcome } from '../../../src/worker/dns/query-handler.js';
import { seededRandom } from '../../support/seeded-random.js';
import { buildQuery, decodeResponse, T } from './dns-messages.js';
import type { DecodedResponse } from './dns-messages.js';
import { state, view, viewsOf } from './fixtures.js';

const { table, views } = viewsOf();

function setup(asker = 'c-web1', ttlSeconds = 10) {
  const counters = createDnsCounters();
  const handler = new QueryHandler({ ttlSeconds, random: seededRandom(7), counters });
  const ctx = new AskerContext(table, view(views, asker));
  return { counters, handler, ctx };
}

function reply(out: HandleOutcome): DecodedResponse {
  if (!Buffer.isBuffer(out)) {
    throw new Error(`expected a response, got ${JSON.stringify(out)}`);
  }
  return decodeResponse(out);
}

describe('QueryHandler', () => {
  it('answers a cluster name with the question copied (letter case kept), AA, RD, RA and the TTL', () => {
    const { handler, ctx } = setup();
    const r = reply(handler.handle(buildQuery('WeB1.FrOnT', T.A, { id: 777 }), ctx, 'udp'));
    expect(r).toMatchObject({ id: 777, qr: true, aa: true, tc: false, rd: true, ra: true, rcode: 0 });
    expect(r.question).toEqual({ name: 'WeB1.FrOnT', type: T.A });
    expect(r.answers).toEqual([{ name: 'WeB1.FrOnT', type: T.A, ttl: 10, data: '10.1.0.2' }]);
    expect(r.opt).toBeUndefined();
  });

  it('uses the configured TTL and echoes EDNS with its own UDP size', () => {
    const { handler, ctx } = setup('c-web1', 3);
    const r = reply(handler.handle(buildQuery('db', T.AAAA, { edns: 4096 }), ctx, 'udp'));
    expect(r.answers).toEqual([{ name: 'db', type: T.AAAA, ttl: 3, data: 'fd00:2:0:0:0:0:0:5' }]);
    expect(r.opt).toEqual([1232, 0]);
  });

  it('shuffles shared-alias answers: every order shows up, every address every time', () => {
    const { handler, ctx } = setup('c-web2');
    const orders = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const r = reply(handler.handle(buildQuery('app', T.A), ctx, 'udp'));
      expect(r.answers.map((a) => a.data).sort()).toEqual(['10.1.0.2', '10.1.0.3']);
      orders.add(r.answers.map((a) => a.data).join(','));
    }
    expect(orders.size).toBe(2);
  });

  it('NXDOMAIN for missing cluster names; PTR and NODATA as resolved', () => {
    const { handler, ctx, counters } = setup();
    expect(reply(handler.handle(buildQuery('ghost', T.A), ctx, 'udp'))).toMatchObject({
      rcode: 3,
      aa: true,
      answers: [],
    });
    expect(reply(handler.handle(buildQuery('5.0.2.10.in-addr.arpa', T.PTR), ctx, 'udp')).answers).toEqual([
      { name: '5.0.2.10.in-addr.arpa', type: T.PTR, ttl: 10, data: 'db.back' },
    ]);
    expect(reply(handler.handle(buildQuery('web2', T.AAAA), ctx, 'udp'))).toMatchObject({ rcode: 0, answers: [] });
    expect(counters).toMatchObject({ nxdomain: 1, localAnswers: 2 });
  });

  it('other names become forward requests with the asker’s upstreams, or SERVFAIL when it may not forward', () => {
    const { handler, ctx } = setup();
    const out = handler.handle(buildQuery('www.example.com', T.A), ctx, 'udp');
    expect(out).toMatchObject({ kind: 'forward', upstreams: ['192.0.2.53'], query: { qtype: T.A } });
    const web2 = setup('c-web2');
    expect(web2.handler.handle(buildQuery('www.example.com', T.A), web2.ctx, 'udp')).toMatchObject({
      upstreams: ['198.51.100.53'],
    });
    const internal = setup('c-vault');
    const r = reply(internal.handler.handle(buildQuery('www.example.com', T.A, { id: 5 }), internal.ctx, 'udp'));
    expect(r).toMatchObject({ id: 5, rcode: 2, ra: false, answers: [] });
    expect(internal.counters.noUpstream).toBe(1);
  });

  it('refreshing the asker drops cached answers at once (a removed alias stops resolving)', () => {
    const { handler, ctx } = setup('c-web2');
    expect(reply(handler.handle(buildQuery('app', T.A), ctx, 'udp')).answers).toHaveLength(2);
    const next = viewsOf({ ...state, endpoints: state.endpoints.filter((e) => e.id !== 'e2') }, 2);
    ctx.update(next.table, view(next.views, 'c-web2'));
    expect(reply(handler.handle(buildQuery('app', T.A), ctx, 'udp')).answers.map((a) => a.data)).toEqual(['10.1.0.2']);
    ctx.update(next.table, ISOLATED_VIEW);
    expect(reply(handler.handle(buildQuery('app', T.A), ctx, 'udp')).rcode).toBe(3);
  });

  it('truncates over UDP to 512 bytes (or the EDNS size) with TC, and not over TCP', () => {
    const many = {
      ...state,
      endpoints: [
        ...state.endpoints,
        ...Array.from({ length: 60 }, (_, i) => ({
          id: `m${i}`,
          networkId: 'n-front',
          ownerName: `m${i}`,
          hostname: '',
          aliases: ['crowd'],
          ipv4Address: `10.1.0.${100 + i}`,
          ipv6Address: '',
        })),
      ],
    };
    const v = viewsOf(many, 5);
    const ctx = new AskerContext(v.table, view(v.views, 'c-web2'));
    const handler = new QueryHandler({ ttlSeconds: 10, random: seededRandom(1), counters: createDnsCounters() });
    const plain = handler.handle(buildQuery('crowd', T.A), ctx, 'udp') as Buffer;
    expect(plain.length).toBeLessThanOrEqual(512);
    expect(decodeResponse(plain)).toMatchObject({ tc: true });
    expect(decodeResponse(plain).answers.length).toBe(30);
    const edns = decodeResponse(handler.handle(buildQuery('crowd', T.A, { edns: 1232 }), ctx, 'udp') as Buffer);
    expect(edns).toMatchObject({ tc: false });
    expect(edns.answers).toHaveLength(60);
    const tcp = decodeResponse(handler.handle(buildQuery('crowd', T.A), ctx, 'tcp') as Buffer);
    expect(tcp).toMatchObject({ tc: false });
    expect(tcp.answers).toHaveLength(60);
  });

  it('FORMERR, NOTIMP, BADVERS, REFUSED and drops for bad messages', () => {
    const { handler, ctx, counters } = setup();
    const two = buildQuery('web1', T.A, { id: 9 });
    two.writeUInt16BE(2, 4);
    expect(reply(handler.handle(two, ctx, 'udp'))).toMatchObject({ id: 9, rcode: 1, question: undefined });
    expect(reply(handler.handle(buildQuery('web1', T.A, { opcode: 2 }), ctx, 'udp'))).toMatchObject({ rcode: 4 });
    const badvers = reply(handler.handle(buildQuery('web1', T.A, { edns: 1232, ednsVersion: 1 }), ctx, 'udp'));
    expect(badvers).toMatchObject({ rcode: 0, answers: [], opt: [1232, 1] });
    expect(reply(handler.handle(buildQuery('web1', T.A, { qclass: 3 }), ctx, 'udp'))).toMatchObject({ rcode: 5 });
    expect(reply(handler.handle(buildQuery('web1', T.AXFR), ctx, 'tcp'))).toMatchObject({ rcode: 4 });
    const response = buildQuery('web1', T.A);
    response[2] = 0x81;
    expect(handler.handle(response, ctx, 'udp')).toBeUndefined();
    expect(handler.handle(Buffer.alloc(5), ctx, 'udp')).toBeUndefined();
    expect(handler.handle(Buffer.concat([buildQuery('web1', T.A), Buffer.alloc(5000)]), ctx, 'udp')).toSatisfy(
      (b: unknown) => Buffer.isBuffer(b) && decodeResponse(b).rcode === 1,
    );
    const pointer = Buffer.from(buildQuery('web1', T.A));
    pointer[12] = 0xc0;
    expect(reply(handler.handle(pointer, ctx, 'udp')).rcode).toBe(1);
    expect(counters).toMatchObject({ malformed: 6, refused: 1, dropped: 2 });
  });

  it('a label holding a dot byte is not taken for two labels', () => {
    const { handler, ctx } = setup();
    // One label "web1.front" (10 bytes with a '.' inside): not the name web1.front.
    const q = Buffer.concat([
      buildQuery('x', T.A).subarray(0, 12),
      Buffer.from([10]),
      Buffer.from('web1.front'),
      Buffer.from([0, 0, 1, 0, 1]),
    ]);
    expect(handler.handle(q, ctx, 'udp')).toMatchObject({ kind: 'forward' });
  });

  it('fuzz: 100,000 random, truncated and mutated messages never throw; every reply decodes; a valid query still answers', () => {
    const { handler, ctx } = setup();
    const rnd = seededRandom(20_260_101);
    const valid = [
      buildQuery('web1', T.A, { edns: 1232 }),
      buildQuery('app', T.AAAA),
      buildQuery('5.0.2.10.in-addr.arpa', T.PTR),
      buildQuery('www.example.com', T.A),
      buildQuery('ghost', T.SRV, { edns: 512 }),
    ];
    let replies = 0;
    for (let i = 0; i < 100_000; i++) {
      const base = valid[i % valid.length] ?? Buffer.alloc(0);
      let msg: Buffer;
      const kind = i % 3;
      if (kind === 0) {
        msg = Buffer.alloc(Math.floor(rnd() * 600));
        for (let j = 0; j < msg.length; j++) {
          msg[j] = Math.floor(rnd() * 256);
        }
        msg[2] = (msg[2] ?? 0) & 0x7f; // mostly queries, so parsing goes deep
      } else if (kind === 1) {
        msg = base.subarray(0, Math.floor(rnd() * base.length));
      } else {
        msg = Buffer.from(base);
        for (let flips = 1 + Math.floor(rnd() * 4); flips > 0; flips--) {
          msg[Math.floor(rnd() * msg.length)] = Math.floor(rnd() * 256);
        }
      }
      const out = handler.handle(msg, ctx, rnd() < 0.5 ? 'udp' : 'tcp');
      if (Buffer.isBuffer(out)) {
        replies++;
        const r = decodeResponse(out);
        expect(r.qr).toBe(true);
        expect(r.id).toBe(msg.readUInt16BE(0));
      }
    }
    expect(replies).toBeGreaterThan(10_000);
    expect(reply(handler.handle(buildQuery('web1', T.A), ctx, 'udp')).answers[0]?.data).toBe('10.1.0.2');
  });
});
