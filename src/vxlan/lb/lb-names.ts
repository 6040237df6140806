/**
 * Names and constants of the load-balancing nftables layout (see README.md). Everything the
 * driver owns is found again by these names after a restart.
 */

/** Family of both tables: the routing mesh is IPv4 only. */
export const LB_FAMILY = 'ip';

/** Table in every load-balancing namespace (containers, ingress sandbox). */
export const LB_TABLE = 'vxmesh_lb';

/** Table of the daemon's namespace: published ports. Separate from `inet vxmesh` (guard, egress). */
export const PUBLISH_TABLE = 'vxmesh_publish';

/**
 * Hash slots per frontend. A frontend's backends fill the slots round-robin, so the spread is even
 * only when the backend count divides 12 (5 backends get 3/3/2/2/2 slots). Kept small on
 * purpose: measured on nft 1.0.6, 10,000 frontends x 12 slots load in 1.1 s, while 60 slots cost
 * 6 s and 1.4 GB of nft memory. Changing it rewrites every table (the rule's comment names it).
 */
export const LB_SLOTS = 12;

/**
 * Seed of the jhash over (client address, client port). Fixed, so a table created again (daemon
 * restart, repair) maps every client to the same slot as before: without a seed the kernel picks
 * a random one per rule.
 */
export const LB_JHASH_SEED = 0x766d7368;

/** Set holding the stamp of the driver's last write (see lb-cache.ts). */
export const STAMP_SET = 'stamp';
/** Set of frontends: `addr . proto . port`. */
export const FRONTENDS_SET = 'frontends';
/** Map `addr . proto . port . slot` → `backend addr . backend port`. */
export const BACKENDS_MAP = 'backends';
/** Map (publish table) `proto . port` → `target addr . target port`. */
export const PORTS_MAP = 'ports';

/** Infix of the ingress sandbox namespace after the daemon's namespace prefix. */
export const INGRESS_SANDBOX_INFIX = 'ingress-sbox';

/** `<prefix>ingress-sbox`: the ingress sandbox namespace of the daemon with that prefix. */
export function ingressSandboxName(namespacePrefix: string): string {
  return `${namespacePrefix}${INGRESS_SANDBOX_INFIX}`;
}

/**
 * Container id standing for the ingress sandbox in the egress attachments: names its bridge port
 * `gwingress-sbox`. Container ids are hex, so it never collides with a container's.
 */
export const INGRESS_SANDBOX_CONTAINER_ID = 'ingress-sbox';

/** Interface of the sandbox on the ingress overlay. */
export const INGRESS_SANDBOX_OVERLAY_IF = 'eth0';
/** Interface of the sandbox on the egress bridge. */
export const INGRESS_SANDBOX_EGRESS_IF = 'eth1';

/** `net.ipv4.conf.<ifname>.route_localnet`: lets 127.0.0.0/8 sources be routed out of `ifname`. */
export function routeLocalnetSysctl(ifName: string): string {
  return `net.ipv4.conf.${ifName}.route_localnet`;
}
