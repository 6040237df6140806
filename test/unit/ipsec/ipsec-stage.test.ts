import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { planIpsec } from '../../../src/vxlan/ipsec/ipsec-diff.js';
import { diffIpsecNft, enforcedVnis, parseIpsecNft } from '../../../src/vxlan/ipsec/ipsec-nft.js';
import { IPSEC_MARK, IPSEC_REQID } from '../../../src/vxlan/ipsec/ipsec-names.js';
import type { ObservedIpsec } from '../../../src/vxlan/ipsec/ipsec-reader.js';
import { transmitKeyTag } from '../../../src/vxlan/ipsec/ipsec-spec.js';
import type { EncryptionSpec } from '../../../src/vxlan/ipsec/ipsec-spec.js';
import { desiredXfrm } from '../../../src/vxlan/ipsec/ipsec-xfrm.js';
import { parsePolicies, parseXfrmStates } from '../../../src/vxlan/ipsec/xfrm-text.js';
import type { NodeDataplaneSpec } from '../../../src/vxlan/dataplane-spec.js';
import { NET_A, NET_B, overlay } from '../vxlan/fixtures.js';
import { FakeIpsecKernel } from './fake-ipsec.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

const SELF = '198.51.100.10';
const PEER = '198.51.100.11';
const KEYS = [10, 11, 12].map((tag) => ({ tag, key: Buffer.alloc(32, tag).toString('hex') }));

function enc(changes: Partial<EncryptionSpec> = {}): EncryptionSpec {
  return {
    nodeId: 'me',
    bootId: 'boot-me',
    keys: KEYS,
    peers: [{ nodeId: 'peer', bootId: 'boot-peer', addr: PEER }],
    ...changes,
  };
}

function spec(changes: Partial<NodeDataplaneSpec> = {}): NodeDataplaneSpec {
  return {
    namespacePrefix: 'vxd-',
    dataPathAddr: SELF,
    dataPathPort: 4789,
    memberVteps: [SELF, PEER],
    overlays: [{ ...overlay(NET_A, 4097, 1), encrypted: true, mtu: 1416 }, overlay(NET_B, 4098, 2, 'c1', 'eth1')],
    encryption: enc(),
    ...changes,
  };
}

function observed(k: FakeIpsecKernel): ObservedIpsec {
  const table = k.listTable();
  return {
    states: parseXfrmStates(k.listStates()),
    policies: parsePolicies(k.listPolicies()),
    nft: table === undefined ? undefined : parseIpsecNft(table),
    unknown: false,
    errors: [],
  };
}

/** Applies the plan of `s` to the fake; returns the plan. */
function pass(k: FakeIpsecKernel, s: NodeDataplaneSpec): ReturnType<typeof planIpsec> {
  const plan = planIpsec(s, observed(k));
  for (const line of plan.xfrmLines) {
    expect(k.xfrm(line), line).toBeUndefined();
  }
  if (plan.nftLines.length > 0) {
    expect(k.nft(plan.nftLines)).toBeUndefined();
  }
  return plan;
}

