/**
 * Diff of one interface the driver owns inside a container namespace (an overlay endpoint's ethN
 * or the egress interface): MTU, MAC, addresses, admin state and the routes through it.
 */
import type { LinkState, RouteState } from './kernel-state.js';

/** A route the interface must carry. */
export interface DesiredRoute {
  /** Canonical prefix or `default`. */
  readonly dst: string;
  /** Canonical next hop. */
  readonly gateway: string;
}

/** Desired state of an owned interface; all text canonical (see ip-text.ts). */
export interface OwnedInterfaceSpec {
  readonly name: string;
  readonly mtu: number;
  /** Absent: the MAC is not managed (the kernel's random one stays). */
  readonly mac?: string;
  /** `address/len` of every address the interface must have; other global ones are removed. */
  readonly addresses: readonly string[];
  readonly routes: readonly DesiredRoute[];
}

/** Route protocols that belong to the kernel (connected routes, router advertisements), never ours. */
const FOREIGN_ROUTE_PROTOCOLS: ReadonlySet<string> = new Set(['kernel', 'ra']);

/**
 * `ip -batch` lines that make the interface match `desired`.
 * `observed` undefined means the interface is being created in this pass (with its MTU and MAC
 * already set by the `link add`), so only addresses, up and routes are emitted.
 * Order: attributes, addresses, up, then routes (a route's next hop needs the link up and its
 * subnet's address in place).
 */
export function diffOwnedInterface(
  desired: OwnedInterfaceSpec,
  observed: LinkState | undefined,
  routes: readonly RouteState[],
): string[] {
  const lines: string[] = [];
  const dev = desired.name;
  const set: string[] = [];
  if (observed !== undefined) {
    if (desired.mac !== undefined && observed.mac !== desired.mac) {
      set.push(`address ${desired.mac}`);
    }
    if (observed.mtu !== desired.mtu) {
      set.push(`mtu ${desired.mtu}`);
    }
  }

  const have = new Set(
    (observed?.addresses ?? []).filter((a) => !(a.family === 6 && a.scope === 'link')).map((a) => a.cidr),
  );
  const want = new Set(desired.addresses);
  for (const cidr of have) {
    if (!want.has(cidr)) {
      lines.push(`addr del ${cidr} dev ${dev}`);
    }
  }
  if (set.length > 0) {
    lines.push(`link set dev ${dev} ${set.join(' ')}`);
  }
  for (const cidr of desired.addresses) {
    if (!have.has(cidr)) {
      // nodad: an IPv6 address stays "tentative" (unusable) for about a second otherwise; the
      // address is allocated by the managers, so duplicate detection has nothing to find.
      lines.push(`addr replace ${cidr} dev ${dev}${cidr.includes(':') ? ' nodad' : ''}`);
    }
  }
  if (observed === undefined || !observed.up) {
    lines.push(`link set dev ${dev} up`);
  }

  // Routes on a link being (re)created are gone with the old link, whatever the read said.
  const current = observed === undefined ? [] : routes;
  for (const r of current) {
    if (r.dev !== dev || FOREIGN_ROUTE_PROTOCOLS.has(r.protocol ?? '')) {
      continue;
    }
    // A route to a desired destination is overwritten by the `route replace` below instead.
    if (!desired.routes.some((d) => d.dst === r.dst && r.family === familyOfRoute(d))) {
      // `default` alone means the IPv4 default route to iproute2.
      const dst = r.family === 6 && r.dst === 'default' ? '::/0' : r.dst;
      lines.push(`route del ${dst} dev ${dev}${r.gateway === undefined ? '' : ` via ${r.gateway}`}`);
    }
  }
  for (const route of desired.routes) {
    const ok = current.some((r) => r.dst === route.dst && r.dev === dev && r.gateway === route.gateway);
    if (!ok) {
      lines.push(`route replace ${route.dst} via ${route.gateway} dev ${dev}`);
    }
  }
  return lines;
}

function familyOfRoute(route: DesiredRoute): 4 | 6 {
  return route.gateway.includes(':') ? 6 : 4;
}
