/**
 * Parsers of the JSON the kernel tools print (`ip -j`, `bridge -j`, `nft -j`) into
 * {@link kernel-state}. Pure and defensive: a field of an unexpected type is treated as absent,
 * never trusted, so a newer iproute2 adding fields changes nothing.
 */
import { canonicalIp, canonicalMac, canonicalPrefix } from './ip-text.js';
import type {
  FdbState,
  LinkAddress,
  LinkState,
  NeighbourState,
  NftChainState,
  NftTableState,
  RouteState,
  VxlanAttributes,
} from './kernel-state.js';

type JsonObject = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objects(value: unknown): JsonObject[] {
  return Array.isArray(value) ? value.filter(isObject) : [];
}

function str(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

function num(o: JsonObject, key: string): number | undefined {
  const v = o[key];
  return typeof v === 'number' ? v : undefined;
}

function bool(o: JsonObject, key: string): boolean | undefined {
  const v = o[key];
  return typeof v === 'boolean' ? v : undefined;
}

function strings(o: JsonObject, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function obj(o: JsonObject, key: string): JsonObject | undefined {
  const v = o[key];
  return isObject(v) ? v : undefined;
}

/**
 * Splits concatenated JSON documents (what `ip -j -batch -` prints: one array per command) and
 * parses each. Scans once, tracking strings and nesting depth.
 * @throws SyntaxError when a document is not valid JSON or the text ends inside one.
 */
export function parseJsonSequence(text: string): unknown[] {
  const docs: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) {
        i++;
      } else if (c === 0x22 /* " */) {
        inString = false;
      }
      continue;
    }
    if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (depth === 0) {
        start = i;
      }
      depth++;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
      if (depth === 0) {
        docs.push(JSON.parse(text.slice(start, i + 1)));
        start = -1;
      } else if (depth < 0) {
        throw new SyntaxError(`unbalanced JSON at offset ${i}`);
      }
    }
  }
  if (depth !== 0 || inString) {
    throw new SyntaxError('JSON sequence ends inside a document');
  }
  return docs;
}

function parseVxlan(info: JsonObject | undefined): VxlanAttributes | undefined {
  if (info === undefined) {
    return undefined;
  }
  const vni = num(info, 'id');
  const local = str(info, 'local') ?? str(info, 'local6');
  return {
    vni: vni ?? -1,
    port: num(info, 'port') ?? -1,
    local: local === undefined ? undefined : canonicalIp(local),
    learning: bool(info, 'learning') ?? true,
    proxy: bool(info, 'proxy') ?? false,
    l2miss: bool(info, 'l2miss') ?? false,
    l3miss: bool(info, 'l3miss') ?? false,
  };
}

function parseAddresses(o: JsonObject): LinkAddress[] {
  const out: LinkAddress[] = [];
  for (const a of objects(o['addr_info'])) {
    const family = str(a, 'family');
    const local = str(a, 'local');
    const prefixLength = num(a, 'prefixlen');
    if ((family !== 'inet' && family !== 'inet6') || local === undefined || prefixLength === undefined) {
      continue;
    }
    out.push({
      cidr: `${canonicalIp(local)}/${prefixLength}`,
      family: family === 'inet' ? 4 : 6,
      scope: str(a, 'scope') ?? 'global',
    });
  }
  return out;
}

/** Links with their addresses, from `ip -j -d addr show` (or `ip -j -d link show`, without addresses). */
export function parseLinks(value: unknown): Map<string, LinkState> {
  const links = new Map<string, LinkState>();
  for (const o of objects(value)) {
    const name = str(o, 'ifname');
    const ifindex = num(o, 'ifindex');
    if (name === undefined || ifindex === undefined) {
      continue;
    }
    const linkinfo = obj(o, 'linkinfo');
    const kind = linkinfo === undefined ? undefined : str(linkinfo, 'info_kind');
    const slaveData = linkinfo === undefined ? undefined : obj(linkinfo, 'info_slave_data');
    links.set(name, {
      name,
      ifindex,
      kind,
      mtu: num(o, 'mtu') ?? 0,
      mac: canonicalMac(str(o, 'address') ?? ''),
      up: strings(o, 'flags').includes('UP'),
      master: str(o, 'master'),
      alias: str(o, 'ifalias'),
      linkIndex: num(o, 'link_index'),
      linkNetnsId: num(o, 'link_netnsid'),
      vxlan: kind === 'vxlan' && linkinfo !== undefined ? parseVxlan(obj(linkinfo, 'info_data')) : undefined,
      isolated: slaveData === undefined ? undefined : (bool(slaveData, 'isolated') ?? false),
      addresses: parseAddresses(o),
    });
  }
  return links;
}

/** Neighbour entries from `ip -j neigh show`. */
export function parseNeighbours(value: unknown): NeighbourState[] {
  const out: NeighbourState[] = [];
  for (const o of objects(value)) {
    const ip = str(o, 'dst');
    const dev = str(o, 'dev');
    if (ip === undefined || dev === undefined) {
      continue;
    }
    const lladdr = str(o, 'lladdr');
    out.push({
      ip: canonicalIp(ip),
      dev,
      lladdr: lladdr === undefined ? undefined : canonicalMac(lladdr),
      permanent: strings(o, 'state').includes('PERMANENT'),
    });
  }
  return out;
}

