/**
 * The XFRM half of the IPsec stage: which SAs and policies a spec asks for, and the `ip -batch`
 * lines that turn what the kernel holds into that, make-before-break.
 *
 * Per peer (a node with an endpoint on one of our encrypted overlays):
 * - one inbound SA per key of the ring (peer → us), so whatever key the peer sends with is
 *   accepted, including one a slow peer has not moved off yet;
 * - one outbound SA, with the transmit key ({@link transmitKeyTag}), and one `dir out` policy
 *   for UDP to the data port towards the peer carrying {@link IPSEC_MARK}, pinned to that SA's
 *   SPI;
 * and once per node, while an encrypted overlay exists: a `dir out` block policy for every
 * marked packet to the data port that no peer policy took (a peer whose tunnel is missing gets
 * nothing rather than plaintext).
 *
 * A pass orders its lines so that nothing is ever unprotected: new SAs first, then policies
 * switched to them (`policy update`), then stale policies and SAs removed. With the ring's
 * schedule (a key is receivable everywhere a full period before anyone sends with it), a
 * rotation loses no packet.
 */
import { canonicalIp, ipFamily } from '../ip-text.js';
import { aeadKeyText, deriveTunnelKey, spiText } from './key-derivation.js';
import type { TunnelKey } from './key-derivation.js';
import {
  AEAD_ALGORITHM,
  AEAD_ICV_BITS,
  BLOCK_POLICY_PRIORITY,
  IPSEC_MARK,
  IPSEC_REQID,
  REPLAY_WINDOW,
  TUNNEL_POLICY_PRIORITY,
} from './ipsec-names.js';
import { transmitKeyTag } from './ipsec-spec.js';
import type { EncryptionSpec } from './ipsec-spec.js';
import type { XfrmPolicy, XfrmState } from './xfrm-text.js';

/** An SA the spec asks for. */
export interface DesiredSa {
  readonly src: string;
  readonly dst: string;
  readonly spi: number;
  /** `0x` + key ‖ salt, as ip prints it. */
  readonly key: string;
  readonly dir: 'in' | 'out';
  /** The peer's node ID and the key tag, for status and errors. */
  readonly peer: string;
  readonly tag: number;
}

/** A policy the spec asks for. */
export interface DesiredPolicy {
  readonly src: string;
  readonly dst: string;
  readonly dport: number;
  readonly priority: number;
  /** The pinned SA of a peer policy; undefined: the block policy. */
  readonly tmpl?: { readonly src: string; readonly dst: string; readonly spi: number };
}

/** Everything of ours the spec asks for. */
export interface DesiredXfrm {
  readonly states: readonly DesiredSa[];
  readonly policies: readonly DesiredPolicy[];
  readonly errors: readonly string[];
}

const MARK = `mark 0x${IPSEC_MARK.toString(16)} mask 0xffffffff`;

function hostPrefix(addr: string): string {
  return `${addr}/${ipFamily(addr) === 6 ? 128 : 32}`;
}

/**
 * The SAs and policies `enc` asks for on a node whose data-path address is `self`, with VXLAN on
 * `port`. `encrypted`: whether any encrypted overlay exists here (else nothing is wanted, and
 * everything of ours goes).
 */
