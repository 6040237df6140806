/**
 * A {@link CommandRunner} that interprets the driver's iproute2 / bridge / nft / sysctl command
 * lines against a {@link FakeKernel}, printing JSON in the tools' shapes and failing the way they
 * do (`-force -batch` keeps going and reports `Command failed -:N`; `nft -f` is all or nothing).
 * It understands the subset of syntax the driver emits, plus what tests use to tamper.
 */
import type { CommandRunner, KernelCommand, KernelCommandResult, CommandScope } from './command-runner.js';
import { FakeKernel, FakeKernelError } from './fake-kernel.js';
import type { FakeLink, FakeNamespace } from './fake-kernel.js';
import { applyNftScript, FakeNftError } from './fake-nft-table.js';
import { canonicalIp, canonicalMac, canonicalPrefix } from './ip-text.js';

/** Options of {@link FakeCommandRunner}. */
export interface FakeCommandRunnerOptions {
  /** The kernel to drive; a fresh one by default. */
  readonly kernel?: FakeKernel;
  /** Run the daemon in this named namespace (created if missing), like a test host. */
  readonly daemonNamespace?: string;
}

interface Output {
  stdout: string[];
  stderr: string[];
}

function ok(stdout = ''): KernelCommandResult {
  return { stdout, stderr: '', exitCode: 0 };
}

function fail(stderr: string): KernelCommandResult {
  return { stdout: '', stderr: `${stderr}\n`, exitCode: 1 };
}

