/**
 * What `node inspect` shows of a node's encrypted overlays: per peer, its SAs as the kernel holds
 * them (present, packets, replays and integrity failures), the nft drop counters and the
 * kernel's XFRM error counters. Read on demand; never changes anything.
 */
import { readFile } from 'node:fs/promises';
import type { CommandRunner } from '../command-runner.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { canonicalIp } from '../ip-text.js';
import { IPSEC_COUNTER_PLAINTEXT, IPSEC_COUNTER_UNPROTECTED } from './ipsec-names.js';
import { readIpsec } from './ipsec-reader.js';
import { transmitKeyTag } from './ipsec-spec.js';
import { desiredXfrm } from './ipsec-xfrm.js';

/** The SAs between this node and one peer. */
export interface TunnelState {
  readonly nodeId: string;
  readonly addr: string;
  /** up: outbound SA, its policy and every inbound SA present; down: none; partial otherwise. */
  readonly state: 'up' | 'partial' | 'down';
  readonly txSpi?: number;
  readonly txPackets: number;
  readonly rxSas: number;
  readonly rxPackets: number;
  readonly replayDropped: number;
  readonly integrityFailed: number;
}

/** A node's encrypted-overlay state. */
export interface IpsecStatus {
  /** Tags of the keys held, oldest first, and the one transmitted with. */
  readonly keyTags: readonly number[];
  readonly txTag?: number;
  readonly tunnels: readonly TunnelState[];
  /** Plaintext VXLAN for encrypted VNIs dropped on input; unprotected VXLAN dropped on output. */
  readonly plaintextDropped: number;
  readonly unprotectedDropped: number;
  /** Non-zero counters of /proc/net/xfrm_stat. */
  readonly xfrmErrors: Readonly<Record<string, number>>;
  readonly errors: readonly string[];
}

/** Parses /proc/net/xfrm_stat into its non-zero counters. */
export function parseXfrmStat(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value && /^\d+$/.test(value) && Number(value) > 0) {
      out[name] = Number(value);
    }
  }
  return out;
}

/**
 * Reads the status of the tunnels `spec` asks for. `readXfrmStat` reads /proc/net/xfrm_stat of
 * the daemon namespace (default: this process's own).
 */
export async function readIpsecStatus(
  runner: CommandRunner,
  spec: NodeDataplaneSpec,
  options: { readonly readXfrmStat?: () => Promise<string>; readonly signal?: AbortSignal } = {},
): Promise<IpsecStatus | undefined> {
  const enc = spec.encryption;
  if (enc === undefined) {
    return undefined;
  }
  const observed = await readIpsec(runner, options.signal === undefined ? {} : { signal: options.signal });
  const readStat = options.readXfrmStat ?? (() => readFile('/proc/net/xfrm_stat', 'utf8'));
  const xfrmErrors = parseXfrmStat(await readStat().catch(() => ''));
  const self = canonicalIp(spec.dataPathAddr);
  const encrypted = spec.overlays.some((o) => o.encrypted === true);
  const desired = desiredXfrm(enc, self, spec.dataPathPort, encrypted);
  const states = new Map(observed.states.map((s) => [`${s.dst} ${s.spi}`, s]));
  const policies = observed.policies.filter((p) => p.dir === 'out' && p.tmpl !== undefined);
  const tunnels: TunnelState[] = [];
  const peers = new Map<string, { nodeId: string; addr: string }>();
  for (const sa of desired.states) {
    peers.set(sa.peer, { nodeId: sa.peer, addr: sa.dir === 'in' ? sa.src : sa.dst });
  }
  for (const peer of [...peers.values()].sort((a, b) => a.nodeId.localeCompare(b.nodeId))) {
    const mine = desired.states.filter((s) => s.peer === peer.nodeId);
    const tx = mine.find((s) => s.dir === 'out');
    const txState = tx === undefined ? undefined : states.get(`${tx.dst} ${tx.spi}`);
    const txPolicy =
      tx !== undefined &&
      policies.some((p) => p.tmpl?.dst === tx.dst && p.tmpl.spi === tx.spi && p.dport === spec.dataPathPort);
    const rx = mine.filter((s) => s.dir === 'in').map((s) => states.get(`${s.dst} ${s.spi}`));
    const rxPresent = rx.filter((s) => s !== undefined);
    const present = (txState === undefined ? 0 : 1) + (txPolicy ? 1 : 0) + rxPresent.length;
    const wanted = (tx === undefined ? 0 : 2) + rx.length;
    tunnels.push({
      nodeId: peer.nodeId,
      addr: peer.addr,
      state: present === 0 ? 'down' : present === wanted && tx !== undefined ? 'up' : 'partial',
      ...(tx === undefined ? {} : { txSpi: tx.spi }),
      txPackets: txState?.packets ?? 0,
      rxSas: rxPresent.length,
      rxPackets: rxPresent.reduce((n, s) => n + (s.packets ?? 0), 0),
      replayDropped: rxPresent.reduce((n, s) => n + (s.replayDropped ?? 0), 0),
      integrityFailed: rxPresent.reduce((n, s) => n + (s.integrityFailed ?? 0), 0),
    });
  }
  const txTag = transmitKeyTag(enc.keys);
  return {
    keyTags: [...enc.keys].map((k) => k.tag).sort((a, b) => a - b),
    ...(txTag === undefined ? {} : { txTag }),
    tunnels,
    plaintextDropped: observed.nft?.counters.get(IPSEC_COUNTER_PLAINTEXT)?.packets ?? 0,
    unprotectedDropped: observed.nft?.counters.get(IPSEC_COUNTER_UNPROTECTED)?.packets ?? 0,
    xfrmErrors,
    errors: [...observed.errors, ...desired.errors],
  };
}
