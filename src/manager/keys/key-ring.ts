/**
 * The IPsec key ring of encrypted overlays, as pure functions over the stored record (swarmkit's
 * proven shape, REFERENCE §4.1): three live keys, each a fresh 32 bytes from a CSPRNG, tagged
 * with a Lamport time that starts at a random point and grows by one per key. Nodes accept every
 * key of the ring and transmit with the second oldest, so a rotation (drop the oldest, append a
 * new one) gives every node a whole period to install the newest key for receiving before anyone
 * sends with it.
 */
import { randomBytes } from 'node:crypto';
import type { NetworkKey, NetworkKeyRing } from '../../gen/vxmesh/v1/network.js';

/** Keys in a ring. */
export const KEY_RING_SIZE = 3;
/** Bytes of a cluster key (nodes derive 16-byte AES keys from it per tunnel). */
export const CLUSTER_KEY_BYTES = 32;
/** Default rotation period: 12 hours, as swarm's. */
export const DEFAULT_KEY_ROTATION_MS = 12 * 60 * 60 * 1000;

/** Randomness of the ring: key bytes and the Lamport start (injected in tests). */
export interface KeyRandom {
  bytes(size: number): Buffer;
}

/** Node's CSPRNG. */
export const cryptoKeyRandom: KeyRandom = { bytes: (size) => randomBytes(size) };

function newKey(tag: number, now: number, random: KeyRandom): NetworkKey {
  return { tag: tag >>> 0, key: random.bytes(CLUSTER_KEY_BYTES), createdAt: BigInt(now) };
}

/** A new ring of {@link KEY_RING_SIZE} keys, tags starting at a random point below 65536. */
export function createKeyRing(now: number, random: KeyRandom = cryptoKeyRandom): NetworkKeyRing {
  const skew = Buffer.from(random.bytes(2)).readUInt16BE(0);
  const keys = Array.from({ length: KEY_RING_SIZE }, (_, i) => newKey(skew + i, now, random));
  return { keys, rotatedAt: BigInt(now), rotationRequestRevision: 0n };
}

/** The ring after one rotation: the oldest key dropped, a new one appended with the next tag. */
export function rotateKeyRing(
  ring: NetworkKeyRing,
  now: number,
  random: KeyRandom = cryptoKeyRandom,
  request = 0n,
): NetworkKeyRing {
  const sorted = [...ring.keys].sort((a, b) => a.tag - b.tag);
  const highest = sorted[sorted.length - 1]?.tag ?? Buffer.from(random.bytes(2)).readUInt16BE(0);
  const kept = sorted.slice(Math.max(0, sorted.length - (KEY_RING_SIZE - 1)));
  return {
    keys: [...kept, newKey(highest + 1, now, random)],
    rotatedAt: BigInt(now),
    rotationRequestRevision: request > ring.rotationRequestRevision ? request : ring.rotationRequestRevision,
  };
}

/**
 * Whether the ring is due for rotation at `now`: its period ran out, a rotation was requested
 * (`request`: the store revision of the newest request) after the one the ring last honoured,
 * or it has fewer than {@link KEY_RING_SIZE} keys.
 */
export function rotationDue(ring: NetworkKeyRing, now: number, intervalMs: number, request: bigint): boolean {
  return (
    ring.keys.length < KEY_RING_SIZE ||
    BigInt(now) - ring.rotatedAt >= BigInt(intervalMs) ||
    request > ring.rotationRequestRevision
  );
}