/** Reads `key value` options from a token list. */
class Tokens {
  #i = 0;
  constructor(readonly words: readonly string[]) {}
  next(): string | undefined {
    return this.words[this.#i++];
  }
  peek(): string | undefined {
    return this.words[this.#i];
  }
  value(what: string): string {
    const v = this.next();
    if (v === undefined) {
      throw new FakeKernelError(`Command line is not complete. Try option "help"`);
    }
    void what;
    return v;
  }
}

const READ_ONLY = /^(netns list|addr show|link show|neigh show|route show|fdb show)/;

/** The fake runner; `history` records every command for tests that want to look. */
export class FakeCommandRunner implements CommandRunner {
  readonly kernel: FakeKernel;
  readonly daemonNamespace: string | undefined;
  /** Every command run, reads included, in order. */
  readonly history: KernelCommand[] = [];

  constructor(options: FakeCommandRunnerOptions = {}) {
    this.kernel = options.kernel ?? new FakeKernel();
    this.daemonNamespace = options.daemonNamespace;
    if (this.daemonNamespace !== undefined && this.kernel.find(this.daemonNamespace) === undefined) {
      this.kernel.addNamespace(this.daemonNamespace);
    }
  }

  /** The daemon's namespace in the fake kernel. */
  get daemon(): FakeNamespace {
    return this.daemonNamespace === undefined ? this.kernel.host : this.kernel.get(this.daemonNamespace);
  }

  /** Commands in `history` that change something (every batch, nft -f, sysctl -w). */
  mutations(): KernelCommand[] {
    return this.history.filter((c) => {
      if (c.tool === 'sysctl') {
        return c.args.includes('-w');
      }
      if (c.tool === 'nft') {
        return c.args.includes('-f');
      }
      const lines = c.args.includes('-batch') ? (c.input ?? '').split('\n') : [c.args.filter((a) => !a.startsWith('-')).join(' ')];
      return lines.some((l) => l.trim() !== '' && !READ_ONLY.test(l.trim()));
    });
  }

  run(command: KernelCommand, options: { readonly signal?: AbortSignal } = {}): Promise<KernelCommandResult> {
    options.signal?.throwIfAborted();
    this.history.push(command);
    let ns: FakeNamespace;
    try {
      ns = this.#resolve(command.scope);
    } catch (err) {
      return Promise.resolve(fail(err instanceof Error ? err.message : String(err)));
    }
    switch (command.tool) {
      case 'ip':
      case 'bridge': {
        return Promise.resolve(this.#runIproute(command, ns));
      }
      case 'nft': {
        return Promise.resolve(this.#runNft(command, ns));
      }
      case 'sysctl': {
        return Promise.resolve(this.#runSysctl(command, ns));
      }
    }
  }

  #resolve(scope: CommandScope): FakeNamespace {
    switch (scope.kind) {
      case 'daemon': {
        return this.daemon;
      }
      case 'registry': {
        return this.kernel.host;
      }
      case 'netns': {
        return this.kernel.get(scope.name);
      }
    }
  }

  #runIproute(command: KernelCommand, ns: FakeNamespace): KernelCommandResult {
    const args = [...command.args];
    let force = false;
    let batch = false;
    while (args[0]?.startsWith('-') === true) {
      const opt = args.shift();
      if (opt === '-force') {
        force = true;
      } else if (opt === '-batch') {
        batch = true;
        args.shift(); // '-': stdin
      } else if (opt !== '-d' && opt !== '-j') {
        return fail(`Option "${opt}" is unknown`);
      }
    }
    const lines = batch ? (command.input ?? '').split('\n').filter((l) => l.trim() !== '') : [args.join(' ')];
    const out: Output = { stdout: [], stderr: [] };
    let failed = false;
    for (const [i, line] of lines.entries()) {
      try {
        const words = line.trim().split(/\s+/);
        const printed =
          command.tool === 'ip'
            ? this.#ip(words, ns, command.scope.kind === 'registry')
            : this.#bridge(words, ns);
        if (printed !== undefined) {
          // Shows are always printed as JSON: the driver never asks for text.
          out.stdout.push(JSON.stringify(printed));
        }
      } catch (err) {
        if (!(err instanceof FakeKernelError)) {
          throw err;
        }
        failed = true;
        out.stderr.push(err.message);
        if (batch) {
          out.stderr.push(`Command failed -:${i + 1}`);
        }
        if (!force) {
          break;
        }
      }
    }
    return {
      stdout: out.stdout.length === 0 ? '' : `${out.stdout.join('\n')}\n`,
      stderr: out.stderr.length === 0 ? '' : `${out.stderr.join('\n')}\n`,
      exitCode: failed ? 1 : 0,
    };
  }

  #ip(words: string[], ns: FakeNamespace, registry: boolean): unknown {
    const [object, verb, ...rest] = words;
    const t = new Tokens(rest);
    switch (`${object} ${verb}`) {
      case 'netns list': {
        return this.kernel.names().map((name) => {
          const target = this.kernel.find(name);
          const id = target === undefined ? undefined : ns.peekIdOf(target);
          return id === undefined ? { name } : { name, id };
        });
      }
      case 'netns add':
      case 'netns del': {
        if (!registry) {
          // `ip -n X netns add` creates an empty file: the mount is private to that process.
          throw new FakeKernelError('netns add/del must not run inside another namespace');
        }
        const name = t.value('name');
        if (verb === 'add') {
          this.kernel.addNamespace(name);
        } else {
          this.kernel.deleteNamespace(name);
        }
        return undefined;
      }
      case 'addr show':
      case 'link show': {
        return [...ns.links.values()].map((l) => this.#linkJson(ns, l, object === 'addr'));
      }
      case 'neigh show': {
        return [...ns.neighbours.values()].map((n) => ({
          dst: n.ip,
          dev: n.dev,
          lladdr: n.lladdr,
          state: [n.permanent ? 'PERMANENT' : 'REACHABLE'],
        }));
      }
      case 'route show': {
        return [...ns.connectedRoutes(), ...ns.routes].map((r) => {
          const o: Record<string, unknown> = { dst: r.dst, dev: r.dev, protocol: r.protocol, flags: [] };
          if (r.gateway !== undefined) {
            o['gateway'] = r.gateway;
          }
          return o;
        });
      }
      case 'link add': {
        this.#linkAdd(t, ns);
        return undefined;
      }
      case 'link set': {
        this.#linkSet(t, ns);
        return undefined;
      }
      case 'link del':
      case 'link delete': {
        if (t.peek() === 'dev') {
          t.next();
        }
        ns.deleteLink(t.value('dev'));
        return undefined;
      }
      case 'addr add':
      case 'addr replace':
      case 'addr del': {
        const cidr = t.value('address');
        if (t.next() !== 'dev') {
          throw new FakeKernelError('Not enough information: "dev" argument is required.');
        }
        const link = ns.link(t.value('dev'));
        if (verb === 'del') {
          ns.deleteAddress(link, cidr);
        } else {
          ns.addAddress(link, cidr, verb === 'replace');
        }
        return undefined;
      }
      case 'neigh add':
      case 'neigh replace': {
        const ip = t.value('ip');
        let lladdr: string | undefined;
        let dev: string | undefined;
        let permanent = false;
        for (let w = t.next(); w !== undefined; w = t.next()) {
          if (w === 'lladdr') {
            lladdr = t.value('lladdr');
          } else if (w === 'dev') {
            dev = t.value('dev');
          } else if (w === 'nud') {
            permanent = t.value('nud') === 'permanent';
          }
        }
        if (lladdr === undefined || dev === undefined) {
          throw new FakeKernelError('Device and destination are required arguments.');
        }
        ns.replaceNeighbour(ip, lladdr, dev, permanent, verb === 'add');
        return undefined;
      }
      case 'neigh del': {
        const ip = t.value('ip');
        t.next();
        ns.deleteNeighbour(ip, t.value('dev'));
        return undefined;
      }
      case 'route replace': {
        const dst = t.value('dst');
        let via: string | undefined;
        let dev: string | undefined;
        for (let w = t.next(); w !== undefined; w = t.next()) {
          if (w === 'via') {
            via = t.value('via');
          } else if (w === 'dev') {
            dev = t.value('dev');
          }
        }
        if (via === undefined || dev === undefined) {
          throw new FakeKernelError('fake: route replace needs via and dev');
        }
        ns.replaceRoute(canonicalPrefix(dst), via, dev);
        return undefined;
      }
      case 'route del': {
        const dst = t.value('dst');
        let dev: string | undefined;
        for (let w = t.next(); w !== undefined; w = t.next()) {
          if (w === 'dev') {
            dev = t.value('dev');
          } else if (w === 'via') {
            t.next();
          }
        }
        const family: 4 | 6 = dst.includes(':') ? 6 : 4;
        ns.deleteRoute(dst === '::/0' ? 'default' : canonicalPrefix(dst), family, dev);
        return undefined;
      }
      default: {
        throw new FakeKernelError(`fake ip: unsupported command "${words.join(' ')}"`);
      }
    }
  }

  #linkAdd(t: Tokens, ns: FakeNamespace): void {
    let name: string | undefined;
    let target = ns;
    let mtu: number | undefined;
    let mac: string | undefined;
    let kind: string | undefined;
    while (kind === undefined) {
      const w = t.next();
      if (w === undefined) {
        break;
      }
      if (w === 'name') {
        name = t.value('name');
      } else if (w === 'netns') {
        target = this.kernel.get(t.value('netns'));
      } else if (w === 'mtu') {
        mtu = Number(t.value('mtu'));
      } else if (w === 'address') {
        mac = canonicalMac(t.value('address'));
      } else if (w === 'type') {
        kind = t.value('type');
      } else {
        throw new FakeKernelError(`fake ip link add: unexpected "${w}"`);
      }
    }
    if (name === undefined || kind === undefined) {
      throw new FakeKernelError('Not enough information: "name" and "type" are required.');
    }
    if (kind === 'vxlan') {
      const attrs = { vni: -1, port: 8472, local: undefined as string | undefined, learning: true, proxy: false, l2miss: false, l3miss: false };
      for (let w = t.next(); w !== undefined; w = t.next()) {
        if (w === 'id') {
          attrs.vni = Number(t.value('id'));
        } else if (w === 'dstport') {
          attrs.port = Number(t.value('dstport'));
        } else if (w === 'local') {
          attrs.local = canonicalIp(t.value('local'));
        } else if (w === 'learning' || w === 'nolearning') {
          attrs.learning = w === 'learning';
        } else if (w === 'proxy' || w === 'noproxy') {
          attrs.proxy = w === 'proxy';
        } else if (w === 'l2miss' || w === 'nol2miss') {
          attrs.l2miss = w === 'l2miss';
        } else if (w === 'l3miss' || w === 'nol3miss') {
          attrs.l3miss = w === 'l3miss';
        } else {
          throw new FakeKernelError(`fake vxlan: unexpected "${w}"`);
        }
      }
      if (attrs.vni < 0) {
        throw new FakeKernelError('vxlan: missing virtual network identifier');
      }
      target.addVxlan(name, mtu, attrs, ns);
      return;
    }
    if (kind === 'veth') {
      let peerName: string | undefined;
      let peerNs = target;
      let peerMtu: number | undefined;
      let peerMac: string | undefined;
      if (t.next() !== 'peer') {
        throw new FakeKernelError('fake veth: expected "peer"');
      }
      for (let w = t.next(); w !== undefined; w = t.next()) {
        if (w === 'name') {
          peerName = t.value('name');
        } else if (w === 'netns') {
          peerNs = this.kernel.get(t.value('netns'));
        } else if (w === 'mtu') {
          peerMtu = Number(t.value('mtu'));
        } else if (w === 'address') {
          peerMac = canonicalMac(t.value('address'));
        } else {
          throw new FakeKernelError(`fake veth peer: unexpected "${w}"`);
        }
      }
      if (peerName === undefined) {
        throw new FakeKernelError('fake veth: peer name required');
      }
      target.addVeth(name, { mtu, mac }, peerNs, peerName, { mtu: peerMtu, mac: peerMac });
      return;
    }
    target.addSimpleLink(name, kind, mtu, mac);
  }

  #linkSet(t: Tokens, ns: FakeNamespace): void {
    if (t.peek() === 'dev') {
      t.next();
    }
    const link = ns.link(t.value('dev'));
    for (let w = t.next(); w !== undefined; w = t.next()) {
      switch (w) {
        case 'up':
        case 'down': {
          ns.setUp(link, w === 'up');
          break;
        }
        case 'mtu': {
          link.mtu = Number(t.value('mtu'));
          break;
        }
        case 'address': {
          link.mac = canonicalMac(t.value('address'));
          break;
        }
        case 'alias': {
          link.alias = t.value('alias');
          break;
        }
        case 'master': {
          ns.setMaster(link, t.value('master'));
          break;
        }
        case 'nomaster': {
          ns.setMaster(link, undefined);
          break;
        }
        case 'type': {
          if (t.next() !== 'bridge_slave' || t.next() !== 'isolated') {
            throw new FakeKernelError('fake link set type: only "bridge_slave isolated on|off"');
          }
          if (link.master === undefined) {
            throw new FakeKernelError('RTNETLINK answers: Operation not supported');
          }
          link.isolated = t.value('isolated') === 'on';
          break;
        }
        default: {
          throw new FakeKernelError(`fake ip link set: unexpected "${w}"`);
        }
      }
    }
  }

  #linkJson(ns: FakeNamespace, l: FakeLink, withAddresses: boolean): unknown {
    const o: Record<string, unknown> = {
      ifindex: l.ifindex,
      ifname: l.name,
      flags: ['BROADCAST', 'MULTICAST', ...(l.up ? ['UP', 'LOWER_UP'] : [])],
      mtu: l.mtu,
      operstate: l.up ? 'UP' : 'DOWN',
      address: l.mac,
    };
    if (l.master !== undefined) {
      o['master'] = l.master;
    }
    if (l.alias !== undefined) {
      o['ifalias'] = l.alias;
    }
    if (l.peer !== undefined) {
      o['link_index'] = l.peer.link.ifindex;
      if (l.peer.ns !== ns) {
        o['link_netnsid'] = ns.idOf(l.peer.ns);
      }
    }
    const linkinfo: Record<string, unknown> = {};
    if (l.kind !== undefined) {
      linkinfo['info_kind'] = l.kind;
    }
    if (l.vxlan !== undefined) {
      const v = l.vxlan;
      if (v.socketNs !== ns) {
        o['link_netnsid'] = ns.idOf(v.socketNs);
      }
      linkinfo['info_data'] = {
        id: v.vni,
        ...(v.local === undefined ? {} : { local: v.local }),
        port: v.port,
        learning: v.learning,
        proxy: v.proxy,
        l2miss: v.l2miss,
        l3miss: v.l3miss,
      };
    }
    if (l.master !== undefined) {
      linkinfo['info_slave_kind'] = 'bridge';
      linkinfo['info_slave_data'] = { state: 'forwarding', isolated: l.isolated };
    }
    if (Object.keys(linkinfo).length > 0) {
      o['linkinfo'] = linkinfo;
    }
    if (withAddresses) {
      const addrs: unknown[] = l.addresses.map((a) => {
        const slash = a.cidr.lastIndexOf('/');
        return {
          family: a.family === 4 ? 'inet' : 'inet6',
          local: a.cidr.slice(0, slash),
          prefixlen: Number(a.cidr.slice(slash + 1)),
          scope: a.scope,
        };
      });
      if (l.up && l.name !== 'lo') {
        // The kernel's own link-local address, which the driver must leave alone.
        addrs.push({ family: 'inet6', local: `fe80::${l.ifindex.toString(16)}`, prefixlen: 64, scope: 'link' });
      }
      o['addr_info'] = addrs;
    }
    return o;
  }

