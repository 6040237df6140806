/**
 * The kernel's boot ID: a random UUID the kernel picks at every boot. IPsec SAs and their
 * sequence counters live exactly as long as the kernel, so the boot ID is what makes a node's
 * outgoing key material new after a reboot (key-derivation.ts).
 */
import { readFileSync } from 'node:fs';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** The boot ID, or '' when the kernel does not expose one. */
export function readBootId(path = BOOT_ID_PATH): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}
