import ipaddr from 'ipaddr.js';
import { reverseName } from './dns-wire.js';

/** Addresses one name has on one network, deduplicated, in insertion order. */
export interface NameRecords {
  readonly ipv4: readonly string[];
  readonly ipv6: readonly string[];
}

/** One SRV answer (RFC 2782). */
export interface SrvTarget {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Target name, dotted, without the trailing dot. */
  readonly target: string;
}

/** Everything resolvable on one network. Keys are lowercased dotted names without trailing dot. */
export interface NetworkRecords {
  readonly id: string;
  /** Lowercased network name, the suffix of `<name>.<network>`. */
  readonly name: string;
  readonly subnets: readonly (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];
  /** A/AAAA: container names, hostnames, aliases (and later `<service>`, `tasks.<service>`). */
  readonly names: ReadonlyMap<string, NameRecords>;
  /** SRV: `_port._proto.<service>` (filled once services exist). */
  readonly srv: ReadonlyMap<string, readonly SrvTarget[]>;
  /** PTR: reverse name (`5.1.0.10.in-addr.arpa`) → target (`container1.mynet`). */
  readonly ptr: ReadonlyMap<string, string>;
}

/**
 * An immutable snapshot of the cluster names this node can answer, per network. Built by
 * {@link RecordTableBuilder} from the whole state on every change; a query only ever reads the
 * networks its asker is attached to (see name-resolution.ts).
 */
export class RecordTable {
  /** Increases with every build; answer caches are keyed to it. */
  readonly generation: number;
  readonly networks: ReadonlyMap<string, NetworkRecords>;

  constructor(generation: number, networks: ReadonlyMap<string, NetworkRecords>) {
    this.generation = generation;
    this.networks = networks;
  }

  /** Whether `address` lies in a subnet of any known network (its reverse name is a cluster name). */
  isClusterAddress(address: string): boolean {
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.parse(address);
    } catch {
      return false;
    }
    for (const n of this.networks.values()) {
      for (const subnet of n.subnets) {
        if (subnet[0].kind() === ip.kind() && ip.match(subnet as [ipaddr.IPv4 | ipaddr.IPv6, number])) {
          return true;
        }
      }
    }
    return false;
  }
}

interface MutableNetwork {
  readonly id: string;
  readonly name: string;
  readonly subnets: (readonly [ipaddr.IPv4 | ipaddr.IPv6, number])[];
  readonly names: Map<string, { ipv4: string[]; ipv6: string[] }>;
  readonly srv: Map<string, SrvTarget[]>;
  readonly ptr: Map<string, string>;
}

/**
 * Collects records from record sources (endpoints now, services later) into a {@link RecordTable}.
 * Several sources may add the same name on a network: their addresses are merged, so a shared
 * alias resolves to every holder and keeps resolving while any holder remains. Records for a
 * network that was not declared with {@link network} are ignored (no answer from an unknown
 * network); malformed addresses and names are skipped, never thrown.
 */
export class RecordTableBuilder {
  readonly #networks = new Map<string, MutableNetwork>();

  /** Declares a network; declaring it again keeps the first name and adds the subnets. */
  network(id: string, name: string, subnets: readonly string[]): this {
    let n = this.#networks.get(id);
    if (!n) {
      n = { id, name: name.toLowerCase(), subnets: [], names: new Map(), srv: new Map(), ptr: new Map() };
      this.#networks.set(id, n);
    }
    for (const cidr of subnets) {
      try {
        n.subnets.push(ipaddr.parseCIDR(cidr));
      } catch {
        // A subnet that does not parse cannot hold cluster addresses: nothing to match.
      }
    }
    return this;
  }

  /** Adds an A or AAAA record (by the address's family) for `name` on the network. */
  addAddress(networkId: string, name: string, address: string): this {
    const n = this.#networks.get(networkId);
    const key = normalizeName(name);
    const ip = parseAddress(address);
    if (!n || key === undefined || ip === undefined) {
      return this;
    }
    let rec = n.names.get(key);
    if (!rec) {
      rec = { ipv4: [], ipv6: [] };
      n.names.set(key, rec);
    }
    const list = ip.kind() === 'ipv4' ? rec.ipv4 : rec.ipv6;
    const text = ip.toString();
    if (!list.includes(text)) {
      list.push(text);
    }
    return this;
  }

  /** Adds the reverse record of `address` on the network; the first target added for an address wins. */
  addPtr(networkId: string, address: string, target: string): this {
    const n = this.#networks.get(networkId);
    const ip = parseAddress(address);
    const name = normalizeName(target);
    if (!n || ip === undefined || name === undefined) {
      return this;
    }
    const reverse = reverseName(ip.toString());
    if (!n.ptr.has(reverse)) {
      n.ptr.set(reverse, name);
    }
    return this;
  }

  /** Adds an SRV record for `name` (`_port._proto.<service>`) on the network. */
  addSrv(networkId: string, name: string, target: SrvTarget): this {
    const n = this.#networks.get(networkId);
    const key = normalizeName(name);
    if (!n || key === undefined) {
      return this;
    }
    const list = n.srv.get(key) ?? [];
    list.push(target);
    n.srv.set(key, list);
    return this;
  }

  build(generation: number): RecordTable {
    return new RecordTable(generation, new Map(this.#networks));
  }
}

/** Lowercased, without trailing dot; undefined for names that cannot be DNS names. */
function normalizeName(name: string): string | undefined {
  const n = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  if (n === '' || n.length > 253 || n.split('.').some((l) => l.length === 0 || l.length > 63)) {
    return undefined;
  }
  return n;
}

/** Parses "10.0.1.5", "10.0.1.5/24" or an IPv6 form; undefined for '' or garbage. */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  const bare = address.split('/')[0] ?? '';
  if (bare === '' || bare.includes('%')) {
    return undefined;
  }
  try {
    const ip = ipaddr.parse(bare);
    if (ip.kind() === 'ipv4' && !ipaddr.IPv4.isValidFourPartDecimal(bare)) {
      return undefined;
    }
    return ip;
  } catch {
    return undefined;
  }
}
