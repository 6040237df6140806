import { isIP } from 'node:net';
import { InvalidArgumentError } from '../errors.js';

/** An address the cluster dials or listens on. `host` is an IP literal or a DNS name. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME =
  /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

/** Parses a TCP/UDP port number; `field` names the flag in the error. */
export function parsePort(value: string | number, field: string, min = 1, max = 65535): number {
  const port = typeof value === 'number' ? value : /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(port) || port < min || port > max) {
    throw new InvalidArgumentError(field, `port ${String(value)} is not a number from ${min} to ${max}`);
  }
  return port;
}

/**
 * Parses `host[:port]`, `[v6]:port` or a bare IPv6 literal, as docker's address flags accept.
 * @throws InvalidArgumentError naming `field`.
 */
export function parseHostPort(value: string, defaultPort: number, field: string): HostPort {
  const text = value.trim().replace(/^tcp:\/\//, '');
  if (text === '') {
    throw new InvalidArgumentError(field, 'address is empty');
  }
  let host = text;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) {
      port = parsePort(bracketed[2], field);
    }
  } else if (isIP(text) !== 6) {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      port = parsePort(text.slice(colon + 1), field);
    }
  }
  if (isIP(host) === 0 && !HOSTNAME.test(host)) {
    throw new InvalidArgumentError(field, `${value} is not an IP address or host name`);
  }
  return { host, port };
}

/** Formats for dialing: IPv6 literals get brackets. */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses an IP literal (no port), e.g. --data-path-addr. */
export function parseIp(value: string, field: string): string {
  const text = value.trim();
  if (isIP(text) === 0) {
    throw new InvalidArgumentError(field, `${value} is not an IP address`);
  }
  return text;
}
