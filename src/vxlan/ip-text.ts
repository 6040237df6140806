import ipaddr from 'ipaddr.js';

/**
 * Address and prefix text as the kernel tools print it, so desired and observed state compare as
 * strings: dotted quad IPv4, RFC 5952 compressed IPv6, lower-case MACs.
 */

/**
 * Dotted-quad IPv4 without leading zeros. Checked with one regex instead of ipaddr.js's full
 * parse: a 50k-peer spec canonicalises 100k+ addresses per pass, and this is the hot path.
 */
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** 4 or 6 for an address in the notations iproute2 accepts, undefined otherwise. */
export function ipFamily(address: string): 4 | 6 | undefined {
  if (IPV4.test(address)) {
    return 4;
  }
  if (address.includes(':') && !address.includes('%') && ipaddr.IPv6.isValid(address)) {
    return 6;
  }
  return undefined;
}

/** Canonical text of an address (RFC 5952 for IPv6); the input unchanged when it does not parse. */
export function canonicalIp(address: string): string {
  if (IPV4.test(address)) {
    return address;
  }
  return ipFamily(address) === 6 ? ipaddr.IPv6.parse(address).toString() : address;
}

/** An interface address with prefix length, e.g. `10.0.1.5/24`. */
export interface AddressWithPrefix {
  readonly family: 4 | 6;
  /** Canonical address text, without the prefix. */
  readonly address: string;
  readonly prefixLength: number;
}

/** Parses `address/len` (host bits allowed, as on an interface); undefined when malformed. */
export function parseAddressWithPrefix(text: string): AddressWithPrefix | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) {
    return undefined;
  }
  const address = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  const family = ipFamily(address);
  if (family === undefined || !/^\d{1,3}$/.test(lengthText)) {
    return undefined;
  }
  const prefixLength = Number(lengthText);
  if (prefixLength > (family === 4 ? 32 : 128)) {
    return undefined;
  }
  return { family, address: canonicalIp(address), prefixLength };
}

/** `address/len` in canonical text. */
export function formatAddressWithPrefix(a: AddressWithPrefix): string {
  return `${a.address}/${a.prefixLength}`;
}

/** The network of an interface address: `172.18.0.1/16` → `172.18.0.0/16`. */
export function networkOf(a: AddressWithPrefix): string {
  const parsed = ipaddr.parse(a.address);
  const network =
    parsed.kind() === 'ipv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${a.address}/${a.prefixLength}`)
      : ipaddr.IPv6.networkAddressFromCIDR(`${a.address}/${a.prefixLength}`);
  return `${network.toString()}/${a.prefixLength}`;
}

/** Canonical text of a route destination prefix (`default` stays `default`); the input when malformed. */
export function canonicalPrefix(text: string): string {
  if (text === 'default') {
    return text;
  }
  const parsed = parseAddressWithPrefix(text);
  return parsed === undefined ? text : networkOf(parsed);
}

/** Whether `mac` is six colon-separated hex octets. */
export function isValidMac(mac: string): boolean {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac);
}

/** Lower-case MAC, as iproute2 prints it. */
export function canonicalMac(mac: string): string {
  // Most MACs are already lower-case; skipping the copy matters at 100k entries per pass.
  return /[A-F]/.test(mac) ? mac.toLowerCase() : mac;
}
