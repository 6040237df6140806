import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Docker's limit (`maxExtDNS`): more servers only lengthen the time to fail. */
export const MAX_UPSTREAM_SERVERS = 3;

/**
 * The servers a container's forwarded queries go to: its own --dns servers when it has any, else
 * the host's, in order, at most {@link MAX_UPSTREAM_SERVERS}. Loopback servers (127.0.0.0/8, ::1,
 * e.g. systemd-resolved's 127.0.0.53) are skipped: they are not reachable from the container's
 * namespace, where forwarding happens. Entries that are not IP literals (or carry a zone) are
 * skipped too. IPv6 servers come out in RFC 5952 form, the form replies are reported from. Pure.
 */
export function selectUpstreams(containerDns: readonly string[], hostServers: readonly string[]): string[] {
  const usable = (list: readonly string[]): string[] => [
    ...new Set(
      list
        .map((s) => s.trim())
        .filter((s) => isIP(s) !== 0 && !s.includes('%') && !isLoopback(s))
        .map(canonical),
    ),
  ];
  const own = usable(containerDns);
  return (own.length > 0 ? own : usable(hostServers)).slice(0, MAX_UPSTREAM_SERVERS);
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) {
    return address.startsWith('127.');
  }
  const lower = address.toLowerCase();
  return lower === '::1' || lower === '0:0:0:0:0:0:0:1' || lower.startsWith('::ffff:127.');
}

function canonical(address: string): string {
  return isIP(address) === 6 ? ipaddr.IPv6.parse(address).toRFC5952String() : address;
}
