import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diffLbTable } from '../../../src/vxlan/lb/lb-diff.js';
import { parseLbTable, parseStampSet } from '../../../src/vxlan/lb/lb-json.js';
import type { LbNamespaceSpec, PublishedPortSpec } from '../../../src/vxlan/lb/lb-spec.js';
import { roundRobinOf } from '../../../src/vxlan/lb/lb-state.js';
import type { LbTableState } from '../../../src/vxlan/lb/lb-state.js';
import {
  backendTexts,
  createLines,
  desiredLbTable,
  desiredPublishTable,
  stateAfter,
} from '../../../src/vxlan/lb/lb-table.js';

// Captured from nft 1.0.6 (kernel 6.18) after applying createLines() of exactly these specs
// (stamps 4000000001 and 7): the renderer's text and the parser's reading must agree.
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

const SANDBOX: LbNamespaceSpec = {
  namespace: 'x',
  hook: 'prerouting',
  masqueradeOut: 'eth0',
  frontends: [
    {
      addr: '172.18.255.254',
      protocol: 'tcp',
      port: 8080,
      backends: [
        { addr: '10.255.0.7', port: 80 },
        { addr: '10.255.0.5', port: 80 },
        { addr: '10.255.0.6', port: 80 },
      ],
    },
    { addr: '172.18.255.254', protocol: 'udp', port: 5353, backends: [{ addr: '10.255.0.9', port: 53 }] },
  ],
};
const PUBLISHED: PublishedPortSpec[] = [
  { protocol: 'tcp', port: 8080, target: { addr: '172.18.255.254', port: 8080 }, mode: 'ingress' },
  { protocol: 'udp', port: 9053, target: { addr: '172.18.0.5', port: 53 }, mode: 'host' },
];

const VIP: LbNamespaceSpec = {
  namespace: 'c1',
  hook: 'output',
  frontends: [
    {
      addr: '10.0.1.2',
      protocol: 'tcp',
      port: 80,
      backends: [
        { addr: '10.0.1.5', port: 80 },
        { addr: '10.0.1.6', port: 80 },
      ],
    },
  ],
};

describe('parsing real nft -j output', () => {
  it('reads the sandbox table: stamp, frontends, 12 slots round-robin over sorted backends, chains', () => {
    const t = parseLbTable(fixture('lb-table-sandbox.json'));
    expect(t.malformed).toBe(false);
    expect(t.stamps).toEqual([4000000001]);
    expect([...t.frontends].sort()).toEqual(['172.18.255.254 . tcp . 8080', '172.18.255.254 . udp . 5353']);
    // Read as the round-robin of their sorted backends.
    expect(t.backends).toEqual(
      new Map([
        ['172.18.255.254 . tcp . 8080', ['10.255.0.5 . 80', '10.255.0.6 . 80', '10.255.0.7 . 80']],
        ['172.18.255.254 . udp . 5353', ['10.255.0.9 . 53']],
      ]),
    );
    expect(t.slots.size).toBe(0);
    expect(t.sets.get('backends')).toEqual({
      type: 'ipv4_addr . inet_proto . inet_service . mark',
      map: 'ipv4_addr . inet_service',
    });
    expect(t.chains.get('prerouting')).toEqual({
      type: 'nat',
      hook: 'prerouting',
      priority: -100,
      policy: 'accept',
      ruleComments: ['vxmesh lb dnat 12 0x766d7368'],
    });
    expect(t.chains.get('postrouting')?.ruleComments).toEqual(['vxmesh lb masquerade eth0']);
  });

  it('reads the publish table and the stamp listing', () => {
    const t = parseLbTable(fixture('lb-table-publish.json'));
    expect(t.ports).toEqual(
      new Map([
        ['udp . 9053', '172.18.0.5 . 53'],
        ['tcp . 8080', '172.18.255.254 . 8080'],
      ]),
    );
    expect([...t.chains.keys()]).toEqual(['prerouting', 'output', 'postrouting']);
    expect(parseStampSet(fixture('lb-stamp-set.json'))).toEqual([4000000001]);
    expect(parseStampSet({ nftables: [] })).toBeUndefined();
  });

  it('what was rendered, read back, needs no change', () => {
    expect(
      diffLbTable('vxmesh_lb', desiredLbTable(SANDBOX), parseLbTable(fixture('lb-table-sandbox.json')), 99),
    ).toEqual([]);
    const publish = desiredPublishTable(PUBLISHED, 'vx_gwbridge');
    expect(diffLbTable('vxmesh_publish', publish, parseLbTable(fixture('lb-table-publish.json')), 99)).toEqual([]);
  });

  it('flags elements of an unexpected shape and keeps out-of-layout slots as strays', () => {
    const t = parseLbTable({
      nftables: [
        {
          map: {
            name: 'backends',
            type: ['ipv4_addr', 'inet_proto', 'inet_service', 'mark'],
            map: 'ipv4_addr . inet_service',
            elem: [[{ concat: ['10.0.0.1', 'tcp', 80, 13] }, { concat: ['10.0.0.2', 80] }]],
          },
        },
        {
          set: {
            name: 'frontends',
            type: ['ipv4_addr', 'inet_proto', 'inet_service'],
            elem: [{ concat: ['10.0.0.1', 'tcp'] }],
          },
        },
      ],
    });
    expect(t.strays.get('backends')).toEqual(['10.0.0.1 . tcp . 80 . 13']);
    expect(t.malformed).toBe(true);
  });
});

