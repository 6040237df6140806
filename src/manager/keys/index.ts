export { KeyManager, readKeyRing, requestKeyRotation } from './key-manager.js';
export type { KeyCheckResult, KeyManagerOptions } from './key-manager.js';
export {
  CLUSTER_KEY_BYTES,
  DEFAULT_KEY_ROTATION_MS,
  KEY_RING_SIZE,
  createKeyRing,
  rotateKeyRing,
  rotationDue,
} from './key-ring.js';
export type { KeyRandom } from './key-ring.js';
export { keyStoreKeys } from './key-store-keys.js';
