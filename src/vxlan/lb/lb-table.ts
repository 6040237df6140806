/**
 * The desired LB tables, from the spec: what `ip vxmesh_lb` of a namespace and `ip vxmesh_publish`
 * of the daemon namespace must hold, plus the text that creates them. Pure.
 *
 * ```
 * table ip vxmesh_lb {
 *   set stamp { type mark; }                       # the driver's last write (lb-cache.ts)
 *   set frontends { type ipv4_addr . inet_proto . inet_service; }
 *   map backends { type ipv4_addr . inet_proto . inet_service . mark : ipv4_addr . inet_service; }
 *   chain output|prerouting { type nat hook output|prerouting priority -100; policy accept;
 *     ip daddr . meta l4proto . th dport @frontends meta mark set jhash ip saddr . th sport mod 12
 *       seed 0x766d7368 dnat ip to ip daddr . meta l4proto . th dport . meta mark map @backends }
 *   chain postrouting { type nat hook postrouting priority 100; policy accept;   # sandbox only
 *     oifname "eth0" ct status dnat masquerade }
 * }
 * table ip vxmesh_publish {
 *   set stamp { type mark; }
 *   map ports { type inet_proto . inet_service : ipv4_addr . inet_service; }
 *   chain prerouting, output { type nat hook … priority -100;
 *     [iifname != "<egress bridge>"] fib daddr type local meta l4proto P th dport N   # local slots
 *       dnat ip to jhash ip saddr . th sport mod 12 seed 0x766d7368 map { 0 : …, … }
 *     fib daddr type local dnat ip to meta l4proto . th dport map @ports }
 *   chain postrouting { type nat hook postrouting priority 100;
 *     ip saddr 127.0.0.0/8 oifname "<egress bridge>" masquerade }            # localhost:port
 * }
 * ```
 * `jhash … mod 12` cannot sit inside the map key's concatenation (nft refuses it: datatype
 * mismatch), hence the mark: the slot is computed into the packet mark first, then looked up.
 */
import { createHash } from 'node:crypto';
import { canonicalIp } from '../ip-text.js';
import {
  BACKENDS_MAP,
  FRONTENDS_SET,
  LB_FAMILY,
  LB_JHASH_SEED,
  LB_SLOTS,
  LB_TABLE,
  PORTS_MAP,
  PUBLISH_TABLE,
  STAMP_SET,
} from './lb-names.js';
import type { LbBackendSpec, LbFrontendSpec, LbNamespaceSpec, PublishedPortSpec } from './lb-spec.js';
import { frontendKey, portKey, targetText } from './lb-state.js';
import type { LbSetDeclaration, LbTableState } from './lb-state.js';

/** Priority of the DNAT chains (`dstnat`). */
const DSTNAT = -100;
/** Priority of the masquerade chains (`srcnat`). */
const SRCNAT = 100;

/** A base chain of an LB table. */
export interface DesiredLbChain {
  readonly name: string;
  readonly hook: 'prerouting' | 'output' | 'postrouting';
  readonly priority: number;
  /** Each rule's comment (its identity) and its text (after `add rule ip <table> <chain>`). */
  readonly rules: readonly { readonly comment: string; readonly text: string }[];
}

/** A whole desired table. */
export interface DesiredLbTable {
  readonly name: string;
  readonly sets: ReadonlyMap<string, LbSetDeclaration>;
  readonly chains: readonly DesiredLbChain[];
  /** Frontend key → its backends (`addr . port`, sorted, distinct, at least one). */
  readonly frontends: ReadonlyMap<string, readonly string[]>;
  /** Published port key → DNAT target. */
  readonly ports: ReadonlyMap<string, string>;
}

const STAMP_DECLARATION: LbSetDeclaration = { type: 'mark', map: undefined };

function rule(comment: string, body: string): { comment: string; text: string } {
  return { comment, text: `${body} comment "${comment}"` };
}

/** Sort key of a backend: IPv4 address as a number, then port (dotted quad, already validated). */
function sortKey(b: LbBackendSpec): number {
  let n = 0;
  let octet = 0;
  const addr = b.addr;
  for (let i = 0; i < addr.length; i++) {
    const c = addr.charCodeAt(i);
    if (c === 0x2e /* . */) {
      n = n * 256 + octet;
      octet = 0;
    } else {
      octet = octet * 10 + (c - 0x30);
    }
  }
  return (n * 256 + octet) * 65536 + b.port;
}