describe('roundRobinOf', () => {
  it.each([
    ['one backend', new Array<string>(12).fill('a'), ['a']],
    ['five backends (uneven)', Array.from({ length: 12 }, (_, i) => 'abcde'[i % 5]), ['a', 'b', 'c', 'd', 'e']],
    ['an empty slot', ['a', undefined, ...new Array<string>(10).fill('a')], undefined],
    ['no period', ['a', 'b', 'a', 'a', 'b', 'a', 'a', 'b', 'a', 'a', 'b', 'b'], undefined],
  ])('%s', (_name, slots, expected) => {
    expect(roundRobinOf(slots)).toEqual(expected);
  });

  it('a table whose slots are no round-robin is read slot by slot and fixed slot by slot', () => {
    const slot = (k: number, to: string): unknown => [{ concat: ['10.0.1.2', 'tcp', 80, k] }, { concat: [to, 80] }];
    const t = parseLbTable({
      nftables: [
        {
          map: {
            name: 'backends',
            type: ['ipv4_addr', 'inet_proto', 'inet_service', 'mark'],
            map: 'ipv4_addr . inet_service',
            elem: Array.from({ length: 12 }, (_, k) => slot(k, k === 7 ? '10.0.1.6' : '10.0.1.5')),
          },
        },
      ],
    });
    expect(t.backends.size).toBe(0);
    expect(t.slots.get('10.0.1.2 . tcp . 80')?.[7]).toBe('10.0.1.6 . 80');
    const lines = diffLbTable(
      'vxmesh_lb',
      desiredLbTable({ ...VIP, frontends: [{ ...VIP.frontends[0]!, backends: [{ addr: '10.0.1.5', port: 80 }] }] }),
      t,
      3,
    );
    expect(lines).toContain('delete element ip vxmesh_lb backends { 10.0.1.2 . tcp . 80 . 7 }');
    expect(lines).toContain('add element ip vxmesh_lb backends { 10.0.1.2 . tcp . 80 . 7 : 10.0.1.5 . 80 }');
  });
});

describe('rendering', () => {
  it('sorts backends numerically and drops duplicates', () => {
    expect(
      backendTexts([
        { addr: '10.0.0.10', port: 80 },
        { addr: '10.0.0.9', port: 80 },
        { addr: '10.0.0.10', port: 80 },
        { addr: '10.0.0.9', port: 79 },
      ]),
    ).toEqual(['10.0.0.9 . 79', '10.0.0.9 . 80', '10.0.0.10 . 80']);
  });

  it('creates a table in one script; frontends without backends are left out', () => {
    const lines = createLines(
      desiredLbTable({
        ...VIP,
        frontends: [...VIP.frontends, { addr: '10.0.1.3', protocol: 'udp', port: 53, backends: [] }],
      }),
      5,
    );
    expect(lines.slice(0, 5)).toEqual([
      'add table ip vxmesh_lb',
      'add set ip vxmesh_lb stamp { type mark; }',
      'add set ip vxmesh_lb frontends { type ipv4_addr . inet_proto . inet_service; }',
      'add map ip vxmesh_lb backends { type ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service; }',
      'add element ip vxmesh_lb stamp { 5 }',
    ]);
    expect(lines[5]).toBe('add element ip vxmesh_lb frontends { 10.0.1.2 . tcp . 80 }');
    expect(lines[6]).toContain('10.0.1.2 . tcp . 80 . 0 : 10.0.1.5 . 80, 10.0.1.2 . tcp . 80 . 1 : 10.0.1.6 . 80,');
    expect(lines[6]).toContain('10.0.1.2 . tcp . 80 . 11 : 10.0.1.6 . 80 }');
    expect(lines.slice(7)).toEqual([
      'add chain ip vxmesh_lb output { type nat hook output priority -100; policy accept; }',
      'add rule ip vxmesh_lb output ip daddr . meta l4proto . th dport @frontends meta mark set jhash ip saddr . th sport mod 12 seed 0x766d7368 dnat ip to ip daddr . meta l4proto . th dport . meta mark map @backends comment "vxmesh lb dnat 12 0x766d7368"',
    ]);
  });

  it('has no publish table without published ports', () => {
    expect(desiredPublishTable([], 'vxgw0')).toBeUndefined();
  });
});

type Case = [string, LbNamespaceSpec | undefined, LbTableState | undefined, string[]];

const observedVip = stateAfter(desiredLbTable(VIP), 1);
const withBackends = (backends: { addr: string; port: number }[]): LbNamespaceSpec => ({
  ...VIP,
  frontends: [{ ...VIP.frontends[0]!, backends }],
});

