import { networkInterfaces } from 'node:os';
import { InvalidArgumentError } from '../common/errors.js';

/**
 * The one non-loopback IPv4 address of this host, as docker picks for --advertise-addr. With
 * none or several, the operator must choose, and the error says so.
 */
export function soleHostAddress(): string {
  const addrs = Object.values(networkInterfaces())
    .flatMap((list) => list ?? [])
    .filter((a) => a.family === 'IPv4' && !a.internal)
    .map((a) => a.address);
  const unique = [...new Set(addrs)];
  if (unique.length === 1 && unique[0]) {
    return unique[0];
  }
  throw new InvalidArgumentError(
    'advertise-addr',
    unique.length === 0
      ? 'this host has no non-loopback IPv4 address; specify one with --advertise-addr'
      : `could not choose an IP address to advertise since this system has multiple addresses (${unique.join(', ')}); specify one with --advertise-addr`,
  );
}
