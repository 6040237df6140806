import { CNI_ERROR, CniError } from './cni-error.js';

/** Where vxmeshd listens unless the configuration says otherwise. */
export const DEFAULT_DAEMON_SOCKET = '/run/vxmesh/vxmesh.sock';

/** The plugin's network configuration, as the runtime hands it on stdin (one plugin of a conflist). */
export interface VxmeshCniConfig {
  readonly cniVersion: string;
  /** The CNI network name (the conflist's `name`). */
  readonly name: string;
  /** The vxmesh network (name, ID or unique ID prefix); default: the CNI network name. */
  readonly network: string;
  /** vxmeshd's control socket; default /run/vxmesh/vxmesh.sock. */
  readonly socket: string;
  /**
   * `embeddedDns`: serve the embedded resolver (127.0.0.11) in the container and report it;
   * default true. (`dns` is the spec's own field, an object: its search domains and options are
   * added to the result.)
   */
  readonly embeddedDns: boolean;
  /** The spec's `dns` field: search domains and options to report besides the resolver's. */
  readonly dnsSearch: readonly string[];
  readonly dnsOptions: readonly string[];
  /** Static addresses asked for through the `ips` capability or `args.cni.ips`. */
  readonly ips: readonly string[];
  /** DNS aliases through the `aliases` capability (Podman: keyed by network name) or `args.cni.aliases`. */
  readonly aliases: readonly string[];
  /** The previous result (CHECK, DEL), as given. */
  readonly prevResult: unknown;
  /** GC: the attachments the runtime still has on this network. */
  readonly validAttachments: readonly { readonly containerId: string; readonly ifName: string }[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalid(message: string): CniError {
  return new CniError(CNI_ERROR.INVALID_CONFIG, message);
}

function optionalString(obj: Json, key: string, fallback: string): string {
  const v = obj[key];
  if (v === undefined || v === null) {
    return fallback;
  }
  if (typeof v !== 'string') {
    throw invalid(`"${key}" must be a string`);
  }
  return v;
}

function stringList(v: unknown, what: string): string[] {
  if (v === undefined || v === null) {
    return [];
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalid(`${what} must be a list of strings`);
  }
  return v as string[];
}

/** Podman passes `{"<network name>": [aliases]}`; a plain list is accepted too. */
function aliasesFrom(v: unknown, name: string): string[] {
  if (v === undefined || v === null) {
    return [];
  }
  if (Array.isArray(v)) {
    return stringList(v, 'runtimeConfig.aliases');
  }
  if (isObject(v)) {
    return stringList(v[name], `runtimeConfig.aliases.${name}`);
  }
  throw invalid('runtimeConfig.aliases must be a list or an object of lists');
}

/**
 * Parses stdin. Fields this plugin does not know are ignored (the spec allows either).
 * @throws CniError DECODE_FAILURE for text that is not a JSON object; INVALID_CONFIG for a field
 *   of the wrong type or a missing name; INCOMPATIBLE_VERSION is left to checkVersion().
 */
export function parseCniConfig(stdin: string): VxmeshCniConfig {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CNI_ERROR.DECODE_FAILURE, 'the network configuration on stdin is not JSON', String(err));
  }
  if (!isObject(parsed)) {
    throw new CniError(CNI_ERROR.DECODE_FAILURE, 'the network configuration on stdin is not a JSON object');
  }
  // A config without a version predates versioning (0.1.0), which this plugin does not speak.
  const cniVersion = optionalString(parsed, 'cniVersion', '0.1.0');
  const name = optionalString(parsed, 'name', '');
  if (name === '') {
    throw invalid('"name" is required');
  }
  const embeddedDns = parsed['embeddedDns'];
  if (embeddedDns !== undefined && typeof embeddedDns !== 'boolean') {
    throw invalid('"embeddedDns" must be true or false');
  }
  const dns = parsed['dns'] ?? {};
  if (!isObject(dns)) {
    throw invalid('"dns" must be an object (nameservers, domain, search, options)');
  }
  const runtimeConfig = parsed['runtimeConfig'] ?? {};
  if (!isObject(runtimeConfig)) {
    throw invalid('"runtimeConfig" must be an object');
  }
  const args = parsed['args'];
  const cniArgs = isObject(args) && isObject(args['cni']) ? args['cni'] : {};
  const valid = parsed['cni.dev/valid-attachments'] ?? [];
  if (!Array.isArray(valid)) {
    throw invalid('"cni.dev/valid-attachments" must be a list');
  }
  return {
    cniVersion,
    name,
    network: optionalString(parsed, 'network', name) || name,
    socket: optionalString(parsed, 'socket', DEFAULT_DAEMON_SOCKET) || DEFAULT_DAEMON_SOCKET,
    embeddedDns: embeddedDns ?? true,
    dnsSearch: stringList(dns['search'], 'dns.search'),
    dnsOptions: stringList(dns['options'], 'dns.options'),
    ips: [...stringList(runtimeConfig['ips'], 'runtimeConfig.ips'), ...stringList(cniArgs['ips'], 'args.cni.ips')],
    aliases: [...aliasesFrom(runtimeConfig['aliases'], name), ...aliasesFrom(cniArgs['aliases'], name)],
    prevResult: parsed['prevResult'],
    validAttachments: valid.map((v: unknown) => {
      if (!isObject(v) || typeof v['containerID'] !== 'string' || typeof v['ifname'] !== 'string') {
        throw invalid('"cni.dev/valid-attachments" entries need "containerID" and "ifname" strings');
      }
      return { containerId: v['containerID'], ifName: v['ifname'] };
    }),
  };
}

/** The `cniVersion` of whatever is on stdin, for reporting errors in the runtime's version; "1.0.0" when unreadable. */
export function cniVersionOf(stdin: string): string {
  try {
    const parsed: unknown = JSON.parse(stdin);
    if (isObject(parsed) && typeof parsed['cniVersion'] === 'string' && parsed['cniVersion'] !== '') {
      return parsed['cniVersion'];
    }
  } catch {
    // Not JSON: the error itself is reported in the default version.
  }
  return '1.0.0';
}