describe('xfrm text parsers', () => {
  it('read what iproute2 6.1 prints on the stock Debian kernel (captured in the VM)', () => {
    const states = parseXfrmStates(fixture('xfrm-state-s.txt'));
    expect(states).toHaveLength(4);
    expect(states[0]).toEqual({
      src: '192.0.2.1',
      dst: '192.0.2.2',
      proto: 'esp',
      spi: 0x2ec469ca,
      reqid: IPSEC_REQID,
      mode: 'transport',
      aead: { name: 'rfc4106(gcm(aes))', key: '0x0123456789abcdef0123456789abcdef01234567', icvBits: 128 },
      replayWindow: 128,
      esn: true,
      bytes: 0,
      packets: 0,
      replayDropped: 0,
      integrityFailed: 0,
    });
    const policies = parsePolicies(fixture('xfrm-policy.txt'));
    expect(policies).toEqual([
      {
        src: '192.0.2.1/32',
        dst: '192.0.2.2/32',
        proto: 17,
        dport: 4789,
        dir: 'out',
        priority: 100,
        action: 'allow',
        mark: { value: IPSEC_MARK, mask: 0xffffffff },
        tmpl: {
          src: '192.0.2.1',
          dst: '192.0.2.2',
          proto: 'esp',
          spi: 0x2ec469ca,
          reqid: IPSEC_REQID,
          mode: 'transport',
        },
      },
      {
        src: '0.0.0.0/0',
        dst: '0.0.0.0/0',
        proto: 17,
        dport: 4789,
        dir: 'out',
        priority: 1000,
        action: 'block',
        mark: { value: IPSEC_MARK, mask: 0xffffffff },
      },
    ]);
  });

  it('read the short form without -s, and protocol numbers without /etc/protocols', () => {
    const states = parseXfrmStates(
      'src 10.0.0.1 dst 10.0.0.2\n\tproto esp spi 0x00001001 reqid 1 mode transport\n\treplay-window 64 \n\taead rfc4106(gcm(aes)) 0xAB 128\n\tsel src 0.0.0.0/0 dst 0.0.0.0/0 \n',
    );
    expect(states).toEqual([
      {
        src: '10.0.0.1',
        dst: '10.0.0.2',
        proto: 'esp',
        spi: 0x1001,
        reqid: 1,
        mode: 'transport',
        aead: { name: 'rfc4106(gcm(aes))', key: '0xab', icvBits: 128 },
        replayWindow: 64,
        esn: false,
      },
    ]);
    expect(
      parsePolicies('src 10.0.0.1/32 dst 10.0.0.2/32 proto 17 dport 7789 \n\tdir out priority 5 \n')[0],
    ).toMatchObject({ proto: 17, dport: 7789, action: 'allow' });
  });
});

describe('the transmit key', () => {
  it('is the second oldest of the ring (the oldest with one key, none without)', () => {
    expect(transmitKeyTag([{ tag: 12 }, { tag: 10 }, { tag: 11 }])).toBe(11);
    expect(transmitKeyTag([{ tag: 10 }])).toBe(10);
    expect(transmitKeyTag([])).toBeUndefined();
  });
});

describe('desired XFRM state', () => {
  it('per peer: one inbound SA per key, one outbound SA with the transmit key and its policy; one block policy', () => {
    const d = desiredXfrm(enc(), SELF, 4789, true);
    expect(d.errors).toEqual([]);
    expect(d.states.filter((s) => s.dir === 'in').map((s) => s.tag)).toEqual([10, 11, 12]);
    expect(d.states.filter((s) => s.dir === 'out').map((s) => s.tag)).toEqual([11]);
    expect(d.policies.map((p) => p.tmpl === undefined)).toEqual([true, false]);
    expect(new Set(d.states.map((s) => s.key)).size).toBe(4);
    // Nothing without an encrypted overlay, and no keys: enforcement only, and said so.
    expect(desiredXfrm(enc(), SELF, 4789, false)).toEqual({ states: [], policies: [], errors: [] });
    const keyless = desiredXfrm(enc({ keys: [] }), SELF, 4789, true);
    expect(keyless.states).toEqual([]);
    expect(keyless.policies).toHaveLength(1);
    expect(keyless.errors.join()).toMatch(/no IPsec keys/);
  });

  it('both ends agree: what one sends with is what the other receives with', () => {
    const mine = desiredXfrm(enc(), SELF, 4789, true);
    const theirs = desiredXfrm(
      { nodeId: 'peer', bootId: 'boot-peer', keys: KEYS, peers: [{ nodeId: 'me', bootId: 'boot-me', addr: SELF }] },
      PEER,
      4789,
      true,
    );
    const out = mine.states.find((s) => s.dir === 'out');
    expect(theirs.states.find((s) => s.dir === 'in' && s.spi === out?.spi)?.key).toBe(out?.key);
    const back = theirs.states.find((s) => s.dir === 'out');
    expect(mine.states.find((s) => s.dir === 'in' && s.spi === back?.spi)?.key).toBe(back?.key);
  });

  it('skips itself, refuses a family mix and a shared address', () => {
    const d = desiredXfrm(
      enc({
        peers: [
          { nodeId: 'me', bootId: '', addr: SELF },
          { nodeId: 'v6', bootId: '', addr: '2001:db8::1' },
          { nodeId: 'p1', bootId: '', addr: PEER },
          { nodeId: 'p2', bootId: '', addr: PEER },
        ],
      }),
      SELF,
      4789,
      true,
    );
    expect(new Set(d.states.map((s) => s.peer))).toEqual(new Set(['p1']));
    expect(d.errors.join('\n')).toMatch(/not of the family/);
    expect(d.errors.join('\n')).toMatch(/share address/);
  });
});

