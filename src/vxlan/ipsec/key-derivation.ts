/**
 * Per-tunnel ESP key material (docs/encryption.md). The managers distribute one cluster key per
 * tag; nodes never use it directly. For every direction of every node pair, key, salt and SPI
 * come from HKDF-SHA256 over the cluster key, with the tag, both node identities and addresses
 * and the sender's boot ID as context:
 * - no two tunnels (node pairs, directions) share a key, so two senders never count ESP sequence
 *   numbers under the same key (CVE-2024-28860);
 * - a rebooted sender (new boot ID), whose kernel lost its SAs and their sequence counters, gets
 *   a new key and SPI instead of restarting the old counter (GCM nonce reuse); an agent restart
 *   without reboot finds its SAs still in the kernel and keeps them (the driver never re-creates
 *   an SA it reads back unchanged).
 */
import { hkdfSync } from 'node:crypto';
import { canonicalIp } from '../ip-text.js';
import { AEAD_KEY_BYTES, AEAD_SALT_BYTES } from './ipsec-names.js';

/** HKDF salt: fixes the purpose and the version of this derivation. */
const HKDF_SALT = Buffer.from('vxmesh/ipsec/esp/v1', 'utf8');
/** SPIs 0-255 are reserved (RFC 4303 §2.1). */
const MIN_SPI = 0x100;

/** One end of a tunnel. */
export interface TunnelEnd {
  readonly nodeId: string;
  /** Data-path (VXLAN underlay) address. */
  readonly addr: string;
}

/** What a tunnel's key material is derived from. */
export interface TunnelKeyInput {
  /** The cluster key of `tag`. */
  readonly clusterKey: Uint8Array;
  readonly tag: number;
  /** The sender, with its kernel boot ID ('' when unknown). */
  readonly src: TunnelEnd & { readonly bootId: string };
  readonly dst: TunnelEnd;
}

/** Key material of one SA. */
export interface TunnelKey {
  /** AES-128 key. */
  readonly key: Buffer;
  /** RFC 4106 salt (the first 4 bytes of every GCM nonce). */
  readonly salt: Buffer;
  /** 0x100..0xffffffff. */
  readonly spi: number;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}

/**
 * Derives key, salt and SPI of the SA carrying `src` → `dst` traffic under key `tag`. Both ends
 * compute the same result; any different input (tag, direction, node, address, sender boot)
 * yields unrelated material.
 * @throws RangeError when the cluster key is shorter than 16 bytes.
 */
export function deriveTunnelKey(input: TunnelKeyInput): TunnelKey {
  if (input.clusterKey.length < 16) {
    throw new RangeError(`cluster key of tag ${input.tag} has ${input.clusterKey.length} bytes; at least 16 needed`);
  }
  const tag = Buffer.alloc(4);
  tag.writeUInt32BE(input.tag >>> 0);
  const info = Buffer.concat([
    Buffer.from('esp', 'utf8'),
    tag,
    lengthPrefixed(input.src.nodeId),
    lengthPrefixed(input.src.bootId),
    lengthPrefixed(canonicalIp(input.src.addr)),
    lengthPrefixed(input.dst.nodeId),
    lengthPrefixed(canonicalIp(input.dst.addr)),
  ]);
  const okm = Buffer.from(hkdfSync('sha256', input.clusterKey, HKDF_SALT, info, AEAD_KEY_BYTES + AEAD_SALT_BYTES + 4));
  const raw = okm.readUInt32BE(AEAD_KEY_BYTES + AEAD_SALT_BYTES);
  return {
    key: okm.subarray(0, AEAD_KEY_BYTES),
    salt: okm.subarray(AEAD_KEY_BYTES, AEAD_KEY_BYTES + AEAD_SALT_BYTES),
    spi: MIN_SPI + (raw % (0x1_0000_0000 - MIN_SPI)),
  };
}

/** Key and salt as `ip xfrm` takes and prints the AEAD key: `0x` + 40 hex digits. */
export function aeadKeyText(k: TunnelKey): string {
  return `0x${Buffer.concat([k.key, k.salt]).toString('hex')}`;
}

/** An SPI as `ip xfrm` prints it: `0x` + 8 hex digits. */
export function spiText(spi: number): string {
  return `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
}
