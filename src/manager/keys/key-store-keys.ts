/**
 * Store keys of the IPsec key ring (beside src/manager/store/store-keys.ts, same layout rules).
 * The ring lives under its own prefix so the dispatcher's view can watch it alone; rotation
 * requests live apart, so any manager can ask while only the leader writes the ring.
 */
export const keyStoreKeys = {
  /** Prefix the cluster view watches; holds only the ring. */
  networkKeysPrefix: 'v1/network-keys/',
  /** The ring (protobuf `NetworkKeyRing`). Only the leader writes it. */
  networkKeyRing: 'v1/network-keys/ring',
  /** A rotation request: the Unix time in milliseconds it was made, as decimal text. */
  networkKeyRotation: 'v1/network-key-rotation',
} as const;
