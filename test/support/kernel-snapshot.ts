import { runCommand } from '../../src/common/run-command.js';

interface JsonLink {
  readonly ifname?: string;
  readonly mtu?: number;
  readonly master?: string;
  readonly address?: string;
  readonly ifalias?: string;
  readonly operstate?: string;
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_data?: { readonly id?: number; readonly port?: number };
  };
}
interface JsonAddr {
  readonly ifname?: string;
  readonly addr_info?: readonly { readonly local?: string; readonly prefixlen?: number; readonly scope?: string }[];
}
interface JsonFdb {
  readonly mac?: string;
  readonly ifname?: string;
  readonly dst?: string;
  readonly state?: string;
  readonly flags?: readonly string[];
}
interface JsonNeigh {
  readonly dst?: string;
  readonly dev?: string;
  readonly lladdr?: string;
  readonly state?: readonly string[];
}

async function json<T>(args: string[]): Promise<T[]> {
  const { stdout } = await runCommand(args[0] ?? 'ip', args.slice(1));
  return stdout.trim() === '' ? [] : (JSON.parse(stdout) as T[]);
}

/**
 * What vxmesh programmed in the namespaces whose names start with `prefix` (overlays and
 * containers of one daemon) plus the daemon's own namespace: links with their kind, MTU, master
 * and VNI (MACs only where vxmesh sets them: overlay interfaces in containers, 02:42 + the IPv4
 * address; the egress interface keeps a kernel-chosen MAC); addresses; static FDB and permanent neighbour entries; the nftables table. Kernel-chosen
 * values (ifindex, counters, link-local addresses) are left out, so two states built the same
 * way compare equal. One sorted line per fact.
 */
export async function kernelSnapshot(prefix: string, daemonNetns: string): Promise<string[]> {
  const { stdout } = await runCommand('ip', ['netns', 'list']);
  const namespaces = stdout
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(prefix))
    .sort();
  const lines: string[] = [];
  for (const ns of [daemonNetns, ...namespaces]) {
    const label = ns === daemonNetns ? 'daemon' : ns.slice(prefix.length);
    for (const l of await json<JsonLink>(['ip', '-n', ns, '-j', '-d', 'link', 'show'])) {
      const kind = l.linkinfo?.info_kind ?? '';
      if (ns === daemonNetns && kind !== 'bridge' && !(l.ifalias ?? '').startsWith('vxmesh')) {
        continue;
      }
      const vni = l.linkinfo?.info_data?.id;
      lines.push(
        `${label} link ${l.ifname} ${kind} mtu=${l.mtu} master=${l.master ?? '-'} mac=${kind === 'veth' && label.startsWith('c-') && (l.address ?? '').startsWith('02:42:') ? l.address : ''} vni=${vni ?? '-'}`,
      );
    }
    for (const a of await json<JsonAddr>(['ip', '-n', ns, '-j', 'addr', 'show'])) {
      for (const info of a.addr_info ?? []) {
        if (info.scope !== 'link' && info.scope !== 'host') {
          lines.push(`${label} addr ${a.ifname} ${info.local}/${info.prefixlen}`);
        }
      }
    }
    if (ns === daemonNetns) {
      continue;
    }
    for (const f of await json<JsonFdb>(['bridge', '-n', ns, '-j', 'fdb', 'show'])) {
      if (f.dst) {
        lines.push(`${label} fdb ${f.mac} ${f.ifname} dst=${f.dst} ${f.state ?? ''}`);
      }
    }
    for (const n of await json<JsonNeigh>(['ip', '-n', ns, '-j', 'neigh', 'show'])) {
      if (n.state?.includes('PERMANENT')) {
        lines.push(`${label} neigh ${n.dst} ${n.lladdr} ${n.dev}`);
      }
    }
  }
  const nft = await runCommand('ip', ['netns', 'exec', daemonNetns, 'nft', 'list', 'table', 'inet', 'vxmesh']).catch(
    () => ({
      stdout: '',
    }),
  );
  for (const line of nft.stdout.split('\n')) {
    // Counters move with traffic; the rules and set members are what must match.
    const text = line.replace(/counter packets \d+ bytes \d+/, 'counter').trim();
    if (text) {
      lines.push(`daemon nft ${text}`);
    }
  }
  return lines.sort();
}