export function desiredXfrm(enc: EncryptionSpec, self: string, port: number, encrypted: boolean): DesiredXfrm {
  if (!encrypted) {
    return { states: [], policies: [], errors: [] };
  }
  const errors: string[] = [];
  const me = canonicalIp(self);
  const family = ipFamily(me);
  const any = family === 6 ? '::/0' : '0.0.0.0/0';
  const policies: DesiredPolicy[] = [{ src: any, dst: any, dport: port, priority: BLOCK_POLICY_PRIORITY }];
  const states: DesiredSa[] = [];
  const keys = [...enc.keys].sort((a, b) => a.tag - b.tag);
  const txTag = transmitKeyTag(keys);
  if (keys.length === 0) {
    errors.push('encrypted overlays: no IPsec keys from the managers yet; their traffic is dropped until keys arrive');
  }
  const byAddr = new Map<string, { nodeId: string; bootId: string }>();
  for (const peer of [...enc.peers].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    const addr = canonicalIp(peer.addr);
    if (addr === me || peer.nodeId === enc.nodeId) {
      continue;
    }
    if (ipFamily(addr) !== family) {
      errors.push(`encrypted tunnel to ${peer.nodeId}: address ${addr} is not of the family of ${me}`);
      continue;
    }
    const other = byAddr.get(addr);
    if (other !== undefined) {
      if (other.nodeId !== peer.nodeId) {
        errors.push(
          `encrypted tunnel: nodes ${other.nodeId} and ${peer.nodeId} share address ${addr}; only ${other.nodeId} gets one`,
        );
      }
      continue;
    }
    byAddr.set(addr, { nodeId: peer.nodeId, bootId: peer.bootId });
  }
  const taken = new Map<string, DesiredSa>();
  const add = (sa: DesiredSa): boolean => {
    const id = `${sa.dst} ${sa.spi}`;
    const clash = taken.get(id);
    if (clash !== undefined) {
      errors.push(
        `SPI ${spiText(sa.spi)} towards ${sa.dst} derived twice (peer ${clash.peer} key ${clash.tag}, peer ${sa.peer} key ${sa.tag}); ` +
          'the second SA is not installed until the next key rotation',
      );
      return false;
    }
    taken.set(id, sa);
    states.push(sa);
    return true;
  };
  const sa = (k: TunnelKey, src: string, dst: string, dir: 'in' | 'out', peer: string, tag: number): DesiredSa => ({
    src,
    dst,
    spi: k.spi,
    key: aeadKeyText(k),
    dir,
    peer,
    tag,
  });
  for (const [addr, peer] of [...byAddr].sort(([a], [b]) => a.localeCompare(b))) {
    for (const key of keys) {
      const clusterKey = Buffer.from(key.key, 'hex');
      const inbound = deriveTunnelKey({
        clusterKey,
        tag: key.tag,
        src: { nodeId: peer.nodeId, bootId: peer.bootId, addr },
        dst: { nodeId: enc.nodeId, addr: me },
      });
      add(sa(inbound, addr, me, 'in', peer.nodeId, key.tag));
    }
    const tx = keys.find((k) => k.tag === txTag);
    if (tx !== undefined) {
      const outbound = deriveTunnelKey({
        clusterKey: Buffer.from(tx.key, 'hex'),
        tag: tx.tag,
        src: { nodeId: enc.nodeId, bootId: enc.bootId, addr: me },
        dst: { nodeId: peer.nodeId, addr },
      });
      if (add(sa(outbound, me, addr, 'out', peer.nodeId, tx.tag))) {
        policies.push({
          src: hostPrefix(me),
          dst: hostPrefix(addr),
          dport: port,
          priority: TUNNEL_POLICY_PRIORITY,
          tmpl: { src: me, dst: addr, spi: outbound.spi },
        });
      }
    }
  }
  return { states, policies, errors };
}

/** Whether an observed state is ours. */
export function isOurState(s: XfrmState): boolean {
  return s.reqid === IPSEC_REQID && s.proto === 'esp';
}

/** Whether an observed policy is ours. */
export function isOurPolicy(p: XfrmPolicy): boolean {
  return p.mark?.value === IPSEC_MARK && p.mark.mask === 0xffffffff;
}

function stateAdd(sa: DesiredSa): string {
  return (
    `xfrm state add src ${sa.src} dst ${sa.dst} proto esp spi ${spiText(sa.spi)} reqid ${IPSEC_REQID} mode transport ` +
    `replay-window ${REPLAY_WINDOW} flag esn aead ${AEAD_ALGORITHM} ${sa.key} ${AEAD_ICV_BITS}`
  );
}

function stateDelete(s: { src: string; dst: string; spi: number }): string {
  return `xfrm state delete src ${s.src} dst ${s.dst} proto esp spi ${spiText(s.spi)}`;
}

