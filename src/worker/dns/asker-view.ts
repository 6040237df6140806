import type { DnsContainer, DnsNetwork } from './dns-state.js';
import { selectUpstreams } from './upstream-servers.js';

/** One network of the asking container, as name resolution needs it. */
export interface AskerNetwork {
  readonly networkId: string;
  /** Lowercased network name (`<name>.<network>` suffix). */
  readonly name: string;
  /** The container's links on this network: lowercased alias → lowercased target container name. */
  readonly links: ReadonlyMap<string, string>;
}

/**
 * What one container may see: its networks in interface order (the first network with a match
 * answers) and where its other queries go.
 */
export interface AskerView {
  readonly networks: readonly AskerNetwork[];
  /** Upstream servers; empty with `forwarding` true means every forward fails (SERVFAIL). */
  readonly upstreams: readonly string[];
  /** False when every network of the container is internal (or it has none): no forwarding at all. */
  readonly forwarding: boolean;
}

/** The view of a container that is on no network: nothing resolves, nothing is forwarded. */
export const ISOLATED_VIEW: AskerView = { networks: [], upstreams: [], forwarding: false };

/**
 * Builds a container's view. Links are `NAME:ALIAS` (or `NAME`, alias = name); a malformed link is
 * ignored. A network missing from `networks` counts as not internal (as the runtime's egress rule
 * does). Pure.
 */
export function buildAskerView(
  container: DnsContainer,
  networks: ReadonlyMap<string, DnsNetwork>,
  hostServers: readonly string[],
): AskerView {
  const out: AskerNetwork[] = [];
  for (const n of container.networks) {
    const links = new Map<string, string>();
    for (const link of n.links) {
      const [target = '', alias = target] = link.split(':');
      if (target !== '' && alias !== '') {
        links.set(alias.toLowerCase(), target.toLowerCase());
      }
    }
    const name = (networks.get(n.networkId)?.name ?? n.networkName).toLowerCase();
    out.push({ networkId: n.networkId, name, links });
  }
  const forwarding = container.networks.some((n) => networks.get(n.networkId)?.internal !== true);
  return {
    networks: out,
    upstreams: forwarding ? selectUpstreams(container.dns, hostServers) : [],
    forwarding,
  };
}
