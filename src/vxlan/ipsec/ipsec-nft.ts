/**
 * The `inet vxmesh_ipsec` table (daemon namespace): the half of the enforcement that must know
 * VNIs, which XFRM cannot see.
 * - `enc_in` (input, priority raw): VXLAN to the data port whose VNI is encrypted and that did
 *   not come out of an IPsec SA (`meta secpath missing`) is counted and dropped, from peers and
 *   strangers alike, whatever other tables accept (a drop in any base chain is final). In place
 *   as soon as the VNI is in the set, with or without peers (CVE-2023-28840/28842).
 * - `enc_mark` (route chain, output, priority mangle): outgoing VXLAN of an encrypted VNI gets
 *   {@link IPSEC_MARK}; the changed mark makes the kernel route it again, through the XFRM
 *   policies that carry that mark (per-peer ESP, else block).
 * - `enc_out` (output, priority filter): a marked VXLAN datagram whose route has no IPsec
 *   transformation is counted and dropped: plaintext never leaves for an encrypted VNI, even if
 *   the XFRM policies were tampered with. (After encryption the packet passes the output hook
 *   again as ESP, still marked, on the plain route: the rule matches UDP only.)
 *
 * Rules are recognised by their comment, which spells out what the rule depends on; the set's
 * elements are added and deleted one by one; the counters survive every ordinary change.
 */
import {
  IPSEC_CHAIN_IN,
  IPSEC_CHAIN_MARK,
  IPSEC_CHAIN_OUT,
  IPSEC_COUNTER_PLAINTEXT,
  IPSEC_COUNTER_UNPROTECTED,
  IPSEC_MARK,
  IPSEC_NFT_TABLE,
  IPSEC_SET_VNIS,
} from './ipsec-names.js';

const T = `inet ${IPSEC_NFT_TABLE}`;

/** A base chain of the table. */
interface IpsecChain {
  readonly name: string;
  readonly type: 'filter' | 'route';
  readonly hook: 'input' | 'output';
  /** Numeric priority, as `nft -j` lists it. */
  readonly priority: number;
  readonly rules: readonly { readonly comment: string; readonly text: string }[];
}

/** The table as read by `nft -j list table inet vxmesh_ipsec`. */
export interface IpsecNftState {
  readonly vnis: ReadonlySet<number>;
  /** Whether the set exists at all (and with which type). */
  readonly setType: string | undefined;
  readonly counters: ReadonlyMap<string, { readonly packets: number; readonly bytes: number }>;
  readonly chains: ReadonlyMap<
    string,
    {
      readonly type?: string;
      readonly hook?: string;
      readonly priority?: number;
      readonly policy?: string;
      readonly ruleComments: readonly (string | undefined)[];
    }
  >;
}

function chainsFor(port: number): IpsecChain[] {
  const mark = `0x${IPSEC_MARK.toString(16)}`;
  return [
    {
      name: IPSEC_CHAIN_IN,
      type: 'filter',
      hook: 'input',
      priority: -300,
      rules: [
        {
          comment: `vxmesh ipsec in udp ${port}`,
          text: `udp dport ${port} @th,96,24 @${IPSEC_SET_VNIS} meta secpath missing counter name ${IPSEC_COUNTER_PLAINTEXT} drop`,
        },
      ],
    },
    {
      name: IPSEC_CHAIN_MARK,
      type: 'route',
      hook: 'output',
      priority: -150,
      rules: [
        {
          comment: `vxmesh ipsec mark udp ${port}`,
          text: `udp dport ${port} @th,96,24 @${IPSEC_SET_VNIS} meta mark set ${mark}`,
        },
      ],
    },
    {
      name: IPSEC_CHAIN_OUT,
      type: 'filter',
      hook: 'output',
      priority: 0,
      rules: [
        {
          // Only the VXLAN datagram itself: once encrypted it passes this hook again as ESP, still
          // marked, on a route without IPsec.
          comment: `vxmesh ipsec out udp ${port} ${mark}`,
          text: `meta mark ${mark} udp dport ${port} rt ipsec missing counter name ${IPSEC_COUNTER_UNPROTECTED} drop`,
        },
      ],
    },
  ];
}

