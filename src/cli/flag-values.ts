import { isIP } from 'node:net';
import { InvalidArgumentError as FlagValueError } from 'commander';
import { parseGoDuration } from './go-duration.js';
import { capitalize } from './node-text.js';

// Per-value flag parsers for commander's `argParser`. Each throws commander's
// InvalidArgumentError with a reason; commander prefixes the flag and the value, so the user sees
// e.g. "Error: option '--data-path-port <port>' argument '80' is invalid. Must be an integer from 1024 to 49151.".
// They validate only what is cheap and certain; the daemon validates everything again.

/** Lowest and highest VXLAN port docker accepts for `--data-path-port`. */
export const DATA_PATH_PORT_RANGE = [1024, 49151] as const;
/** Subnet sizes accepted for `--default-addr-pool-mask-length`. */
export const POOL_MASK_LENGTH_RANGE = [8, 29] as const;
/** Docker's floor for `--cert-expiry`: shorter certificates would be renewed continuously. */
export const MIN_CERT_EXPIRY_MS = 3_600_000;

function integerIn(value: string, [min, max]: readonly [number, number]): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new FlagValueError(`Must be an integer from ${min} to ${max}.`);
  }
  return n;
}

/** `--data-path-port`: a UDP port in docker's allowed range. */
export function parseDataPathPort(value: string): number {
  return integerIn(value, DATA_PATH_PORT_RANGE);
}

/** `--default-addr-pool-mask-length`. */
export function parsePoolMaskLength(value: string): number {
  return integerIn(value, POOL_MASK_LENGTH_RANGE);
}

/** The prefix length of a CIDR already accepted by {@link parseCidrList}. */
export function cidrPrefixLength(cidr: string): number {
  return Number(cidr.slice(cidr.indexOf('/') + 1));
}

/**
 * `--default-addr-pool`: repeatable, and like docker's flag each value may also be a
 * comma-separated list. Accumulates into `previous`.
 */
export function parseCidrList(value: string, previous: readonly string[] | undefined): string[] {
  const cidrs = value.split(',').map((s) => s.trim());
  for (const cidr of cidrs) {
    const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr);
    const family = match ? isIP(match[1] ?? '') : 0;
    const prefix = Number(match?.[2]);
    if (family === 0 || prefix > (family === 4 ? 32 : 128)) {
      throw new FlagValueError(`"${cidr}" is not a CIDR such as 10.20.0.0/16.`);
    }
  }
  return [...(previous ?? []), ...cidrs];
}

interface HostPort {
  readonly host: string;
  readonly port: string | undefined;
}

function splitHostPort(value: string): HostPort {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
  if (bracketed) {
    if (isIP(bracketed[1] ?? '') !== 6) {
      throw new FlagValueError('Only IPv6 addresses may be written in brackets.');
    }
    return { host: bracketed[1] ?? '', port: bracketed[2] };
  }
  const colons = value.split(':').length - 1;
  if (colons === 1) {
    const at = value.indexOf(':');
    return { host: value.slice(0, at), port: value.slice(at + 1) };
  }
  if (colons > 1 && isIP(value) !== 6) {
    throw new FlagValueError('Not an address; write an IPv6 address with a port as [addr]:port.');
  }
  return { host: value, port: undefined };
}

function checkHost(host: string): void {
  // An IP, a hostname or an interface name (docker allows "eth0" for the advertise address).
  if (host === '' || /[\s/]/.test(host)) {
    throw new FlagValueError('Expected an IP address, hostname or interface name.');
  }
}

/** `--advertise-addr`, `--listen-addr` and the manager address of `swarm join`: "addr[:port]". */
export function parseHostPort(value: string): string {
  const { host, port } = splitHostPort(value);
  checkHost(host);
  if (port !== undefined) {
    integerIn(port, [1, 65535]);
  }
  return value;
}

/** `--data-path-addr`: an address or interface name without a port (the VXLAN port is cluster-wide). */
export function parseAddressWithoutPort(value: string): string {
  const { host, port } = splitHostPort(value);
  if (port !== undefined) {
    throw new FlagValueError('Must not include a port (the VXLAN port is set by --data-path-port at init).');
  }
  checkHost(host);
  return value;
}

/** `--etcd-endpoints`: comma-separated http(s) URLs, repeatable. Accumulates into `previous`. */
export function parseEtcdEndpoints(value: string, previous: readonly string[] | undefined): string[] {
  const urls = value.split(',').map((s) => s.trim());
  for (const url of urls) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || !parsed.hostname) {
      throw new FlagValueError(`"${url}" is not an etcd URL such as https://10.0.0.5:2379.`);
    }
  }
  return [...(previous ?? []), ...urls];
}

/** `--cert-expiry`: a Go duration ("2160h", "720h30m") of at least an hour, in milliseconds. */
export function parseCertExpiry(value: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(value);
  } catch (err) {
    throw new FlagValueError(`${capitalize((err as Error).message)}; expected a duration such as 2160h.`);
  }
  if (ms < MIN_CERT_EXPIRY_MS) {
    throw new FlagValueError('Must be at least 1h.');
  }
  return Math.round(ms);
}