/**
 * Backends as the kernel holds them: distinct, ordered by address then port. Addresses must be
 * canonical dotted quads (the driver validates the spec first).
 */
export function backendTexts(backends: readonly LbBackendSpec[]): string[] {
  const keys = backends.map(sortKey);
  let ordered = true;
  for (let i = 1; i < keys.length && ordered; i++) {
    ordered = (keys[i - 1] ?? 0) < (keys[i] ?? 0);
  }
  if (ordered) {
    // The worker hands them sorted: no sort, no duplicates to drop.
    return backends.map((b) => targetText(b.addr, b.port));
  }
  const keyed = backends.map((b, i) => ({ key: keys[i] ?? 0, b }));
  keyed.sort((x, y) => x.key - y.key);
  const out: string[] = [];
  let last = -1;
  for (const { key, b } of keyed) {
    if (key !== last) {
      out.push(targetText(b.addr, b.port));
      last = key;
    }
  }
  return out;
}

/** The backend of `slot` for a frontend with these backends: round-robin over the slots. */
export function slotBackend(backends: readonly string[], slot: number): string | undefined {
  return backends.length === 0 ? undefined : backends[slot % backends.length];
}

/**
 * Backends of frontends already computed in this pass: the worker shares one frontend object
 * between every container on a network, so each is sorted once, not once per container.
 */
export type BackendMemo = WeakMap<LbFrontendSpec, readonly string[]>;

/** The `ip vxmesh_lb` table of one namespace (addresses already validated as canonical IPv4). */
export function desiredLbTable(ns: LbNamespaceSpec, memo: BackendMemo = new WeakMap()): DesiredLbTable {
  const frontends = new Map<string, readonly string[]>();
  for (const f of ns.frontends) {
    if (f.backends.length === 0) {
      continue;
    }
    let backends = memo.get(f);
    if (backends === undefined) {
      backends = backendTexts(f.backends);
      memo.set(f, backends);
    }
    const key = frontendKey(f.addr, f.protocol, f.port);
    if (!frontends.has(key)) {
      frontends.set(key, backends);
    }
  }
  const chains: DesiredLbChain[] = [
    {
      name: ns.hook,
      hook: ns.hook,
      priority: DSTNAT,
      rules: [
        rule(
          `vxmesh lb dnat ${LB_SLOTS} 0x${LB_JHASH_SEED.toString(16)}`,
          `ip daddr . meta l4proto . th dport @${FRONTENDS_SET} ` +
            `meta mark set jhash ip saddr . th sport mod ${LB_SLOTS} seed 0x${LB_JHASH_SEED.toString(16)} ` +
            `dnat ip to ip daddr . meta l4proto . th dport . meta mark map @${BACKENDS_MAP}`,
        ),
      ],
    },
  ];
  if (ns.masqueradeOut !== undefined) {
    chains.push({
      name: 'postrouting',
      hook: 'postrouting',
      priority: SRCNAT,
      rules: [
        rule(`vxmesh lb masquerade ${ns.masqueradeOut}`, `oifname "${ns.masqueradeOut}" ct status dnat masquerade`),
      ],
    });
  }
  return {
    name: LB_TABLE,
    sets: new Map<string, LbSetDeclaration>([
      [STAMP_SET, STAMP_DECLARATION],
      [FRONTENDS_SET, { type: 'ipv4_addr . inet_proto . inet_service', map: undefined }],
      [BACKENDS_MAP, { type: 'ipv4_addr . inet_proto . inet_service . mark', map: 'ipv4_addr . inet_service' }],
    ]),
    chains,
    frontends,
    ports: new Map(),
  };
}

/**
 * What the daemon namespace needs to balance ingress ports itself (see `IngressSandboxSpec.localBackends`).
 */
export interface PublishSplit {
  /** The sandbox's egress address: ingress-mode ports are DNATed there. */
  readonly sandboxAddr: string;
  /** The sandbox table's frontends (key → backends, as {@link desiredLbTable} orders them). */
  readonly frontends: ReadonlyMap<string, readonly string[]>;
  /** Local tasks: ingress address → egress address. */
  readonly local: ReadonlyMap<string, string>;
}

