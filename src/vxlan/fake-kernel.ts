/**
 * An in-memory model of the kernel objects the dataplane driver touches: named network
 * namespaces with links (bridge, vxlan, veth, others), addresses, neighbour, FDB and route
 * entries, netns ids and sysctls. It enforces the rules the driver must respect on a real kernel
 * (EEXIST on duplicate names and entries, one VNI per socket namespace and port, a route's next
 * hop on an up link, veth peers dying together, namespace deletion destroying its links and the
 * VXLAN devices whose socket lived there), so ordering bugs fail in unit tests too.
 * Used through {@link FakeCommandRunner}; tests may also inspect it directly.
 */
import { canonicalIp, canonicalMac, networkOf, parseAddressWithPrefix } from './ip-text.js';
import type { FakeNftTables } from './fake-nft-table.js';

/** An operation the modelled kernel refuses; the message imitates iproute2's. */
export class FakeKernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FakeKernelError';
  }
}

/** VXLAN attributes of a fake link. */
export interface FakeVxlan {
  vni: number;
  port: number;
  local: string | undefined;
  learning: boolean;
  proxy: boolean;
  l2miss: boolean;
  l3miss: boolean;
  /** Namespace holding the UDP socket: where the device was created. */
  socketNs: FakeNamespace;
}

/** One fake interface. */
export interface FakeLink {
  name: string;
  readonly ifindex: number;
  readonly kind: string | undefined;
  mtu: number;
  mac: string;
  up: boolean;
  master: string | undefined;
  alias: string | undefined;
  isolated: boolean;
  /** The other end of a veth. */
  peer: { ns: FakeNamespace; link: FakeLink } | undefined;
  vxlan: FakeVxlan | undefined;
  addresses: { cidr: string; family: 4 | 6; scope: string }[];
}

/** A neighbour entry. */
export interface FakeNeighbour {
  ip: string;
  dev: string;
  lladdr: string;
  permanent: boolean;
}

/** A VXLAN FDB entry with its remotes. */
export interface FakeFdbEntry {
  mac: string;
  dev: string;
  dsts: string[];
}

/** A route of the main table added by a command (connected routes are derived). */
export interface FakeRoute {
  dst: string;
  family: 4 | 6;
  gateway: string | undefined;
  dev: string;
  protocol: string;
}

/** One network namespace. */
export class FakeNamespace {
  readonly links = new Map<string, FakeLink>();
  /** Keyed by `dev\0ip`. */
  readonly neighbours = new Map<string, FakeNeighbour>();
  /** Keyed by `dev\0mac`. */
  readonly fdb = new Map<string, FakeFdbEntry>();
  routes: FakeRoute[] = [];
  readonly sysctls = new Map<string, string>([['net.ipv4.ip_forward', '0']]);
  /** nftables tables by `family name`. */
  nftTables: FakeNftTables = new Map();
  /** Ids this namespace gave to others (IFLA_LINK_NETNSID / `ip netns list`). */
  readonly #ids = new Map<FakeNamespace, number>();
  alive = true;

  constructor(
    readonly kernel: FakeKernel,
    /** Registry name; "" for an unnamed namespace (the host's). */
    readonly name: string,
  ) {
    this.#addLink({ name: 'lo', kind: undefined, mtu: 65536, mac: '00:00:00:00:00:00' });
  }

  /** The id of `other` as seen from here, allocated on first use like the kernel does. */
  idOf(other: FakeNamespace): number {
    let id = this.#ids.get(other);
    if (id === undefined) {
      id = this.#ids.size;
      this.#ids.set(other, id);
    }
    return id;
  }

  /** The id of `other` if one was allocated. */
  peekIdOf(other: FakeNamespace): number | undefined {
    return this.#ids.get(other);
  }

  link(name: string): FakeLink {
    const link = this.links.get(name);
    if (link === undefined) {
      throw new FakeKernelError(`Cannot find device "${name}"`);
    }
    return link;
  }

