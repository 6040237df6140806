/**
 * The IPsec section of a node's dataplane spec (`NodeDataplaneSpec.encryption`), plain data like
 * the rest of the spec. Which overlays are encrypted is said by `OverlaySpec.encrypted`; this
 * section says who this node is, which keys it holds and whom it exchanges encrypted VXLAN with.
 */

/** One key of the cluster's ring, as distributed by the managers. */
export interface EncryptionKeySpec {
  /** Lamport tag: orders keys, and is part of every derivation. */
  readonly tag: number;
  /** The cluster key, hex. */
  readonly key: string;
}

/** A node this node exchanges encrypted VXLAN with. */
export interface EncryptionPeerSpec {
  readonly nodeId: string;
  /** The peer's kernel boot ID as the managers know it ('' when unknown). */
  readonly bootId: string;
  /** The peer's data-path address (its VTEP). */
  readonly addr: string;
}

/**
 * Present: the driver owns the IPsec state of this node (XFRM states with our reqid, policies
 * with our mark, the `inet vxmesh_ipsec` table) and removes whatever the section no longer asks
 * for. Absent: the kernel cannot enforce encryption (or the caller does not want it); the driver
 * then neither reads nor touches IPsec state and builds no encrypted overlay at all.
 */
export interface EncryptionSpec {
  /** This node's ID and kernel boot ID: its outgoing keys are derived with them. */
  readonly nodeId: string;
  readonly bootId: string;
  /**
   * The key ring, any order; empty while none arrived. Every key is accepted from every peer;
   * the node transmits with the second oldest ({@link transmitKeyTag}).
   */
  readonly keys: readonly EncryptionKeySpec[];
  /** Every node with an endpoint on one of this node's encrypted overlays. */
  readonly peers: readonly EncryptionPeerSpec[];
}

/**
 * The tag of the key nodes transmit with: the second oldest of the ring (the oldest when there
 * is one key). The newest key is therefore installed for receiving on every node a whole
 * rotation period before anyone sends with it, and the previous one stays receivable after the
 * switch (swarmkit's scheme, REFERENCE §4.1). Undefined for an empty ring.
 */
export function transmitKeyTag(keys: readonly { readonly tag: number }[]): number | undefined {
  const tags = [...new Set(keys.map((k) => k.tag))].sort((a, b) => a - b);
  return tags.length > 1 ? tags[1] : tags[0];
}
