import { stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import { cniVersionOf, parseCniConfig } from './cni-config.js';
import type { VxmeshCniConfig } from './cni-config.js';
import type { CniDaemon, CniDaemonConnector } from './cni-daemon.js';
import { parseCniEnvironment } from './cni-env.js';
import type { CniEnvironment } from './cni-env.js';
import { CNI_ERROR, CniError, cniErrorJson, toCniError } from './cni-error.js';
import { buildCniResult, prevResultExpectations } from './cni-result.js';
import { SUPPORTED_VERSIONS, checkVersion } from './cni-version.js';

/** One execution of the plugin, as a runtime makes it. */
export interface CniInvocation {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdin: string;
  readonly connect: CniDaemonConnector;
  /** Whether a path exists; default: stat(2). */
  readonly pathExists?: (path: string) => Promise<boolean>;
}

/** What the plugin prints on stdout and its exit status. */
export interface CniOutcome {
  readonly stdout: string;
  readonly exitCode: number;
}

/** CNI_ARGS keys this plugin reads or tolerates (Kubernetes passes the K8S_ ones to every plugin). */
const KNOWN_ARGS = new Set([
  'IgnoreUnknown',
  'IP',
  'K8S_POD_NAME',
  'K8S_POD_NAMESPACE',
  'K8S_POD_INFRA_CONTAINER_ID',
  'K8S_POD_UID',
]);

async function defaultPathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The value of a CNI_ARGS key (the last one wins), after checking unknown keys. */
function readArgs(env: CniEnvironment): Map<string, string> {
  const args = new Map(env.args.map(([k, v]) => [k, v] as const));
  const ignoreUnknown = /^(1|true)$/i.test(args.get('IgnoreUnknown') ?? '');
  const unknown = [...args.keys()].filter((k) => !KNOWN_ARGS.has(k));
  if (unknown.length > 0 && !ignoreUnknown) {
    throw new CniError(
      CNI_ERROR.UNSUPPORTED_FIELD,
      `unknown CNI_ARGS ${unknown.join(', ')}`,
      'set IgnoreUnknown=1 to pass them anyway',
    );
  }
  return args;
}

/** Static addresses from runtimeConfig.ips / args.cni.ips and CNI_ARGS IP (comma-separated), at most one per family. */
function staticAddresses(cfg: VxmeshCniConfig, args: Map<string, string>): { ipv4: string; ipv6: string } {
  const wanted = [...cfg.ips, ...(args.get('IP') ?? '').split(',')].map((a) => a.trim()).filter((a) => a !== '');
  let ipv4 = '';
  let ipv6 = '';
  for (const text of wanted) {
    const address = text.split('/')[0] ?? '';
    const family = isIP(address);
    if (family === 0) {
      throw new CniError(CNI_ERROR.INVALID_CONFIG, `static address ${JSON.stringify(text)} is not an IP address`);
    }
    const current = family === 4 ? ipv4 : ipv6;
    if (current !== '' && current !== address) {
      throw new CniError(
        CNI_ERROR.INVALID_CONFIG,
        `more than one static IPv${family} address (${current}, ${address})`,
      );
    }
    if (family === 4) {
      ipv4 = address;
    } else {
      ipv6 = address;
    }
  }
  return { ipv4, ipv6 };
}

async function add(
  env: CniEnvironment,
  cfg: VxmeshCniConfig,
  daemon: CniDaemon,
  pathExists: (p: string) => Promise<boolean>,
): Promise<string> {
  const args = readArgs(env);
  if (!(await pathExists(env.netns))) {
    throw new CniError(CNI_ERROR.UNKNOWN_CONTAINER, `network namespace ${env.netns} does not exist`);
  }
  const { ipv4, ipv6 } = staticAddresses(cfg, args);
  const name = args.get('K8S_POD_NAME') ?? '';
  const res = await daemon.attach({
    containerId: env.containerId,
    ifName: env.ifName,
    netnsPath: env.netns,
    network: cfg.network,
    origin: `cni:${cfg.name}`,
    name,
    ipv4Address: ipv4,
    ipv6Address: ipv6,
    aliases: [...new Set(cfg.aliases.filter((a) => a !== '' && a !== name))],
    dns: cfg.embeddedDns,
  });
  if (!res.attachment) {
    throw new CniError(CNI_ERROR.INTERNAL, 'vxmeshd answered without an attachment');
  }
  const result = buildCniResult(cfg.cniVersion, res.attachment, env.netns, {
    servers: res.dnsServers,
    search: [...new Set([...res.dnsSearch, ...cfg.dnsSearch])],
    options: [...new Set([...res.dnsOptions, ...cfg.dnsOptions])],
  });
  return JSON.stringify(result);
}

async function check(env: CniEnvironment, cfg: VxmeshCniConfig, daemon: CniDaemon): Promise<void> {
  readArgs(env);
  const expected = prevResultExpectations(cfg.prevResult, env.ifName);
  await daemon.check({
    containerId: env.containerId,
    ifName: env.ifName,
    netnsPath: env.netns,
    network: cfg.network,
    addresses: [...expected.addresses],
    macAddress: expected.mac,
  });
}

async function status(daemon: CniDaemon): Promise<void> {
  let info;
  try {
    info = await daemon.info();
  } catch (err) {
    throw new CniError(
      CNI_ERROR.NOT_AVAILABLE_CONTAINERS_DAMAGED,
      `vxmeshd cannot be reached: ${err instanceof Error ? err.message : String(err)}`,
      'attached containers keep their interfaces but lose their resolver until it is back',
    );
  }
  if (info.localNodeState !== 'active') {
    throw new CniError(CNI_ERROR.NOT_AVAILABLE, 'vxmeshd is not part of a cluster', 'run vxmesh swarm init or join');
  }
  if (info.sessionState !== 'connected') {
    throw new CniError(
      CNI_ERROR.NOT_AVAILABLE,
      `vxmeshd has no session with a manager (${info.sessionState || 'none'})`,
      info.lastError,
    );
  }
}

/** The VERSION answer: the versions this plugin speaks, in the version asked with when it is one of them. */
function versionInfo(stdin: string): string {
  const asked = cniVersionOf(stdin);
  const cniVersion = (SUPPORTED_VERSIONS as readonly string[]).includes(asked) ? asked : '1.0.0';
  return JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS });
}

