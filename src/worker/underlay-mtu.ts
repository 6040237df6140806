import { runCommand } from '../common/run-command.js';

interface AddrInfo {
  readonly ifname?: string;
  readonly mtu?: number;
  readonly addr_info?: readonly { readonly local?: string }[];
}

/** Used when the data-path address is on no interface here (e.g. behind NAT). */
export const FALLBACK_UNDERLAY_MTU = 1500;

/** MTU of the interface that holds `address` in this namespace. */
export async function underlayMtu(address: string): Promise<number> {
  const { stdout } = await runCommand('ip', ['-j', 'addr', 'show']);
  const links = JSON.parse(stdout) as AddrInfo[];
  const link = links.find((l) => l.addr_info?.some((a) => a.local === address));
  return link?.mtu ?? FALLBACK_UNDERLAY_MTU;
}
