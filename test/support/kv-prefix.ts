import { randomBytes } from 'node:crypto';

/**
 * A key prefix no other test uses, e.g. `/test/store-3f9a1c0b2e7d/`, so tests sharing one etcd
 * never see each other's keys. `label` (letters, digits, dashes) only helps when reading etcd.
 */
export function kvPrefix(label = 'kv'): string {
  return `/test/${label}-${randomBytes(6).toString('hex')}/`;
}
