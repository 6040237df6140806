/**
 * The driver's nftables table (`inet vxmesh`, daemon namespace) and its diff.
 * - VXLAN ingress guard: UDP to the data port from an address outside the member-VTEP sets is
 *   counted in a named counter and dropped (input hook: only traffic for local sockets, so a
 *   container's own UDP to some port 4789 elsewhere is forwarded untouched).
 * - Egress: masquerade of the egress subnet out of any other interface, and a drop of traffic
 *   routed from the egress bridge back into it (docker_gwbridge's enable_icc=false).
 * - Hairpin: a container dialing a published port through this node's address is DNATed by the
 *   publish table back into the egress bridge. That connection (`ct status dnat`: only this
 *   namespace's NAT sets it, a container cannot) is accepted ahead of the drop and masqueraded to
 *   the gateway address, so the answer comes back through this namespace, where conntrack gives
 *   it the address the client dialed (docker's hairpin MASQUERADE on docker_gwbridge). With
 *   br_netfilter both rules also see the frames the bridge short-cuts between its ports: the input
 *   interface is then the bridge, and postrouting has none, hence `ip saddr` there, not `iifname`.
 *
 * Rules are recognised by their comment, which spells out everything the rule depends on; a chain
 * whose comments differ from the desired ones is flushed and refilled. Set elements are added and
 * deleted one by one, so the counter and the sets survive every ordinary change.
 */
import {
  NFT_COUNTER_DROPPED,
  NFT_SET_VTEPS4,
  NFT_SET_VTEPS6,
  NFT_TABLE,
} from './dataplane-names.js';
import type { EgressSpec } from './dataplane-spec.js';
import { canonicalIp, ipFamily, networkOf, parseAddressWithPrefix } from './ip-text.js';
import type { NftTableState } from './kernel-state.js';

const T = `inet ${NFT_TABLE}`;

/** A base chain of the table and its rules. */
export interface DesiredChain {
  readonly name: string;
  readonly type: 'filter' | 'nat';
  readonly hook: 'input' | 'forward' | 'postrouting';
  /** Numeric priority, as `nft -j` lists it. */
  readonly priority: number;
  /** Each rule's comment (its identity) and its text (after `add rule inet vxmesh <chain>`). */
  readonly rules: readonly { readonly comment: string; readonly text: string }[];
}

/** The whole desired table. */
export interface DesiredNftTable {
  readonly sets: ReadonlyMap<string, { readonly type: 'ipv4_addr' | 'ipv6_addr'; readonly elements: readonly string[] }>;
  readonly counters: readonly string[];
  readonly chains: readonly DesiredChain[];
}

/** Inputs of the table: the guard always, egress rules when egress is configured. */
export interface NftInputs {
  readonly dataPathPort: number;
  readonly memberVteps: readonly string[];
  readonly egress?: EgressSpec;
}

function rule(comment: string, body: string): { comment: string; text: string } {
  return { comment, text: `${body} comment "${comment}"` };
}

/** The table the spec asks for. */
export function desiredNftTable(inputs: NftInputs): DesiredNftTable {
  const v4 = new Set<string>();
  const v6 = new Set<string>();
  for (const vtep of inputs.memberVteps) {
    const family = ipFamily(vtep);
    if (family === 4) {
      v4.add(canonicalIp(vtep));
    } else if (family === 6) {
      v6.add(canonicalIp(vtep));
    }
  }
  const port = inputs.dataPathPort;
  const chains: DesiredChain[] = [
    {
      name: 'input',
      type: 'filter',
      hook: 'input',
      priority: 0,
      rules: [
        rule(
          `vxmesh guard4 udp ${port}`,
          `udp dport ${port} ip saddr != @${NFT_SET_VTEPS4} counter name ${NFT_COUNTER_DROPPED} drop`,
        ),
        rule(
          `vxmesh guard6 udp ${port}`,
          `udp dport ${port} ip6 saddr != @${NFT_SET_VTEPS6} counter name ${NFT_COUNTER_DROPPED} drop`,
        ),
      ],
    },
  ];
  const egress = inputs.egress;
  const gateway = egress === undefined ? undefined : parseAddressWithPrefix(egress.gatewayCidr);
  if (egress !== undefined && gateway !== undefined) {
    const subnet = networkOf(gateway);
    const br = egress.bridge;
    chains.push(
      {
        name: 'forward',
        type: 'filter',
        hook: 'forward',
        priority: 0,
        rules: [
          rule(`vxmesh hairpin-accept ${br}`, `iifname "${br}" oifname "${br}" ct status dnat accept`),
          rule(`vxmesh icc-drop ${br}`, `iifname "${br}" oifname "${br}" drop`),
        ],
      },
      {
        name: 'postrouting',
        type: 'nat',
        hook: 'postrouting',
        priority: 100,
        rules: [
          rule(`vxmesh masquerade ${subnet} ${br}`, `ip saddr ${subnet} oifname != "${br}" masquerade`),
          rule(
            `vxmesh hairpin-masquerade ${subnet} ${br}`,
            `ip saddr ${subnet} oifname "${br}" ct status dnat masquerade`,
          ),
        ],
      },
    );
  }
  return {
    sets: new Map([
      [NFT_SET_VTEPS4, { type: 'ipv4_addr' as const, elements: [...v4].sort() }],
      [NFT_SET_VTEPS6, { type: 'ipv6_addr' as const, elements: [...v6].sort() }],
    ]),
    counters: [NFT_COUNTER_DROPPED],
    chains,
  };
}

