/**
 * MTU of an encrypted overlay. ESP in transport mode with rfc4106(gcm(aes)) and a 16-byte ICV
 * adds, around the VXLAN UDP datagram: ESP header 8 (SPI, sequence) + IV 8 + pad (to 4 bytes)
 * + pad length 1 + next header 1 + ICV 16. The outer packet of an inner packet of size M is
 * 20 (IPv4) + 16 + pad4(M + 14 + 8 + 8 + 2) + 16, so with an underlay of U (a multiple of 4) the
 * largest M is pad4-down(U − 52) − 32: 1416 for U = 1500, 34 bytes below the plain 1450.
 * (Docker's 1424 is for an 8-byte ICV.) IPv6 underlays add 20 more, like plain VXLAN does.
 */

/** ESP header, IV and ICV: the fixed part of the expansion. */
const ESP_FIXED = 8 + 8 + 16;
/** Pad length and next header: the trailer, before padding. */
const ESP_TRAILER = 2;
const MIN_MTU = 68;

/**
 * The overlay MTU of an encrypted overlay whose plain overlay MTU (underlay MTU − 50) is
 * `plainMtu`.
 */
export function encryptedOverlayMtu(plainMtu: number): number {
  // Outer packet = (plain outer = plainMtu + 50) + ESP_FIXED + trailer + pad; solve for the
  // largest inner size whose padded ESP payload (UDP 8 + VXLAN 8 + Ethernet 14 + M + 2) fits.
  const underlay = plainMtu + 50;
  const room = Math.floor((underlay - 20 - ESP_FIXED) / 4) * 4;
  return Math.max(MIN_MTU, room - ESP_TRAILER - 30);
}
