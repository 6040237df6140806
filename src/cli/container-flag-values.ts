import { isIP } from 'node:net';
import { InvalidArgumentError as FlagValueError } from 'commander';

// Per-value parsers for the container flags of `run` and `network connect`, for commander's
// `argParser`. Each throws commander's InvalidArgumentError with a reason; commander prefixes the
// flag and the value ("Error: option '--ip <IP>' argument 'x' is invalid. ..."). Only syntax is
// checked here; whether an address lies in the network's subnet is for the managers.

/** docker's rule for container names (daemon/names.go), which the daemon enforces too. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Highest `stop -t`: the request carries a uint32. */
const MAX_STOP_TIMEOUT_S = 4_294_967_295;

/** `--name`: docker's container name syntax. */
export function parseContainerName(value: string): string {
  if (!CONTAINER_NAME.test(value)) {
    throw new FlagValueError('Only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, starting with a letter or digit.');
  }
  return value;
}

/** `--ip`: one IPv4 address, without prefix length. */
export function parseIpv4Flag(value: string): string {
  if (isIP(value) !== 4) {
    throw new FlagValueError('Not an IPv4 address such as 10.0.1.10.');
  }
  return value;
}

/** `--ip6`: one IPv6 address, without prefix length or zone. */
export function parseIpv6Flag(value: string): string {
  if (isIP(value) !== 6 || value.includes('%')) {
    throw new FlagValueError('Not an IPv6 address such as fd00:1::10.');
  }
  return value;
}

/** `--dns`: an IPv4 or IPv6 address; repeatable. Accumulates into `previous`. */
export function parseDnsFlag(value: string, previous: readonly string[] | undefined): string[] {
  if (isIP(value) === 0 || value.includes('%')) {
    throw new FlagValueError('Not an IP address such as 10.0.0.2.');
  }
  return [...(previous ?? []), value];
}

/** docker's domainRegexp: dot-separated labels of letters, digits and inner hyphens, optional final dot. */
const SEARCH_DOMAIN =
  /^((?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*)\.?$/;

/**
 * `--dns-search`: a search domain for the container's resolv.conf, checked as docker's
 * ValidateDNSSearch does (labels, at least one letter, under 255 characters, a final "." dropped;
 * "." alone means "no search domains"); repeatable. Accumulates into `previous`.
 */
export function parseDnsSearchFlag(value: string, previous: readonly string[] | undefined): string[] {
  const trimmed = value.trim();
  if (trimmed === '.') {
    return [...(previous ?? []), trimmed];
  }
  const domain = SEARCH_DOMAIN.exec(trimmed)?.[1];
  if (domain === undefined || domain.length >= 255 || !/[a-zA-Z]/.test(domain)) {
    throw new FlagValueError('Expected a DNS domain such as example.com (or "." for none).');
  }
  return [...(previous ?? []), domain];
}

/**
 * `--dns-option`: one resolv.conf option such as ndots:2 or edns0; repeatable. Only its shape is
 * checked (one word): the resolver library ignores options it does not know, as with docker.
 * Accumulates into `previous`.
 */
export function parseDnsOptionFlag(value: string, previous: readonly string[] | undefined): string[] {
  if (value === '' || /\s/.test(value)) {
    throw new FlagValueError('Expected one resolv.conf option without spaces, such as ndots:2.');
  }
  return [...(previous ?? []), value];
}

/** `--network`: a network name, ID or ID prefix; repeatable. Accumulates into `previous`. */
export function parseNetworkFlag(value: string, previous: readonly string[] | undefined): string[] {
  if (value.trim() === '') {
    throw new FlagValueError('Expected a network name or ID.');
  }
  return [...(previous ?? []), value];
}

/** `--network-alias` / `--alias`: a DNS name; repeatable. Accumulates into `previous`. */
export function parseAliasFlag(value: string, previous: readonly string[] | undefined): string[] {
  if (value === '' || /\s/.test(value)) {
    throw new FlagValueError('Expected a name without spaces, such as db.');
  }
  return [...(previous ?? []), value];
}

/**
 * `--link NAME:ALIAS` or `--link NAME` (the alias is then the name), as docker's ParseLink reads
 * it; a leading "/" on the name is dropped as docker drops it. The value is kept as "NAME:ALIAS",
 * the form the daemon records. Accumulates into `previous`.
 */
export function parseLinkFlag(value: string, previous: readonly string[] | undefined): string[] {
  const parts = value.split(':');
  const name = (parts[0] ?? '').replace(/^\//, '');
  const alias = parts.length === 1 ? name : (parts[1] ?? '');
  if (parts.length > 2 || !CONTAINER_NAME.test(name) || alias === '' || /\s/.test(alias)) {
    throw new FlagValueError('Expected NAME:ALIAS or NAME, such as db:database.');
  }
  return [...(previous ?? []), `${name}:${alias}`];
}

/**
 * `stop -t`: whole seconds from 1. The daemon reads 0 as "its default" (10 s), so docker's
 * `-t 0` (kill at once) and negative values (wait forever) cannot be sent and are refused.
 */
export function parseStopTimeout(value: string): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_STOP_TIMEOUT_S) {
    throw new FlagValueError(`Must be a whole number of seconds from 1 to ${MAX_STOP_TIMEOUT_S}.`);
  }
  return n;
}