function ruleLine(chain: string, r: { text: string; comment: string }): string {
  return `add rule ${T} ${chain} ${r.text} comment "${r.comment}"`;
}

function fullTable(port: number, vnis: readonly number[]): string[] {
  const lines = [
    `add table ${T}`,
    `add counter ${T} ${IPSEC_COUNTER_PLAINTEXT}`,
    `add counter ${T} ${IPSEC_COUNTER_UNPROTECTED}`,
    `add set ${T} ${IPSEC_SET_VNIS} { typeof @th,96,24; }`,
  ];
  if (vnis.length > 0) {
    lines.push(`add element ${T} ${IPSEC_SET_VNIS} { ${vnis.join(', ')} }`);
  }
  for (const chain of chainsFor(port)) {
    lines.push(
      `add chain ${T} ${chain.name} { type ${chain.type} hook ${chain.hook} priority ${chain.priority}; policy accept; }`,
      ...chain.rules.map((r) => ruleLine(chain.name, r)),
    );
  }
  return lines;
}

/**
 * The `nft -f -` script (one transaction) that makes the table enforce `vnis` on `port`; with no
 * VNI the table is deleted. Empty when the table already matches.
 */
export function diffIpsecNft(port: number, vnis: readonly number[], observed: IpsecNftState | undefined): string[] {
  const wanted = [...new Set(vnis)].sort((a, b) => a - b);
  if (wanted.length === 0) {
    return observed === undefined ? [] : [`delete table ${T}`];
  }
  if (observed === undefined) {
    return fullTable(port, wanted);
  }
  const chains = chainsFor(port);
  const structural =
    (observed.setType !== undefined && observed.setType !== 'integer') ||
    chains.some((c) => {
      const have = observed.chains.get(c.name);
      return (
        have !== undefined &&
        (have.type !== c.type || have.hook !== c.hook || have.priority !== c.priority || have.policy !== 'accept')
      );
    });
  if (structural) {
    return [`delete table ${T}`, ...fullTable(port, wanted)];
  }
  const lines: string[] = [];
  for (const c of [IPSEC_COUNTER_PLAINTEXT, IPSEC_COUNTER_UNPROTECTED]) {
    if (!observed.counters.has(c)) {
      lines.push(`add counter ${T} ${c}`);
    }
  }
  if (observed.setType === undefined) {
    lines.push(`add set ${T} ${IPSEC_SET_VNIS} { typeof @th,96,24; }`);
  }
  const extra = [...observed.vnis].filter((v) => !wanted.includes(v)).sort((a, b) => a - b);
  const missing = wanted.filter((v) => !observed.vnis.has(v));
  if (missing.length > 0) {
    lines.push(`add element ${T} ${IPSEC_SET_VNIS} { ${missing.join(', ')} }`);
  }
  if (extra.length > 0) {
    lines.push(`delete element ${T} ${IPSEC_SET_VNIS} { ${extra.join(', ')} }`);
  }
  const wantChains = new Set(chains.map((c) => c.name));
  for (const name of observed.chains.keys()) {
    if (!wantChains.has(name)) {
      lines.push(`flush chain ${T} ${name}`, `delete chain ${T} ${name}`);
    }
  }
  for (const chain of chains) {
    const have = observed.chains.get(chain.name);
    if (have === undefined) {
      lines.push(
        `add chain ${T} ${chain.name} { type ${chain.type} hook ${chain.hook} priority ${chain.priority}; policy accept; }`,
        ...chain.rules.map((r) => ruleLine(chain.name, r)),
      );
      continue;
    }
    const same =
      have.ruleComments.length === chain.rules.length &&
      chain.rules.every((r, i) => have.ruleComments[i] === r.comment);
    if (!same) {
      // Flush and refill in the same transaction: never a moment without the rule.
      lines.push(`flush chain ${T} ${chain.name}`, ...chain.rules.map((r) => ruleLine(chain.name, r)));
    }
  }
  return lines;
}