describe('the IPsec stage of a pass', () => {
  it('without an encryption section builds no encrypted overlay (fail closed)', () => {
    const { encryption: _e, ...bare } = spec();
    const plan = planIpsec(bare, undefined);
    expect(plan.heldBack).toEqual([NET_A]);
    expect(plan.xfrmLines).toEqual([]);
    expect(plan.errors.join()).toMatch(/cannot enforce IPsec/);
  });

  it('with the IPsec state unreadable leaves encrypted overlays as they are and changes nothing', () => {
    const plan = planIpsec(spec(), {
      states: [],
      policies: [],
      nft: undefined,
      unknown: true,
      errors: ['ip xfrm state: boom'],
    });
    expect(plan).toMatchObject({ xfrmLines: [], nftLines: [], heldBack: [], leftAlone: [NET_A] });
  });

  it('installs the enforcement first and holds the overlay back until a read finds it in place', () => {
    const k = new FakeIpsecKernel();
    const first = pass(k, spec());
    expect(first.heldBack).toEqual([NET_A]);
    expect(first.nftLines.length).toBeGreaterThan(0);
    expect(enforcedVnis(4789, parseIpsecNft(k.listTable()))).toEqual(new Set([4097]));
    const second = pass(k, spec());
    expect(second).toMatchObject({ xfrmLines: [], nftLines: [], heldBack: [], errors: [] });
    expect(k.states.size).toBe(4);
    expect(k.policies.size).toBe(2);
  });

  it('rotates make-before-break: new SA, then the policy switched to it, then the old SA removed', () => {
    const k = new FakeIpsecKernel();
    pass(k, spec());
    pass(k, spec());
    const oldTx = [...k.states.values()].find((s) => s.src === SELF);
    const rotated = spec({
      encryption: enc({ keys: [...KEYS.slice(1), { tag: 13, key: Buffer.alloc(32, 13).toString('hex') }] }),
    });
    const plan = pass(k, rotated);
    const lines = plan.xfrmLines;
    const addTx = lines.findIndex((l) => l.startsWith(`xfrm state add src ${SELF}`));
    const switchTx = lines.findIndex((l) => l.startsWith('xfrm policy update') && l.includes('tmpl'));
    const dropOldTx = lines.findIndex((l) => l.startsWith(`xfrm state delete src ${SELF}`));
    expect(addTx).toBeGreaterThanOrEqual(0);
    expect(switchTx).toBeGreaterThan(addTx);
    expect(dropOldTx).toBeGreaterThan(switchTx);
    // Inbound: the new key added, the oldest removed, the others untouched.
    expect(lines.filter((l) => l.startsWith(`xfrm state add src ${PEER}`))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith(`xfrm state delete src ${PEER}`))).toHaveLength(1);
    expect(plan.nftLines).toEqual([]);
    const newTx = [...k.states.values()].find((s) => s.src === SELF);
    expect(newTx?.spi).not.toBe(oldTx?.spi);
    expect(newTx?.key).not.toBe(oldTx?.key);
    expect(pass(k, rotated).xfrmLines).toEqual([]);
  });

  it('a peer that rebooted gets new inbound SAs; an SA changed behind our back is replaced, never updated in place', () => {
    const k = new FakeIpsecKernel();
    pass(k, spec());
    pass(k, spec());
    const rebooted = spec({ encryption: enc({ peers: [{ nodeId: 'peer', bootId: 'boot-peer-2', addr: PEER }] }) });
    const plan = pass(k, rebooted);
    expect(plan.xfrmLines.filter((l) => l.startsWith(`xfrm state add src ${PEER}`))).toHaveLength(3);
    expect(plan.xfrmLines.filter((l) => l.startsWith(`xfrm state delete src ${PEER}`))).toHaveLength(3);
    expect(plan.xfrmLines.some((l) => l.includes(`src ${SELF} dst ${PEER}`) && l.includes('state'))).toBe(false);
    const tampered = [...k.states.values()].find((s) => s.src === PEER);
    if (tampered) {
      tampered.key = '0xdeadbeef';
    }
    const repair = pass(k, rebooted).xfrmLines;
    expect(repair[0]).toMatch(/^xfrm state delete /);
    expect(repair[1]).toMatch(/^xfrm state add /);
  });

  it('moves everything to a new data port, leaving nothing on the old one', () => {
    const k = new FakeIpsecKernel();
    pass(k, spec());
    pass(k, spec());
    const moved = spec({ dataPathPort: 7789 });
    const plan = pass(k, moved);
    // The old policies go, new ones come; SAs do not depend on the port.
    expect(plan.xfrmLines.every((l) => l.startsWith('xfrm policy'))).toBe(true);
    expect([...k.policies.values()].map((p) => p.dport)).toEqual([7789, 7789]);
    expect(plan.heldBack).toEqual([NET_A]);
    expect(pass(k, moved)).toMatchObject({ xfrmLines: [], nftLines: [], heldBack: [] });
  });

  it('removes all of ours when the last encrypted overlay goes, and never touches foreign state', () => {
    const k = new FakeIpsecKernel();
    k.xfrm(
      'xfrm state add src 203.0.113.1 dst 203.0.113.2 proto esp spi 0x00000777 reqid 42 mode transport replay-window 32 aead rfc4106(gcm(aes)) 0x00 64',
    );
    k.xfrm(
      'xfrm policy update src 203.0.113.1/32 dst 203.0.113.2/32 proto 17 dport 500 dir out priority 5 mark 0x1 mask 0xffffffff action block',
    );
    pass(k, spec());
    pass(k, spec());
    const plain = spec({ overlays: [overlay(NET_B, 4098, 2, 'c1', 'eth1')] });
    pass(k, plain);
    expect([...k.states.values()].map((s) => s.reqid)).toEqual([42]);
    expect([...k.policies.values()].map((p) => p.mark)).toEqual(['0x1/0xffffffff']);
    expect(k.table).toBeUndefined();
  });
});