/**
 * The 12 DNAT targets of an ingress-mode port balanced in the daemon namespace: slot k → the
 * local task's egress address . target port when the sandbox's slot k is a local backend, the
 * sandbox otherwise; undefined when no slot is local (the port then goes to the sandbox whole).
 */
function splitSlots(p: PublishedPortSpec, split: PublishSplit): string[] | undefined {
  if (p.target.addr !== split.sandboxAddr || split.local.size === 0) {
    return undefined;
  }
  const backends = split.frontends.get(frontendKey(p.target.addr, p.protocol, p.target.port));
  if (backends === undefined || backends.length === 0) {
    return undefined;
  }
  let local = false;
  const slots: string[] = [];
  for (let slot = 0; slot < LB_SLOTS; slot++) {
    const backend = slotBackend(backends, slot) ?? '';
    const [addr = '', port = ''] = backend.split(' . ');
    const egress = split.local.get(addr);
    local ||= egress !== undefined;
    slots.push(egress === undefined ? targetText(p.target.addr, p.target.port) : `${egress} . ${port}`);
  }
  return local ? slots : undefined;
}

/**
 * The `ip vxmesh_publish` table of the daemon namespace; undefined without published ports.
 * `egressBridge` gets the localhost masquerade (docker's `--src-type LOCAL -o docker_gwbridge`).
 * With `split`, an ingress-mode port with local backends gets a rule of its own ahead of the port
 * map: `jhash` of the client's address and port over the same 12 slots as the sandbox (same
 * expression, same seed), each slot DNATed to the local task or to the sandbox. No packet mark
 * here: the daemon namespace's marks belong to the host (policy routing, other firewalls), so the
 * slots sit in an anonymous map keyed by the hash itself; the rule's comment carries a digest of
 * the slots, so a change rewrites the chain. In prerouting that rule skips connections from the
 * egress bridge (hairpin, see below), so the port also stays in the map, to the sandbox.
 */
export function desiredPublishTable(
  ports: readonly PublishedPortSpec[],
  egressBridge: string | undefined,
  split?: PublishSplit,
): DesiredLbTable | undefined {
  if (ports.length === 0) {
    return undefined;
  }
  const map = new Map<string, string>();
  const splitRules: { comment: string; body: string }[] = [];
  const seed = `0x${LB_JHASH_SEED.toString(16)}`;
  const seen = new Set<string>();
  for (const p of ports) {
    const key = portKey(p.protocol, p.port);
    if (seen.has(key)) {
      continue;
    }
    seen.add(key);
    // Every port is in the map, a split one too: its rule below is skipped by hairpin
    // connections, which the map then sends to the sandbox.
    map.set(key, targetText(canonicalIp(p.target.addr), p.target.port));
    const slots = split === undefined ? undefined : splitSlots(p, split);
    if (slots === undefined) {
      continue;
    }
    const digest = createHash('sha256').update(slots.join(',')).digest('hex').slice(0, 16);
    splitRules.push({
      comment: `vxmesh publish ${p.protocol} ${p.port} ${digest}`,
      body:
        `fib daddr type local meta l4proto ${p.protocol} th dport ${p.port} ` +
        `dnat ip to jhash ip saddr . th sport mod ${LB_SLOTS} seed ${seed} ` +
        `map { ${slots.map((t, k) => `${k} : ${t}`).join(', ')} }`,
    });
  }
  const dnat = rule('vxmesh publish', `fib daddr type local dnat ip to meta l4proto . th dport map @${PORTS_MAP}`);
  // A container on the egress bridge dialing the port (hairpin) is left to the port map, i.e. to
  // the sandbox: with br_netfilter the bridge short-cuts the DNATed frame from the client's
  // isolated port to the target's, and a task's port is isolated too, so a local slot would drop
  // it. Prerouting only: locally generated packets have no input interface, and `iifname` on them
  // fails the whole rule, `!=` or not.
  const preroutingSplit = splitRules.map((r) =>
    egressBridge === undefined
      ? rule(r.comment, r.body)
      : rule(`${r.comment} not-from ${egressBridge}`, `iifname != "${egressBridge}" ${r.body}`),
  );
  const outputSplit = splitRules.map((r) => rule(r.comment, r.body));
  const chains: DesiredLbChain[] = [
    { name: 'prerouting', hook: 'prerouting', priority: DSTNAT, rules: [...preroutingSplit, dnat] },
    { name: 'output', hook: 'output', priority: DSTNAT, rules: [...outputSplit, dnat] },
  ];
  if (egressBridge !== undefined) {
    chains.push({
      name: 'postrouting',
      hook: 'postrouting',
      priority: SRCNAT,
      rules: [
        rule(`vxmesh publish localhost ${egressBridge}`, `ip saddr 127.0.0.0/8 oifname "${egressBridge}" masquerade`),
      ],
    });
  }
  return {
    name: PUBLISH_TABLE,
    sets: new Map<string, LbSetDeclaration>([
      [STAMP_SET, STAMP_DECLARATION],
      [PORTS_MAP, { type: 'inet_proto . inet_service', map: 'ipv4_addr . inet_service' }],
    ]),
    chains,
    frontends: new Map(),
    ports: map,
  };
}