/**
 * The VNIs the observed table enforces on `port` in both directions: the set holds them and
 * every chain has exactly its rules, on the right hooks. Only for those may a VXLAN device exist.
 */
export function enforcedVnis(port: number, observed: IpsecNftState | undefined): ReadonlySet<number> {
  if (observed === undefined || observed.setType !== 'integer') {
    return new Set();
  }
  const complete = chainsFor(port).every((c) => {
    const have = observed.chains.get(c.name);
    return (
      have !== undefined &&
      have.type === c.type &&
      have.hook === c.hook &&
      have.priority === c.priority &&
      have.ruleComments.length === c.rules.length &&
      c.rules.every((r, i) => have.ruleComments[i] === r.comment)
    );
  });
  return complete ? observed.vnis : new Set();
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(o: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = o[key];
  return isObject(v) ? v : undefined;
}

function text(o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function count(o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : undefined;
}

function vniOf(e: unknown): number | undefined {
  if (typeof e === 'number') {
    return e;
  }
  if (typeof e === 'string' && /^(0x[0-9a-f]+|\d+)$/i.test(e)) {
    return Number(e);
  }
  return undefined;
}

/** Parses `nft -j list table inet vxmesh_ipsec`. */
export function parseIpsecNft(value: unknown): IpsecNftState {
  const vnis = new Set<number>();
  let setType: string | undefined;
  const counters = new Map<string, { packets: number; bytes: number }>();
  const chains = new Map<
    string,
    { type?: string; hook?: string; priority?: number; policy?: string; ruleComments: (string | undefined)[] }
  >();
  const comments = new Map<string, (string | undefined)[]>();
  const items = isObject(value) && Array.isArray(value['nftables']) ? (value['nftables'] as unknown[]) : [];
  for (const item of items) {
    if (!isObject(item)) {
      continue;
    }
    const set = field(item, 'set');
    const counter = field(item, 'counter');
    const chain = field(item, 'chain');
    const rule = field(item, 'rule');
    if (set !== undefined && text(set, 'name') === IPSEC_SET_VNIS) {
      setType = text(set, 'type') ?? '';
      const elem = set['elem'];
      for (const e of Array.isArray(elem) ? elem : []) {
        const v = vniOf(e);
        if (v !== undefined) {
          vnis.add(v);
        }
      }
    } else if (counter !== undefined) {
      const name = text(counter, 'name');
      if (name !== undefined) {
        counters.set(name, { packets: count(counter, 'packets') ?? 0, bytes: count(counter, 'bytes') ?? 0 });
      }
    } else if (chain !== undefined) {
      const name = text(chain, 'name');
      if (name !== undefined) {
        const type = text(chain, 'type');
        const hook = text(chain, 'hook');
        const priority = count(chain, 'prio');
        const policy = text(chain, 'policy');
        chains.set(name, {
          ...(type === undefined ? {} : { type }),
          ...(hook === undefined ? {} : { hook }),
          ...(priority === undefined ? {} : { priority }),
          ...(policy === undefined ? {} : { policy }),
          ruleComments: [],
        });
      }
    } else if (rule !== undefined) {
      const name = text(rule, 'chain');
      if (name !== undefined) {
        const list = comments.get(name) ?? [];
        list.push(text(rule, 'comment'));
        comments.set(name, list);
      }
    }
  }
  for (const [name, list] of comments) {
    const c = chains.get(name);
    if (c !== undefined) {
      c.ruleComments = list;
    }
  }
  return { vnis, setType, counters, chains };
}
