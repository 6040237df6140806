import { createHash } from 'node:crypto';

/**
 * The ID of a CNI attachment: the CNI spec identifies one by container ID and interface name
 * (within a network config), so the same pair always maps to the same ID. It is also the
 * endpoint's owner ID at the managers, which lets a DEL find an endpoint whose record a crash
 * lost. Lower-case hex, safe as a file name.
 */
export function cniAttachmentId(containerId: string, ifName: string): string {
  return `cni-${createHash('sha256').update(`${containerId}\n${ifName}`).digest('hex').slice(0, 40)}`;
}

/** The ID of a Docker endpoint's attachment (Docker endpoint IDs are 64 hex characters). */
export function dockerAttachmentId(endpointId: string): string {
  return `docker-${createHash('sha256').update(endpointId).digest('hex').slice(0, 40)}`;
}

/** Prefix of the bind mounts under /run/netns for namespaces outside it (the inode follows). */
export function boundNamespacePrefix(namespacePrefix: string): string {
  return `${namespacePrefix}x-`;
}

/**
 * The ID the embedded DNS and the dataplane know a namespace by: every attachment in one
 * namespace shares one resolver, like the networks of one container.
 */
export function namespaceGroupId(namespace: string): string {
  return createHash('sha256').update(`external\n${namespace}`).digest('hex');
}