function policyUpdate(p: DesiredPolicy): string {
  const head = `xfrm policy update src ${p.src} dst ${p.dst} proto 17 dport ${p.dport} dir out priority ${p.priority} ${MARK}`;
  if (p.tmpl === undefined) {
    return `${head} action block`;
  }
  return `${head} tmpl src ${p.tmpl.src} dst ${p.tmpl.dst} proto esp spi ${spiText(p.tmpl.spi)} reqid ${IPSEC_REQID} mode transport`;
}

function policyDelete(p: XfrmPolicy): string {
  const proto = p.proto === undefined ? '' : ` proto ${p.proto}${p.dport === undefined ? '' : ` dport ${p.dport}`}`;
  return `xfrm policy delete src ${p.src} dst ${p.dst}${proto} dir ${p.dir} ${MARK}`;
}

function policyKey(p: { src: string; dst: string; dport?: number }, proto: number | undefined, dir: string): string {
  return `${dir} ${p.src} ${p.dst} ${String(proto)} ${String(p.dport)}`;
}

function sameState(want: DesiredSa, have: XfrmState): boolean {
  return (
    have.src === want.src &&
    have.mode === 'transport' &&
    have.esn &&
    have.replayWindow >= REPLAY_WINDOW &&
    have.aead?.name === AEAD_ALGORITHM &&
    have.aead.key === want.key &&
    have.aead.icvBits === AEAD_ICV_BITS
  );
}

function samePolicy(want: DesiredPolicy, have: XfrmPolicy): boolean {
  if (have.priority !== want.priority) {
    return false;
  }
  if (want.tmpl === undefined) {
    return have.action === 'block' && have.tmpl === undefined;
  }
  return (
    have.action === 'allow' &&
    have.tmpl !== undefined &&
    have.tmpl.src === want.tmpl.src &&
    have.tmpl.dst === want.tmpl.dst &&
    have.tmpl.proto === 'esp' &&
    have.tmpl.spi === want.tmpl.spi &&
    have.tmpl.reqid === IPSEC_REQID &&
    have.tmpl.mode === 'transport'
  );
}

/**
 * The `ip -batch` lines turning our observed SAs and policies into `desired`; empty when they
 * match. States and policies of others (other reqids, other marks) are never touched.
 */
export function diffXfrm(
  desired: DesiredXfrm,
  states: readonly XfrmState[],
  policies: readonly XfrmPolicy[],
): string[] {
  const ours = states.filter(isOurState);
  const have = new Map(ours.map((s) => [`${s.dst} ${s.spi}`, s]));
  const wantIds = new Set(desired.states.map((s) => `${s.dst} ${s.spi}`));
  const changed: string[] = [];
  const adds: string[] = [];
  for (const sa of desired.states) {
    const current = have.get(`${sa.dst} ${sa.spi}`);
    if (current === undefined) {
      adds.push(stateAdd(sa));
    } else if (!sameState(sa, current)) {
      // Another key or shape under the same SPI: never an update in place of the key material.
      changed.push(stateDelete(current));
      adds.push(stateAdd(sa));
    }
  }
  const ourPolicies = policies.filter(isOurPolicy);
  const havePolicies = new Map(ourPolicies.map((p) => [policyKey(p, p.proto, p.dir), p]));
  const updates: string[] = [];
  const wantPolicies = new Set<string>();
  for (const p of desired.policies) {
    const key = policyKey(p, 17, 'out');
    wantPolicies.add(key);
    const current = havePolicies.get(key);
    if (current === undefined || !samePolicy(p, current)) {
      updates.push(policyUpdate(p));
    }
  }
  const policyDeletes = ourPolicies.filter((p) => !wantPolicies.has(policyKey(p, p.proto, p.dir))).map(policyDelete);
  const stateDeletes = ours.filter((s) => !wantIds.has(`${s.dst} ${s.spi}`)).map(stateDelete);
  return [...changed, ...adds, ...updates, ...policyDeletes, ...stateDeletes];
}