  #bridge(words: string[], ns: FakeNamespace): unknown {
    const [object, verb, ...rest] = words;
    if (object !== 'fdb') {
      throw new FakeKernelError(`fake bridge: unsupported "${words.join(' ')}"`);
    }
    if (verb === 'show') {
      const out: unknown[] = [];
      for (const l of ns.links.values()) {
        if (l.master !== undefined) {
          out.push({ mac: l.mac, ifname: l.name, flags: [], master: l.master, state: 'permanent' });
        }
      }
      for (const f of ns.fdb.values()) {
        for (const dst of f.dsts) {
          out.push({ mac: f.mac, ifname: f.dev, dst, flags: ['self'], state: 'permanent' });
        }
      }
      return out;
    }
    const t = new Tokens(rest);
    const mac = t.value('mac');
    let dev: string | undefined;
    let dst: string | undefined;
    for (let w = t.next(); w !== undefined; w = t.next()) {
      if (w === 'dev') {
        dev = t.value('dev');
      } else if (w === 'dst') {
        dst = t.value('dst');
      }
    }
    if (dev === undefined) {
      throw new FakeKernelError('Device is a required argument.');
    }
    if (verb === 'del') {
      ns.deleteFdb(mac, dev, dst);
      return undefined;
    }
    if (dst === undefined || (verb !== 'add' && verb !== 'replace' && verb !== 'append')) {
      throw new FakeKernelError(`fake bridge: unsupported "${words.join(' ')}"`);
    }
    ns.putFdb(mac, dev, dst, verb);
    return undefined;
  }

  #runNft(command: KernelCommand, ns: FakeNamespace): KernelCommandResult {
    const args = command.args;
    if (args[0] === '-j' && args[1] === 'list' && args[2] === 'table') {
      const table = ns.nftTables.get(`${args[3] ?? ''} ${args[4] ?? ''}`);
      if (table === undefined) {
        return fail(`Error: No such file or directory\nlist table ${args[3] ?? ''} ${args[4] ?? ''}`);
      }
      return ok(`${JSON.stringify(table.toJson())}\n`);
    }
    if (args[0] === '-j' && args[1] === 'list' && (args[2] === 'set' || args[2] === 'map')) {
      const where = `${args[3] ?? ''} ${args[4] ?? ''}`;
      const table = ns.nftTables.get(where);
      if (table === undefined || !table.sets.has(args[5] ?? '')) {
        return fail(`Error: No such file or directory\nlist ${args[2]} ${where} ${args[5] ?? ''}`);
      }
      const meta = { metainfo: { version: 'fake', json_schema_version: 1 } };
      return ok(`${JSON.stringify({ nftables: [meta, table.setJson(args[5] ?? '')] })}\n`);
    }
    if (args[0] === '-f' && args[1] === '-') {
      try {
        ns.nftTables = applyNftScript(ns.nftTables, command.input ?? '');
        return ok();
      } catch (err) {
        if (err instanceof FakeNftError) {
          return fail(err.message);
        }
        throw err;
      }
    }
    return fail(`fake nft: unsupported ${args.join(' ')}`);
  }

  #runSysctl(command: KernelCommand, ns: FakeNamespace): KernelCommandResult {
    const args = command.args.filter((a) => a !== '-q');
    if (args[0] === '-n' && args[1] !== undefined) {
      // `-e`: a key that does not exist prints nothing instead of failing the command.
      const ignoreUnknown = args[1] === '-e';
      const keys = args.slice(ignoreUnknown ? 2 : 1);
      let out = '';
      for (const key of keys) {
        const value = ns.sysctls.get(key);
        if (value !== undefined) {
          out += `${value}\n`;
        } else if (!ignoreUnknown) {
          return fail(`sysctl: cannot stat /proc/sys/${key.replaceAll('.', '/')}`);
        }
      }
      return ok(out);
    }
    if (args[0] === '-w') {
      for (const kv of args.slice(1)) {
        const eq = kv.indexOf('=');
        ns.sysctls.set(kv.slice(0, eq), kv.slice(eq + 1));
      }
      return ok();
    }
    return fail(`fake sysctl: unsupported ${command.args.join(' ')}`);
  }
}