/** `ip <name>`: how statements address a table. */
export function tableRef(name: string): string {
  return `${LB_FAMILY} ${name}`;
}

/** `add set|map …` of one declaration. */
export function declarationLine(table: string, name: string, d: LbSetDeclaration): string {
  return d.map === undefined
    ? `add set ${tableRef(table)} ${name} { type ${d.type}; }`
    : `add map ${tableRef(table)} ${name} { type ${d.type} : ${d.map}; }`;
}

/** `add chain …` and its rules. */
export function chainLines(table: string, chain: DesiredLbChain): string[] {
  return [
    `add chain ${tableRef(table)} ${chain.name} { type nat hook ${chain.hook} priority ${chain.priority}; policy accept; }`,
    ...chain.rules.map((r) => `add rule ${tableRef(table)} ${chain.name} ${r.text}`),
  ];
}

/** `verb element … { a, b, … }`, or nothing for no elements. One line, whatever the count. */
export function elementLine(verb: 'add' | 'delete', table: string, set: string, elements: readonly string[]): string[] {
  return elements.length === 0 ? [] : [`${verb} element ${tableRef(table)} ${set} { ${elements.join(', ')} }`];
}

/** The backends map's elements of the whole table (`key . slot : backend`). */
export function backendElements(frontends: ReadonlyMap<string, readonly string[]>): string[] {
  const out: string[] = [];
  for (const [key, backends] of frontends) {
    for (let slot = 0; slot < LB_SLOTS; slot++) {
      out.push(`${key} . ${slot} : ${slotBackend(backends, slot) ?? ''}`);
    }
  }
  return out;
}

/** Every statement creating `desired` in an empty (just created) table, stamped `stamp`. */
export function createLines(desired: DesiredLbTable, stamp: number): string[] {
  const t = desired.name;
  const lines = [`add table ${tableRef(t)}`];
  for (const [name, d] of desired.sets) {
    lines.push(declarationLine(t, name, d));
  }
  lines.push(...elementLine('add', t, STAMP_SET, [String(stamp)]));
  lines.push(...elementLine('add', t, FRONTENDS_SET, [...desired.frontends.keys()]));
  lines.push(...elementLine('add', t, BACKENDS_MAP, backendElements(desired.frontends)));
  lines.push(
    ...elementLine(
      'add',
      t,
      PORTS_MAP,
      [...desired.ports].map(([k, v]) => `${k} : ${v}`),
    ),
  );
  for (const chain of desired.chains) {
    lines.push(...chainLines(t, chain));
  }
  return lines;
}

/** The state the kernel holds once `desired` is applied with `stamp` (what the cache remembers). */
export function stateAfter(desired: DesiredLbTable, stamp: number): LbTableState {
  return {
    sets: desired.sets,
    chains: new Map(
      desired.chains.map((c) => [
        c.name,
        {
          type: 'nat',
          hook: c.hook,
          priority: c.priority,
          policy: 'accept',
          ruleComments: c.rules.map((r) => r.comment),
        },
      ]),
    ),
    stamps: [stamp],
    frontends: new Set(desired.frontends.keys()),
    backends: desired.frontends,
    slots: new Map(),
    ports: desired.ports,
    strays: new Map(),
    malformed: false,
  };
}
