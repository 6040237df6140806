import { describe, expect, it } from 'vitest';
import type { NftChainState, NftTableState } from '../../../src/vxlan/kernel-state.js';
import { desiredNftTable, diffNftTable } from '../../../src/vxlan/nft-diff.js';
import type { NftInputs } from '../../../src/vxlan/nft-diff.js';

const EGRESS = { bridge: 'vxgw0', gatewayCidr: '172.18.0.1/16', attachments: [] };
const GUARD: NftInputs = { dataPathPort: 4789, memberVteps: ['198.51.100.10', '198.51.100.11', 'fd00::1'] };

/** The table exactly as `desiredNftTable(inputs)` would leave it. */
function asObserved(inputs: NftInputs): NftTableState {
  const d = desiredNftTable(inputs);
  return {
    sets: new Map([...d.sets].map(([k, v]) => [k, { type: v.type, elements: [...v.elements] }])),
    counters: new Map(d.counters.map((c) => [c, { packets: 3, bytes: 300 }])),
    chains: new Map(
      d.chains.map((c): [string, NftChainState] => [
        c.name,
        { type: c.type, hook: c.hook, priority: c.priority, policy: 'accept', ruleComments: c.rules.map((r) => r.comment) },
      ]),
    ),
  };
}

function withChain(t: NftTableState, name: string, chain: Partial<NftChainState> | undefined): NftTableState {
  const chains = new Map(t.chains);
  const old = chains.get(name);
  if (chain === undefined) {
    chains.delete(name);
  } else if (old !== undefined) {
    chains.set(name, { ...old, ...chain });
  }
  return { ...t, chains };
}

type Case = [string, NftInputs, (t: NftTableState) => NftTableState, string[]];

const cases: Case[] = [
  ['unchanged guard', GUARD, (t) => t, []],
  ['unchanged guard and egress', { ...GUARD, egress: EGRESS }, (t) => t, []],
  [
    'a member left, another joined',
    { ...GUARD, memberVteps: ['198.51.100.10', '198.51.100.12', 'fd00::1'] },
    () => asObserved(GUARD),
    ['delete element inet vxmesh member_vteps4 { 198.51.100.11 }', 'add element inet vxmesh member_vteps4 { 198.51.100.12 }'],
  ],
  [
    'IPv6 members compare canonically',
    { ...GUARD, memberVteps: ['198.51.100.10', '198.51.100.11', 'FD00:0:0::1'] },
    (t) => t,
    [],
  ],
  [
    'a deleted guard rule: the chain is flushed and refilled, counter and sets kept',
    GUARD,
    (t) => withChain(t, 'input', { ruleComments: ['vxmesh guard6 udp 4789'] }),
    [
      'flush chain inet vxmesh input',
      'add rule inet vxmesh input udp dport 4789 ip saddr != @member_vteps4 counter name vxlan_dropped drop comment "vxmesh guard4 udp 4789"',
      'add rule inet vxmesh input udp dport 4789 ip6 saddr != @member_vteps6 counter name vxlan_dropped drop comment "vxmesh guard6 udp 4789"',
    ],
  ],
  [
    'a new data port changes the rules',
    { ...GUARD, dataPathPort: 4790 },
    () => asObserved(GUARD),
    [
      'flush chain inet vxmesh input',
      'add rule inet vxmesh input udp dport 4790 ip saddr != @member_vteps4 counter name vxlan_dropped drop comment "vxmesh guard4 udp 4790"',
      'add rule inet vxmesh input udp dport 4790 ip6 saddr != @member_vteps6 counter name vxlan_dropped drop comment "vxmesh guard6 udp 4790"',
    ],
  ],
  [
    'egress gone: its chains are emptied and deleted',
    GUARD,
    () => asObserved({ ...GUARD, egress: EGRESS }),
    ['flush chain inet vxmesh forward', 'delete chain inet vxmesh forward', 'flush chain inet vxmesh postrouting', 'delete chain inet vxmesh postrouting'],
  ],
  [
    'egress added: its chains are created',
    { ...GUARD, egress: EGRESS },
    () => asObserved(GUARD),
    [
      'add chain inet vxmesh forward { type filter hook forward priority 0; policy accept; }',
      'add rule inet vxmesh forward iifname "vxgw0" oifname "vxgw0" ct status dnat accept comment "vxmesh hairpin-accept vxgw0"',
      'add rule inet vxmesh forward iifname "vxgw0" oifname "vxgw0" drop comment "vxmesh icc-drop vxgw0"',
      'add chain inet vxmesh postrouting { type nat hook postrouting priority 100; policy accept; }',
      'add rule inet vxmesh postrouting ip saddr 172.18.0.0/16 oifname != "vxgw0" masquerade comment "vxmesh masquerade 172.18.0.0/16 vxgw0"',
      'add rule inet vxmesh postrouting ip saddr 172.18.0.0/16 oifname "vxgw0" ct status dnat masquerade comment "vxmesh hairpin-masquerade 172.18.0.0/16 vxgw0"',
    ],
  ],
  [
    'a missing counter is added before the rules that use it',
    GUARD,
    (t) => ({ ...withChain(t, 'input', { ruleComments: [] }), counters: new Map() }),
    [
      'add counter inet vxmesh vxlan_dropped',
      'flush chain inet vxmesh input',
      'add rule inet vxmesh input udp dport 4789 ip saddr != @member_vteps4 counter name vxlan_dropped drop comment "vxmesh guard4 udp 4789"',
      'add rule inet vxmesh input udp dport 4789 ip6 saddr != @member_vteps6 counter name vxlan_dropped drop comment "vxmesh guard6 udp 4789"',
    ],
  ],
];

describe('diffNftTable', () => {
  it.each(cases)('%s', (_name, inputs, mutate, expected) => {
    const observed = mutate(asObserved(inputs));
    expect(diffNftTable(desiredNftTable(inputs), observed)).toEqual(expected);
  });

  it('creates the whole table when it is missing, as one script', () => {
    const lines = diffNftTable(desiredNftTable(GUARD), undefined);
    expect(lines.slice(0, 4)).toEqual([
      'add table inet vxmesh',
      'add counter inet vxmesh vxlan_dropped',
      'add set inet vxmesh member_vteps4 { type ipv4_addr; }',
      'add element inet vxmesh member_vteps4 { 198.51.100.10, 198.51.100.11 }',
    ]);
    expect(lines).toContain('add element inet vxmesh member_vteps6 { fd00::1 }');
    expect(lines.filter((l) => l.startsWith('add rule'))).toHaveLength(2);
  });

  it('rebuilds the table when a chain sits on the wrong hook', () => {
    const observed = withChain(asObserved(GUARD), 'input', { hook: 'prerouting' });
    const lines = diffNftTable(desiredNftTable(GUARD), observed);
    expect(lines[0]).toBe('delete table inet vxmesh');
    expect(lines[1]).toBe('add table inet vxmesh');
  });
});