/**
 * Runs one CNI command (spec 1.1.0, answering 0.3.0 to 1.1.0 configurations): ADD, DEL, CHECK,
 * STATUS, GC and VERSION. Success prints the result (ADD, VERSION) or nothing; failure prints the
 * CNI error object and exits 1. Never throws.
 */
export async function runCniPlugin(inv: CniInvocation): Promise<CniOutcome> {
  const errorVersion = cniVersionOf(inv.stdin);
  let command = inv.env['CNI_COMMAND'] ?? '';
  let daemon: CniDaemon | undefined;
  try {
    const env = parseCniEnvironment(inv.env);
    command = env.command;
    if (env.command === 'VERSION') {
      return { stdout: versionInfo(inv.stdin), exitCode: 0 };
    }
    const cfg = parseCniConfig(inv.stdin);
    checkVersion(cfg.cniVersion, env.command);
    daemon = inv.connect(cfg.socket);
    switch (env.command) {
      case 'ADD': {
        return { stdout: await add(env, cfg, daemon, inv.pathExists ?? defaultPathExists), exitCode: 0 };
      }
      case 'DEL': {
        // Idempotent: nothing attached (a failed or repeated ADD, a repeated DEL) is success.
        await daemon.detach({ containerId: env.containerId, ifName: env.ifName });
        return { stdout: '', exitCode: 0 };
      }
      case 'CHECK': {
        await check(env, cfg, daemon);
        return { stdout: '', exitCode: 0 };
      }
      case 'STATUS': {
        await status(daemon);
        return { stdout: '', exitCode: 0 };
      }
      default: {
        // GC
        await daemon.gc({ origin: `cni:${cfg.name}`, valid: [...cfg.validAttachments] });
        return { stdout: '', exitCode: 0 };
      }
    }
  } catch (err) {
    return { stdout: JSON.stringify(cniErrorJson(toCniError(err, command), errorVersion)), exitCode: 1 };
  } finally {
    daemon?.close();
  }
}
