import { readFile } from 'node:fs/promises';
import { parseResolvConf } from './resolv-conf.js';
import type { ResolvConf } from './resolv-conf.js';

/** Where systemd-resolved keeps the real upstream servers when /etc/resolv.conf names its stub. */
const SYSTEMD_RESOLVED_UPSTREAMS = '/run/systemd/resolve/resolv.conf';

/**
 * The host's resolver configuration as containers inherit it. When /etc/resolv.conf lists only
 * loopback servers (a local stub such as systemd-resolved's 127.0.0.53, unreachable from a
 * container), the servers come from systemd-resolved's upstream file if it exists (Docker does
 * the same). A missing or unreadable file gives an empty configuration, never an error.
 */
export async function readHostResolvConf(path = '/etc/resolv.conf'): Promise<ResolvConf> {
  const main = parseResolvConf(await readFile(path, 'utf8').catch(() => ''));
  const onlyLoopback =
    main.nameservers.length > 0 && main.nameservers.every((s) => s.startsWith('127.') || s === '::1');
  if (!onlyLoopback) {
    return main;
  }
  const upstream = parseResolvConf(await readFile(SYSTEMD_RESOLVED_UPSTREAMS, 'utf8').catch(() => ''));
  return upstream.nameservers.length > 0 ? { ...main, nameservers: upstream.nameservers } : main;
}
