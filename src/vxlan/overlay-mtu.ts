/**
 * Overlay MTU: the caller computes `OverlaySpec.mtu` with these helpers (REFERENCE §3.3, §11).
 * Docker hard-codes a 1500 base and breaks on smaller underlays (moby/libnetwork#2661); we start
 * from the MTU of the interface that actually holds the data-path address.
 *
 * Where path-MTU probing plugs in: an underlay interface MTU says nothing about a smaller hop on
 * the way to a peer (a VPN, a cloud's 1460 path). A {@link PathMtuProbe} (raw-socket ICMP echo
 * with DF set, bisecting the size; ICMP "fragmentation needed" gives the answer directly) measures
 * the path MTU per member VTEP; the worker passes the results as `pathMtus` to
 * {@link chooseOverlayMtu}, which takes the smallest. Probing is the worker's job, not the
 * driver's: it runs per peer, when membership changes, and its result is part of the spec.
 */
import { DAEMON_SCOPE } from './command-runner.js';
import type { CommandRunner } from './command-runner.js';
import { canonicalIp } from './ip-text.js';
import { parseLinks } from './kernel-json.js';

/** VXLAN encapsulation: outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

/** Smallest MTU Linux accepts for IPv4. */
const MIN_MTU = 68;

/** Measures the path MTU (of the underlay, outer packets) towards one peer. */
export interface PathMtuProbe {
  /**
   * The largest IPv4 packet that reaches `peer` unfragmented, or undefined when the peer does not
   * answer (then the interface MTU is used).
   */
  probe(peer: string, options?: { readonly signal?: AbortSignal }): Promise<number | undefined>;
}

/** Inputs of {@link chooseOverlayMtu}. */
export interface OverlayMtuInputs {
  /** `com.docker.network.driver.mtu` of the network, taken as the overlay MTU itself when set. */
  readonly optionMtu?: number;
  /** MTU of the interface holding the data-path address ({@link underlayMtuOf}). */
  readonly underlayMtu: number;
  /** Path MTUs measured towards peers, if any. */
  readonly pathMtus?: readonly number[];
}

/**
 * The overlay MTU: the network's MTU option when given (as the issue defines it; note docker
 * subtracts the overhead from the option too), else the smallest of the underlay interface MTU
 * and the measured path MTUs, minus {@link VXLAN_OVERHEAD}. Never below 68.
 */
export function chooseOverlayMtu(inputs: OverlayMtuInputs): number {
  if (inputs.optionMtu !== undefined) {
    return Math.max(MIN_MTU, inputs.optionMtu);
  }
  const base = Math.min(inputs.underlayMtu, ...(inputs.pathMtus ?? []));
  return Math.max(MIN_MTU, base - VXLAN_OVERHEAD);
}

/**
 * MTU of the interface in the daemon namespace that holds `dataPathAddr`, or undefined when no
 * interface has it.
 * @throws Error when `ip` fails.
 */
export async function underlayMtuOf(
  runner: CommandRunner,
  dataPathAddr: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<number | undefined> {
  const result = await runner.run(
    { tool: 'ip', scope: DAEMON_SCOPE, args: ['-j', 'addr', 'show'] },
    options.signal === undefined ? {} : { signal: options.signal },
  );
  if (result.exitCode !== 0) {
    throw new Error(`ip addr show: ${result.stderr.trim()}`);
  }
  const wanted = canonicalIp(dataPathAddr);
  for (const link of parseLinks(JSON.parse(result.stdout)).values()) {
    if (link.addresses.some((a) => a.cidr.slice(0, a.cidr.lastIndexOf('/')) === wanted)) {
      return link.mtu;
    }
  }
  return undefined;
}