  #addLink(init: { name: string; kind: string | undefined; mtu: number; mac?: string | undefined }): FakeLink {
    if (this.links.has(init.name)) {
      throw new FakeKernelError('RTNETLINK answers: File exists');
    }
    const link: FakeLink = {
      name: init.name,
      ifindex: this.kernel.nextIfindex(),
      kind: init.kind,
      mtu: init.mtu,
      mac: init.mac ?? this.kernel.nextMac(),
      up: false,
      master: undefined,
      alias: undefined,
      isolated: false,
      peer: undefined,
      vxlan: undefined,
      addresses: [],
    };
    this.links.set(link.name, link);
    return link;
  }

  /** `ip link add name … type bridge|dummy`. */
  addSimpleLink(name: string, kind: string, mtu: number | undefined, mac: string | undefined): FakeLink {
    return this.#addLink({ name, kind, mtu: mtu ?? 1500, mac });
  }

  /** `ip link add … type vxlan` issued from `creator` (the socket namespace). */
  addVxlan(name: string, mtu: number | undefined, attrs: Omit<FakeVxlan, 'socketNs'>, creator: FakeNamespace): FakeLink {
    for (const ns of this.kernel.allNamespaces()) {
      for (const l of ns.links.values()) {
        const v = l.vxlan;
        if (v !== undefined && v.socketNs === creator && v.vni === attrs.vni && v.port === attrs.port) {
          throw new FakeKernelError('Error: A VXLAN device with the specified VNI already exists.');
        }
      }
    }
    if (this.links.has(name)) {
      throw new FakeKernelError('RTNETLINK answers: File exists');
    }
    const link = this.#addLink({ name, kind: 'vxlan', mtu: mtu ?? 1450, mac: undefined });
    link.vxlan = { ...attrs, socketNs: creator };
    if (creator !== this) {
      this.idOf(creator);
    }
    return link;
  }

  /** `ip link add name … type veth peer name … [netns …]`. */
  addVeth(
    name: string,
    opts: { mtu: number | undefined; mac: string | undefined },
    peerNs: FakeNamespace,
    peerName: string,
    peerOpts: { mtu: number | undefined; mac: string | undefined },
  ): FakeLink {
    if (this.links.has(name) || peerNs.links.has(peerName) || (peerNs === this && name === peerName)) {
      throw new FakeKernelError('RTNETLINK answers: File exists');
    }
    const a = this.#addLink({ name, kind: 'veth', mtu: opts.mtu ?? 1500, mac: opts.mac });
    const b = peerNs.#addLink({ name: peerName, kind: 'veth', mtu: peerOpts.mtu ?? 1500, mac: peerOpts.mac });
    a.peer = { ns: peerNs, link: b };
    b.peer = { ns: this, link: a };
    if (peerNs !== this) {
      // The kernel allocates the ids when it announces the new links.
      this.idOf(peerNs);
      peerNs.idOf(this);
    }
    return a;
  }

  /** `ip link del dev NAME`: also the veth peer; ports of a deleted bridge are released. */
  deleteLink(name: string): void {
    const link = this.link(name);
    if (link.name === 'lo') {
      throw new FakeKernelError('RTNETLINK answers: Operation not supported');
    }
    this.forgetLink(link);
    if (link.peer !== undefined) {
      link.peer.ns.forgetLink(link.peer.link);
    }
  }

  /** Removes one link and everything hanging off it, without touching its peer. */
  forgetLink(link: FakeLink): void {
    if (this.links.get(link.name) !== link) {
      return;
    }
    this.links.delete(link.name);
    for (const other of this.links.values()) {
      if (other.master === link.name) {
        other.master = undefined;
        other.isolated = false;
      }
    }
    for (const [key, n] of this.neighbours) {
      if (n.dev === link.name) {
        this.neighbours.delete(key);
      }
    }
    for (const [key, f] of this.fdb) {
      if (f.dev === link.name) {
        this.fdb.delete(key);
      }
    }
    this.routes = this.routes.filter((r) => r.dev !== link.name);
  }

  /** `ip link set dev NAME master BR` (or nomaster with undefined). */
  setMaster(link: FakeLink, master: string | undefined): void {
    if (master !== undefined) {
      const br = this.link(master);
      if (br.kind !== 'bridge') {
        throw new FakeKernelError('RTNETLINK answers: Operation not supported');
      }
    }
    if (link.master !== master) {
      link.isolated = false;
    }
    link.master = master;
  }

  setUp(link: FakeLink, up: boolean): void {
    link.up = up;
    if (!up) {
      // Routes through a link that goes down are flushed, as the kernel does.
      this.routes = this.routes.filter((r) => r.dev !== link.name);
    }
  }

  addAddress(link: FakeLink, cidr: string, replace: boolean): void {
    const parsed = parseAddressWithPrefix(cidr);
    if (parsed === undefined) {
      throw new FakeKernelError(`Error: any valid prefix is expected rather than "${cidr}".`);
    }
    const text = `${parsed.address}/${parsed.prefixLength}`;
    if (link.addresses.some((a) => a.cidr === text)) {
      if (replace) {
        return;
      }
      throw new FakeKernelError('Error: ipv4: Address already assigned.');
    }
    link.addresses.push({ cidr: text, family: parsed.family, scope: 'global' });
  }

  deleteAddress(link: FakeLink, cidr: string): void {
    const parsed = parseAddressWithPrefix(cidr);
    const text = parsed === undefined ? cidr : `${parsed.address}/${parsed.prefixLength}`;
    const before = link.addresses.length;
    link.addresses = link.addresses.filter((a) => a.cidr !== text);
    if (link.addresses.length === before) {
      throw new FakeKernelError('Error: ipv4: Address not found.');
    }
  }

  /** Connected routes of up links, as the kernel derives them from addresses. */
  connectedRoutes(): FakeRoute[] {
    const out: FakeRoute[] = [];
    for (const link of this.links.values()) {
      if (!link.up || link.name === 'lo') {
        continue;
      }
      for (const a of link.addresses) {
        const parsed = parseAddressWithPrefix(a.cidr);
        if (parsed !== undefined) {
          out.push({ dst: networkOf(parsed), family: parsed.family, gateway: undefined, dev: link.name, protocol: 'kernel' });
        }
      }
    }
    return out;
  }

  /** `ip route replace DST via GW dev DEV`: next hop must be on an up link, in one of its subnets. */
  replaceRoute(dst: string, gateway: string, dev: string): void {
    const link = this.link(dev);
    if (!link.up) {
      throw new FakeKernelError('Error: Nexthop device is not up.');
    }
    const gw = canonicalIp(gateway);
    const onLink = link.addresses.some((a) => {
      const p = parseAddressWithPrefix(a.cidr);
      const g = parseAddressWithPrefix(`${gw}/${p?.prefixLength ?? 0}`);
      return p !== undefined && g !== undefined && p.family === g.family && networkOf(p) === networkOf(g);
    });
    if (!onLink) {
      throw new FakeKernelError('Error: Nexthop has invalid gateway.');
    }
    const family: 4 | 6 = gw.includes(':') ? 6 : 4;
    this.routes = this.routes.filter((r) => !(r.dst === dst && r.family === family));
    this.routes.push({ dst, family, gateway: gw, dev, protocol: 'boot' });
  }

  deleteRoute(dst: string, family: 4 | 6, dev: string | undefined): void {
    const before = this.routes.length;
    this.routes = this.routes.filter((r) => !(r.dst === dst && r.family === family && (dev === undefined || r.dev === dev)));
    if (this.routes.length === before) {
      throw new FakeKernelError('RTNETLINK answers: No such process');
    }
  }

  replaceNeighbour(ip: string, lladdr: string, dev: string, permanent: boolean, exclusive: boolean): void {
    this.link(dev);
    const key = `${dev}\0${canonicalIp(ip)}`;
    if (exclusive && this.neighbours.has(key)) {
      throw new FakeKernelError('RTNETLINK answers: File exists');
    }
    this.neighbours.set(key, { ip: canonicalIp(ip), dev, lladdr: canonicalMac(lladdr), permanent });
  }

  deleteNeighbour(ip: string, dev: string): void {
    this.link(dev);
    if (!this.neighbours.delete(`${dev}\0${canonicalIp(ip)}`)) {
      throw new FakeKernelError('RTNETLINK answers: No such file or directory');
    }
  }

  /** `bridge fdb add|replace MAC dev DEV dst IP self permanent`. */
  putFdb(mac: string, dev: string, dst: string, mode: 'add' | 'replace' | 'append'): void {
    const link = this.link(dev);
    if (link.kind !== 'vxlan') {
      throw new FakeKernelError('RTNETLINK answers: Operation not supported');
    }
    const key = `${dev}\0${canonicalMac(mac)}`;
    const entry = this.fdb.get(key);
    const ip = canonicalIp(dst);
    if (entry === undefined) {
      this.fdb.set(key, { mac: canonicalMac(mac), dev, dsts: [ip] });
    } else if (mode === 'add') {
      throw new FakeKernelError('RTNETLINK answers: File exists');
    } else if (mode === 'append') {
      if (!entry.dsts.includes(ip)) {
        entry.dsts.push(ip);
      }
    } else {
      entry.dsts[0] = ip;
    }
  }

  /** `bridge fdb del MAC dev DEV [dst IP] self`. */
  deleteFdb(mac: string, dev: string, dst: string | undefined): void {
    this.link(dev);
    const key = `${dev}\0${canonicalMac(mac)}`;
    const entry = this.fdb.get(key);
    if (entry === undefined) {
      throw new FakeKernelError('RTNETLINK answers: No such file or directory');
    }
    if (dst === undefined) {
      this.fdb.delete(key);
      return;
    }
    const ip = canonicalIp(dst);
    if (!entry.dsts.includes(ip)) {
      throw new FakeKernelError('RTNETLINK answers: No such file or directory');
    }
    entry.dsts = entry.dsts.filter((d) => d !== ip);
    if (entry.dsts.length === 0) {
      this.fdb.delete(key);
    }
  }
}

