import type { NamespaceAttachment } from '../gen/vxmesh/v1/control.js';
import { CNI_ERROR, CniError } from './cni-error.js';
import { compareVersions } from './cni-version.js';

export interface CniInterface {
  readonly name: string;
  readonly mac: string;
  readonly sandbox: string;
}

export interface CniIpConfig {
  readonly address: string;
  readonly gateway?: string;
  readonly interface: number;
  /** 0.3.x and 0.4.0 only: "4" or "6". */
  readonly version?: '4' | '6';
}

export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
}

export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

/** An ADD result (CNI spec "Success"), in the shape of the requested version. */
export interface CniResult {
  readonly cniVersion: string;
  readonly interfaces: readonly CniInterface[];
  readonly ips: readonly CniIpConfig[];
  readonly routes: readonly CniRoute[];
  readonly dns: CniDns;
}

export interface ResultDns {
  readonly servers: readonly string[];
  readonly search: readonly string[];
  readonly options: readonly string[];
}

/**
 * The result of an ADD: the interface inside the sandbox, its addresses (the gateway on the IPv4
 * one), routes to the network's other subnets through the gateway, and the embedded resolver.
 * The overlay subnet itself is on-link and so not listed; there is no default route (egress is
 * the runtime's, through another network).
 */
export function buildCniResult(
  cniVersion: string,
  attachment: NamespaceAttachment,
  sandbox: string,
  dns: ResultDns,
): CniResult {
  const legacy = compareVersions(cniVersion, '1.0.0') < 0;
  const ips: CniIpConfig[] = [];
  if (attachment.ipv4Address) {
    ips.push({
      address: attachment.ipv4Address,
      ...(attachment.gateway && !attachment.gateway.includes(':') ? { gateway: attachment.gateway } : {}),
      interface: 0,
      ...(legacy ? { version: '4' as const } : {}),
    });
  }
  if (attachment.ipv6Address) {
    ips.push({ address: attachment.ipv6Address, interface: 0, ...(legacy ? { version: '6' as const } : {}) });
  }
  const gateway = attachment.gateway && !attachment.gateway.includes(':') ? attachment.gateway : undefined;
  const routes: CniRoute[] = gateway ? attachment.otherSubnets.map((dst) => ({ dst, gw: gateway })) : [];
  return {
    cniVersion,
    interfaces: [{ name: attachment.ifName, mac: attachment.macAddress, sandbox }],
    ips,
    routes,
    dns: {
      ...(dns.servers.length > 0 ? { nameservers: [...dns.servers] } : {}),
      ...(dns.search.length > 0 ? { search: [...dns.search] } : {}),
      ...(dns.options.length > 0 ? { options: [...dns.options] } : {}),
    },
  };
}

/** What a previous result says about one interface: its MAC and the addresses on it. */
export interface PrevResultExpectations {
  readonly mac: string;
  readonly addresses: readonly string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads prevResult (any supported version) for CHECK: the interface named `ifName` in the
 * sandbox, and the addresses whose `interface` index points at it.
 * @throws CniError INVALID_CONFIG when prevResult is missing or malformed; CHECK_FAILED when it
 *   does not list the interface.
 */
export function prevResultExpectations(prevResult: unknown, ifName: string): PrevResultExpectations {
  if (!isObject(prevResult)) {
    throw new CniError(CNI_ERROR.INVALID_CONFIG, 'CHECK needs "prevResult" in the network configuration');
  }
  const interfaces = prevResult['interfaces'] ?? [];
  const ips = prevResult['ips'] ?? [];
  if (!Array.isArray(interfaces) || !Array.isArray(ips)) {
    throw new CniError(CNI_ERROR.INVALID_CONFIG, 'prevResult "interfaces" and "ips" must be lists');
  }
  const index = interfaces.findIndex(
    (i: unknown) => isObject(i) && i['name'] === ifName && typeof i['sandbox'] === 'string' && i['sandbox'] !== '',
  );
  const iface: unknown = interfaces[index];
  if (index < 0 || !isObject(iface)) {
    throw new CniError(CNI_ERROR.CHECK_FAILED, `prevResult lists no interface ${ifName} in a sandbox`);
  }
  const addresses = ips
    .filter((ip: unknown): ip is Record<string, unknown> => isObject(ip) && ip['interface'] === index)
    .map((ip) => ip['address'])
    .filter((a): a is string => typeof a === 'string');
  return { mac: typeof iface['mac'] === 'string' ? iface['mac'] : '', addresses };
}
