/**
 * Names and constants of every kernel object the IPsec stage owns (README.md in this folder).
 * Everything is recognisable without remembering anything: XFRM states by their reqid, XFRM
 * policies by their mark, the nft table by its name.
 */

/** nftables table (family inet, daemon namespace) enforcing encryption for encrypted VNIs. */
export const IPSEC_NFT_TABLE = 'vxmesh_ipsec';
/** Set of the VNIs of encrypted overlays on this node (`typeof @th,96,24`: the VXLAN VNI field). */
export const IPSEC_SET_VNIS = 'encrypted_vnis';
/** Plaintext VXLAN for an encrypted VNI, dropped on input. */
export const IPSEC_COUNTER_PLAINTEXT = 'plaintext_dropped';
/** VXLAN of an encrypted VNI about to leave without an IPsec transformation, dropped on output. */
export const IPSEC_COUNTER_UNPROTECTED = 'unprotected_dropped';
/** Chains: input enforcement, output marking (a route chain, so the mark reroutes through XFRM), output check. */
export const IPSEC_CHAIN_IN = 'enc_in';
export const IPSEC_CHAIN_MARK = 'enc_mark';
export const IPSEC_CHAIN_OUT = 'enc_out';

/**
 * The packet mark selecting outgoing VXLAN of encrypted VNIs for IPsec ("VXM1"). Only the
 * policies carrying it are ours; it is set on the outer packet after the VXLAN socket, whose
 * mark is always 0 (the encapsulation crosses namespaces, which scrubs the mark).
 */
export const IPSEC_MARK = 0x56584d31;
/** The reqid of every SA and policy template we install ("VXM1"): states with it are ours. */
export const IPSEC_REQID = 0x56584d31;
/** Priority of the per-peer ESP policies: they win over the block policy (lower wins). */
export const TUNNEL_POLICY_PRIORITY = 100;
/** Priority of the catch-all block policy: marked VXLAN to a peer without a tunnel is dropped. */
export const BLOCK_POLICY_PRIORITY = 1000;

/** The AEAD: AES-GCM with a 4-byte salt (RFC 4106), 128-bit key and 128-bit ICV. */
export const AEAD_ALGORITHM = 'rfc4106(gcm(aes))';
export const AEAD_KEY_BYTES = 16;
export const AEAD_SALT_BYTES = 4;
export const AEAD_ICV_BITS = 128;
/** Anti-replay window of every SA (packets); 0 would switch anti-replay off altogether. */
export const REPLAY_WINDOW = 128;

/** Name of the throw-away namespace of the capability probe. */
export function probeNamespaceName(namespacePrefix: string): string {
  return `${namespacePrefix}ipsec-probe`;
}