/**
 * The whole fake machine: an unnamed host namespace plus the registry of named ones
 * (`/run/netns`). With `daemonNamespace`, the daemon runs in a named namespace instead, like a
 * test host.
 */
export class FakeKernel {
  readonly host: FakeNamespace;
  readonly #named = new Map<string, FakeNamespace>();
  #ifindex = 1;
  #macs = 0;
  /** Registry entries that are not namespaces (see {@link addBrokenEntry}). */
  readonly #broken = new Set<string>();

  constructor() {
    this.host = new FakeNamespace(this, '');
  }

  nextIfindex(): number {
    return ++this.#ifindex;
  }

  /** A MAC for a link created without one (the kernel's would be random; these start with fe:). */
  nextMac(): string {
    const n = ++this.#macs;
    return ['fe', 0x0a, (n >> 24) & 0xff, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]
      .map((x) => (typeof x === 'string' ? x : x.toString(16).padStart(2, '0')))
      .join(':');
  }

  /** Every live namespace, host first. */
  allNamespaces(): FakeNamespace[] {
    return [this.host, ...this.#named.values()];
  }

  /** Registered names, in creation order (broken entries too, as `ip netns list` shows them). */
  names(): string[] {
    return [...this.#named.keys(), ...this.#broken];
  }

  /**
   * Leaves `/run/netns/NAME` as a plain file, as an `ip netns add` killed before its bind mount
   * does: listed, but unusable, and in the way of another `netns add`.
   */
  addBrokenEntry(name: string): void {
    if (this.#named.has(name)) {
      throw new FakeKernelError(`Cannot create namespace file "/run/netns/${name}": File exists`);
    }
    this.#broken.add(name);
  }

  /** The named namespace, or undefined. */
  find(name: string): FakeNamespace | undefined {
    return this.#named.get(name);
  }

  /** The named namespace; throws like `ip -n` does when it does not exist. */
  get(name: string): FakeNamespace {
    const ns = this.#named.get(name);
    if (this.#broken.has(name)) {
      throw new FakeKernelError(`setting the network namespace "${name}" failed: Invalid argument`);
    }
    if (ns === undefined) {
      throw new FakeKernelError(`Cannot open network namespace "${name}": No such file or directory`);
    }
    return ns;
  }

  /** `ip netns add NAME` (also what a container runtime does). */
  addNamespace(name: string): FakeNamespace {
    if (this.#named.has(name) || this.#broken.has(name)) {
      throw new FakeKernelError(`Cannot create namespace file "/run/netns/${name}": File exists`);
    }
    const ns = new FakeNamespace(this, name);
    this.#named.set(name, ns);
    return ns;
  }

  /**
   * `ip netns del NAME`: the namespace dies with its links; the other ends of its veths go too,
   * and so do VXLAN devices elsewhere whose socket lived in it.
   */
  deleteNamespace(name: string): void {
    if (this.#broken.delete(name)) {
      return; // `ip netns del` ignores the failed unmount and unlinks the file
    }
    const ns = this.get(name);
    this.#named.delete(name);
    ns.alive = false;
    for (const link of [...ns.links.values()]) {
      if (link.peer !== undefined) {
        link.peer.ns.forgetLink(link.peer.link);
      }
    }
    for (const other of this.allNamespaces()) {
      for (const link of [...other.links.values()]) {
        if (link.vxlan?.socketNs === ns) {
          other.forgetLink(link);
        }
      }
    }
  }
}