describe('the IPsec nft table', () => {
  it('adds and deletes VNIs one by one, keeping the counters; moves its rules with the port', () => {
    const k = new FakeIpsecKernel();
    expect(k.nft(diffIpsecNft(4789, [4097], undefined))).toBeUndefined();
    const table = k.table;
    table?.counters.set('plaintext_dropped', 5);
    const more = diffIpsecNft(4789, [4097, 4098], parseIpsecNft(k.listTable()));
    expect(more).toEqual(['add element inet vxmesh_ipsec encrypted_vnis { 4098 }']);
    k.nft(more);
    const fewer = diffIpsecNft(4789, [4098], parseIpsecNft(k.listTable()));
    expect(fewer).toEqual(['delete element inet vxmesh_ipsec encrypted_vnis { 4097 }']);
    k.nft(fewer);
    const port = diffIpsecNft(7789, [4098], parseIpsecNft(k.listTable()));
    expect(port.filter((l) => l.startsWith('flush chain'))).toHaveLength(3);
    expect(enforcedVnis(7789, parseIpsecNft(k.listTable()))).toEqual(new Set());
    k.nft(port);
    expect(enforcedVnis(7789, parseIpsecNft(k.listTable()))).toEqual(new Set([4098]));
    expect(k.table?.counters.get('plaintext_dropped')).toBe(5);
    expect(diffIpsecNft(7789, [], parseIpsecNft(k.listTable()))).toEqual(['delete table inet vxmesh_ipsec']);
  });

  it('is not enforcing when a chain is missing a rule or sits on the wrong hook', () => {
    const k = new FakeIpsecKernel();
    k.nft(diffIpsecNft(4789, [4097], undefined));
    const c = k.table?.chains.get('enc_in');
    if (c) {
      c.comments = [];
    }
    expect(enforcedVnis(4789, parseIpsecNft(k.listTable()))).toEqual(new Set());
    expect(diffIpsecNft(4789, [4097], parseIpsecNft(k.listTable()))[0]).toBe('flush chain inet vxmesh_ipsec enc_in');
  });
});