function addChainLines(chain: DesiredChain): string[] {
  return [
    `add chain ${T} ${chain.name} { type ${chain.type} hook ${chain.hook} priority ${chain.priority}; policy accept; }`,
    ...chain.rules.map((r) => `add rule ${T} ${chain.name} ${r.text}`),
  ];
}

function fullTable(desired: DesiredNftTable): string[] {
  const lines = [`add table ${T}`];
  for (const c of desired.counters) {
    lines.push(`add counter ${T} ${c}`);
  }
  for (const [name, set] of desired.sets) {
    lines.push(`add set ${T} ${name} { type ${set.type}; }`);
    if (set.elements.length > 0) {
      lines.push(`add element ${T} ${name} { ${set.elements.join(', ')} }`);
    }
  }
  for (const chain of desired.chains) {
    lines.push(...addChainLines(chain));
  }
  return lines;
}

/**
 * The `nft -f -` script (one transaction) that turns `observed` into `desired`; empty when they
 * match. A structural mismatch that cannot be fixed in place (a set of the wrong type, a chain on
 * the wrong hook) rebuilds the whole table in the same transaction.
 */
export function diffNftTable(desired: DesiredNftTable, observed: NftTableState | undefined): string[] {
  if (observed === undefined) {
    return fullTable(desired);
  }
  const structural =
    [...desired.sets].some(([name, set]) => {
      const have = observed.sets.get(name);
      return have !== undefined && have.type !== set.type;
    }) ||
    desired.chains.some((chain) => {
      const have = observed.chains.get(chain.name);
      return (
        have !== undefined &&
        (have.type !== chain.type || have.hook !== chain.hook || have.priority !== chain.priority || have.policy !== 'accept')
      );
    });
  if (structural) {
    return [`delete table ${T}`, ...fullTable(desired)];
  }

  const lines: string[] = [];
  for (const c of desired.counters) {
    if (!observed.counters.has(c)) {
      lines.push(`add counter ${T} ${c}`);
    }
  }
  for (const [name, set] of desired.sets) {
    const have = observed.sets.get(name);
    if (have === undefined) {
      lines.push(`add set ${T} ${name} { type ${set.type}; }`);
    }
    const haveElements = new Set(have?.elements ?? []);
    const wantElements = new Set(set.elements);
    const extra = [...haveElements].filter((e) => !wantElements.has(e));
    const missing = set.elements.filter((e) => !haveElements.has(e));
    if (extra.length > 0) {
      lines.push(`delete element ${T} ${name} { ${extra.join(', ')} }`);
    }
    if (missing.length > 0) {
      lines.push(`add element ${T} ${name} { ${missing.join(', ')} }`);
    }
  }
  const wantChains = new Set(desired.chains.map((c) => c.name));
  for (const name of observed.chains.keys()) {
    if (!wantChains.has(name)) {
      // Emptied first: a chain still holding rules cannot be deleted.
      lines.push(`flush chain ${T} ${name}`, `delete chain ${T} ${name}`);
    }
  }
  for (const chain of desired.chains) {
    const have = observed.chains.get(chain.name);
    if (have === undefined) {
      lines.push(...addChainLines(chain));
      continue;
    }
    const same =
      have.ruleComments.length === chain.rules.length &&
      chain.rules.every((r, i) => have.ruleComments[i] === r.comment);
    if (!same) {
      lines.push(`flush chain ${T} ${chain.name}`, ...chain.rules.map((r) => `add rule ${T} ${chain.name} ${r.text}`));
    }
  }
  // Unused sets or counters of another layout would only be clutter; a referenced one cannot be
  // deleted before its rules, so they go last, after any flush above.
  for (const name of observed.sets.keys()) {
    if (!desired.sets.has(name)) {
      lines.push(`delete set ${T} ${name}`);
    }
  }
  for (const name of observed.counters.keys()) {
    if (!desired.counters.includes(name)) {
      lines.push(`delete counter ${T} ${name}`);
    }
  }
  return lines;
}
