import type { CommandScope } from './command-runner.js';
import type { LinkState, NamespaceState } from './kernel-state.js';

/** An interface name in a container namespace. */
export interface InterfaceRef {
  readonly namespace: string;
  readonly name: string;
}

/**
 * A link the pass deletes. Whether it goes to the `teardown` stage or to the start of its
 * namespace's own batch is decided once every creation of the pass is known (see
 * dataplane-diff.ts): only deletions that a creation depends on are hoisted.
 */
export interface LinkDeletion {
  readonly scope: CommandScope;
  readonly name: string;
  /** Always hoisted to `teardown` (a VXLAN device: its VNI may be taken again in this pass). */
  readonly hoist: boolean;
  /** The container-side interface that disappears with it (its veth peer), when known. */
  readonly frees: InterfaceRef | undefined;
}

/** Key of an {@link InterfaceRef} for sets and maps. */
export function interfaceKey(ref: InterfaceRef): string {
  return `${ref.namespace}\0${ref.name}`;
}

/**
 * Whether `link` (a veth in a namespace whose state is `host`) has `peer` in namespace `peerNs`
 * as its other end. The peer's ifindex alone is ambiguous (ifindexes are per namespace); the
 * namespace id from IFLA_LINK_NETNSID, resolved through `ip netns list` in the same namespace,
 * makes it exact.
 */
export function isVethPeer(
  link: LinkState | undefined,
  host: NamespaceState,
  peerNs: string,
  peer: LinkState | undefined,
): boolean {
  return (
    link !== undefined &&
    peer !== undefined &&
    link.kind === 'veth' &&
    peer.kind === 'veth' &&
    link.linkNetnsId !== undefined &&
    link.linkNetnsId === host.netnsIds.get(peerNs) &&
    link.linkIndex === peer.ifindex &&
    peer.linkIndex === link.ifindex
  );
}

/**
 * The container-side interface that disappears when veth `link` (in a namespace whose state is
 * `host`) is deleted, if its peer sits in one of the read `containers`.
 */
export function vethPeerOf(
  link: LinkState,
  host: NamespaceState,
  containers: ReadonlyMap<string, NamespaceState>,
): InterfaceRef | undefined {
  if (link.kind !== 'veth' || link.linkNetnsId === undefined) {
    return undefined;
  }
  for (const [name, id] of host.netnsIds) {
    if (id !== link.linkNetnsId) {
      continue;
    }
    const state = containers.get(name);
    if (state === undefined) {
      return undefined;
    }
    for (const peer of state.links.values()) {
      if (peer.ifindex === link.linkIndex) {
        return { namespace: name, name: peer.name };
      }
    }
    return undefined;
  }
  return undefined;
}