/** FDB entries from `bridge -j fdb show`. */
export function parseFdb(value: unknown): FdbState[] {
  const out: FdbState[] = [];
  for (const o of objects(value)) {
    const mac = str(o, 'mac');
    const dev = str(o, 'ifname');
    if (mac === undefined || dev === undefined) {
      continue;
    }
    const dst = str(o, 'dst');
    out.push({
      mac: canonicalMac(mac),
      dev,
      dst: dst === undefined ? undefined : canonicalIp(dst),
      self: strings(o, 'flags').includes('self'),
      master: str(o, 'master'),
      permanent: str(o, 'state') === 'permanent',
    });
  }
  return out;
}

/** Unicast routes of the main table, both families, from `ip -j route show table all`. */
export function parseRoutes(value: unknown): RouteState[] {
  const out: RouteState[] = [];
  for (const o of objects(value)) {
    const table = str(o, 'table');
    const type = str(o, 'type');
    const dst = str(o, 'dst');
    if ((table !== undefined && table !== 'main') || (type !== undefined && type !== 'unicast') || dst === undefined) {
      continue;
    }
    const gateway = str(o, 'gateway');
    const family: 4 | 6 = dst.includes(':') || (gateway?.includes(':') ?? false) ? 6 : 4;
    out.push({
      dst: canonicalPrefix(dst.includes('/') || dst === 'default' ? dst : `${dst}/${family === 4 ? 32 : 128}`),
      family,
      gateway: gateway === undefined ? undefined : canonicalIp(gateway),
      dev: str(o, 'dev'),
      protocol: str(o, 'protocol'),
    });
  }
  return out;
}

/** Named namespaces from `ip -j netns list`: every name, and the ids of those that have one here. */
export function parseNetnsList(value: unknown): { names: string[]; ids: Map<string, number> } {
  const names: string[] = [];
  const ids = new Map<string, number>();
  for (const o of objects(value)) {
    const name = str(o, 'name');
    if (name === undefined) {
      continue;
    }
    names.push(name);
    const id = num(o, 'id');
    if (id !== undefined) {
      ids.set(name, id);
    }
  }
  return { names, ids };
}

function setElement(e: unknown): string | undefined {
  if (typeof e === 'string') {
    return canonicalIp(e);
  }
  if (isObject(e)) {
    // `{ "elem": { "val": …, "counter": … } }` when elements carry statements.
    const inner = obj(e, 'elem');
    const val = inner === undefined ? undefined : inner['val'];
    return typeof val === 'string' ? canonicalIp(val) : undefined;
  }
  return undefined;
}

/** The table listed by `nft -j list table <family> <name>`. */
export function parseNftTable(value: unknown): NftTableState {
  const sets = new Map<string, { type: string; elements: string[] }>();
  const counters = new Map<string, { packets: number; bytes: number }>();
  const items = isObject(value) ? objects(value['nftables']) : [];
  for (const item of items) {
    const set = obj(item, 'set');
    const counter = obj(item, 'counter');
    if (set !== undefined) {
      const name = str(set, 'name');
      if (name !== undefined) {
        const elem = set['elem'];
        const elements = Array.isArray(elem)
          ? elem.map(setElement).filter((e): e is string => e !== undefined)
          : [];
        sets.set(name, { type: str(set, 'type') ?? '', elements });
      }
    } else if (counter !== undefined) {
      const name = str(counter, 'name');
      if (name !== undefined) {
        counters.set(name, { packets: num(counter, 'packets') ?? 0, bytes: num(counter, 'bytes') ?? 0 });
      }
    }
  }
  return { sets, counters, chains: parseNftChains(value) };
}

/**
 * The chains of an `nft -j list table` answer, each with the comments of its rules in order (a
 * rule without one gives undefined): how the driver recognises the rules it wrote.
 */
export function parseNftChains(value: unknown): Map<string, NftChainState> {
  const chains = new Map<string, NftChainState>();
  const comments = new Map<string, (string | undefined)[]>();
  for (const item of isObject(value) ? objects(value['nftables']) : []) {
    const chain = obj(item, 'chain');
    const rule = obj(item, 'rule');
    if (chain !== undefined) {
      const name = str(chain, 'name');
      if (name !== undefined) {
        chains.set(name, {
          type: str(chain, 'type'),
          hook: str(chain, 'hook'),
          priority: num(chain, 'prio'),
          policy: str(chain, 'policy'),
          ruleComments: [],
        });
      }
    } else if (rule !== undefined) {
      const chainName = str(rule, 'chain');
      if (chainName !== undefined) {
        const list = comments.get(chainName) ?? [];
        list.push(str(rule, 'comment'));
        comments.set(chainName, list);
      }
    }
  }
  for (const [name, list] of comments) {
    const chain = chains.get(name);
    if (chain !== undefined) {
      chains.set(name, { ...chain, ruleComments: list });
    }
  }
  return chains;
}
