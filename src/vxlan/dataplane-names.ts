/**
 * Deterministic names of every kernel object the dataplane driver owns. Names are derived from
 * IDs (never random), so a restarted daemon finds the objects of its killed predecessor and can
 * tell what is stale (REFERENCE §11 "Cleanup": name kernel objects deterministically).
 */

/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
export const MAX_IFNAME_LENGTH = 15;

/** Infix between the daemon's namespace prefix and the network ID of an overlay namespace. */
export const OVERLAY_NAMESPACE_INFIX = 'o-';

/** How many characters of an ID go into a namespace or interface name (docker's short-ID length). */
export const SHORT_ID_LENGTH = 12;

/** nftables table (family inet) holding the VXLAN guard and the egress NAT, in the daemon's namespace. */
export const NFT_TABLE = 'vxmesh';
/** Set of member VTEP IPv4 addresses. */
export const NFT_SET_VTEPS4 = 'member_vteps4';
/** Set of member VTEP IPv6 addresses. */
export const NFT_SET_VTEPS6 = 'member_vteps6';
/** Named counter of VXLAN packets dropped because their source is not a member VTEP. */
export const NFT_COUNTER_DROPPED = 'vxlan_dropped';

/** `<prefix>o-<first 12 of the network ID>`: the overlay's own network namespace. */
export function overlayNamespaceName(namespacePrefix: string, networkId: string): string {
  return `${overlayNamespacePrefix(namespacePrefix)}${networkId.slice(0, SHORT_ID_LENGTH)}`;
}

/** Every overlay namespace of the daemon starts with this; anything else is never deleted. */
export function overlayNamespacePrefix(namespacePrefix: string): string {
  return `${namespacePrefix}${OVERLAY_NAMESPACE_INFIX}`;
}

/** Bridge of subnet `index` inside an overlay namespace. */
export function bridgeName(index: number): string {
  return `br${index}`;
}

/** VXLAN device of subnet `index` inside an overlay namespace. */
export function vxlanName(index: number): string {
  return `vxlan${index}`;
}

/** Bridge-side end (in the overlay namespace) of a local endpoint's veth pair. */
export function endpointVethName(endpointId: string): string {
  return `ve${endpointId.slice(0, SHORT_ID_LENGTH)}`;
}

/** Daemon-side end of a container's egress veth pair. */
export function egressVethName(containerId: string): string {
  return `gw${containerId.slice(0, SHORT_ID_LENGTH)}`;
}

/**
 * The interface alias (`ip link set … alias`) marking links the driver created in the daemon's
 * namespace. The daemon namespace is shared with everything else on the host, so only links with
 * this mark are ever considered stale and deleted there.
 */
export function ownerAlias(namespacePrefix: string): string {
  return `vxmesh:${namespacePrefix}`;
}

/** Whether `name` is acceptable to the kernel as an interface name. */
export function isValidIfName(name: string): boolean {
  return (
    name.length > 0 &&
    Buffer.byteLength(name) <= MAX_IFNAME_LENGTH &&
    name !== '.' &&
    name !== '..' &&
    /^[A-Za-z0-9_.-]+$/.test(name)
  );
}