const cases: Case[] = [
  ['unchanged', VIP, observedVip, []],
  ['no table, none wanted', undefined, undefined, []],
  ['a table no longer wanted', undefined, observedVip, ['delete table ip vxmesh_lb']],
  [
    'a third backend: only the slots that move are rewritten',
    withBackends([
      { addr: '10.0.1.5', port: 80 },
      { addr: '10.0.1.6', port: 80 },
      { addr: '10.0.1.7', port: 80 },
    ]),
    observedVip,
    [
      'delete element ip vxmesh_lb backends { 10.0.1.2 . tcp . 80 . 2, 10.0.1.2 . tcp . 80 . 3, 10.0.1.2 . tcp . 80 . 4, 10.0.1.2 . tcp . 80 . 5, 10.0.1.2 . tcp . 80 . 8, 10.0.1.2 . tcp . 80 . 9, 10.0.1.2 . tcp . 80 . 10, 10.0.1.2 . tcp . 80 . 11 }',
      'add element ip vxmesh_lb backends { 10.0.1.2 . tcp . 80 . 2 : 10.0.1.7 . 80, 10.0.1.2 . tcp . 80 . 3 : 10.0.1.5 . 80, 10.0.1.2 . tcp . 80 . 4 : 10.0.1.6 . 80, 10.0.1.2 . tcp . 80 . 5 : 10.0.1.7 . 80, 10.0.1.2 . tcp . 80 . 8 : 10.0.1.7 . 80, 10.0.1.2 . tcp . 80 . 9 : 10.0.1.5 . 80, 10.0.1.2 . tcp . 80 . 10 : 10.0.1.6 . 80, 10.0.1.2 . tcp . 80 . 11 : 10.0.1.7 . 80 }',
      'flush set ip vxmesh_lb stamp',
      'add element ip vxmesh_lb stamp { 9 }',
    ],
  ],
  [
    'the last backend goes: the frontend and its slots go',
    withBackends([]),
    observedVip,
    [
      'delete element ip vxmesh_lb frontends { 10.0.1.2 . tcp . 80 }',
      `delete element ip vxmesh_lb backends { ${Array.from({ length: 12 }, (_, i) => `10.0.1.2 . tcp . 80 . ${i}`).join(', ')} }`,
      'flush set ip vxmesh_lb stamp',
      'add element ip vxmesh_lb stamp { 9 }',
    ],
  ],
  [
    'a flushed chain is refilled',
    VIP,
    { ...observedVip, chains: new Map([['output', { ...observedVip.chains.get('output')!, ruleComments: [] }]]) },
    [
      'flush chain ip vxmesh_lb output',
      'add rule ip vxmesh_lb output ip daddr . meta l4proto . th dport @frontends meta mark set jhash ip saddr . th sport mod 12 seed 0x766d7368 dnat ip to ip daddr . meta l4proto . th dport . meta mark map @backends comment "vxmesh lb dnat 12 0x766d7368"',
      'flush set ip vxmesh_lb stamp',
      'add element ip vxmesh_lb stamp { 9 }',
    ],
  ],
  ['a missing stamp alone is written', VIP, { ...observedVip, stamps: [] }, ['add element ip vxmesh_lb stamp { 9 }']],
  [
    'a chain on another hook: the table is rebuilt in the same transaction',
    { ...VIP, hook: 'prerouting' },
    { ...observedVip, chains: new Map([['prerouting', { ...observedVip.chains.get('output')!, hook: 'output' }]]) },
    ['delete table ip vxmesh_lb', ...createLines(desiredLbTable({ ...VIP, hook: 'prerouting' }), 9)],
  ],
  [
    'slots beyond the layout are deleted',
    VIP,
    { ...observedVip, strays: new Map([['backends', ['10.0.1.2 . tcp . 80 . 40']]]) },
    [
      'delete element ip vxmesh_lb backends { 10.0.1.2 . tcp . 80 . 40 }',
      'flush set ip vxmesh_lb stamp',
      'add element ip vxmesh_lb stamp { 9 }',
    ],
  ],
  [
    'a table that does not exist is created',
    VIP,
    undefined,
    createLines(desiredLbTable(VIP), 9),
  ],
];

describe('diffLbTable', () => {
  it.each(cases)('%s', (_name, spec, observed, expected) => {
    expect(diffLbTable('vxmesh_lb', spec === undefined ? undefined : desiredLbTable(spec), observed, 9)).toEqual(
      expected,
    );
  });

  it('published ports: a changed target is deleted and added, a gone one deleted', () => {
    const observed = stateAfter(desiredPublishTable(PUBLISHED, 'vxgw0')!, 1);
    const desired = desiredPublishTable(
      [{ ...PUBLISHED[0]!, target: { addr: '172.18.0.9', port: 80 }, mode: 'host' }],
      'vxgw0',
    );
    expect(diffLbTable('vxmesh_publish', desired, observed, 2)).toEqual([
      'delete element ip vxmesh_publish ports { tcp . 8080, udp . 9053 }',
      'add element ip vxmesh_publish ports { tcp . 8080 : 172.18.0.9 . 80 }',
      'flush set ip vxmesh_publish stamp',
      'add element ip vxmesh_publish stamp { 2 }',
    ]);
  });
});
