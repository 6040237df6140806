/**
 * Test hosts running the dataplane driver: each host's namespace stands in for a daemon's own
 * namespace (the runner's base namespace). Every namespace the tests or the driver create starts
 * with the run's prefix, so a crashed run is swept by `sweepStaleTestHosts`; `destroy()` removes
 * them all on the normal path.
 */
import { readdir } from 'node:fs/promises';
import { runCommand } from '../support/command.js';
import type { CommandResult } from '../support/command.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHost, TestHosts } from '../support/test-hosts.js';
import { ProcessCommandRunner } from '../../src/vxlan/command-runner-process.js';
import { DataplaneDriver } from '../../src/vxlan/dataplane-driver.js';
import type { LocalEndpointSpec, NodeDataplaneSpec, OverlaySpec, ReconcileReport } from '../../src/vxlan/dataplane-spec.js';
import { overlayNamespaceName } from '../../src/vxlan/dataplane-names.js';

/** One host with its driver. */
export interface DataplaneHost {
  readonly host: TestHost;
  readonly runner: ProcessCommandRunner;
  readonly driver: DataplaneDriver;
  /** The driver's namespace prefix on this host. */
  readonly prefix: string;
}

/** Hosts plus helpers; `destroy()` removes every namespace of the run. */
export interface DataplaneHosts extends AsyncDisposable {
  readonly hosts: TestHosts;
  readonly nodes: readonly DataplaneHost[];
  node(index: number): DataplaneHost;
  /** Creates a container namespace (what the container runtime does) named `<run prefix>c-<name>`. */
  addContainer(name: string): Promise<string>;
  /** Runs a command inside a named namespace. */
  execIn(netns: string, cmd: string, args: readonly string[], check?: boolean): Promise<CommandResult>;
  destroy(): Promise<void>;
}

/** Namespaces starting with `prefix`, from /run/netns. */
export async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  return (await readdir('/run/netns').catch(() => [])).filter((n) => n.startsWith(prefix));
}

/** Builds `count` hosts with a driver each. */
export async function createDataplaneHosts(options: { count: number; mtu?: number }): Promise<DataplaneHosts> {
  const hosts = await createTestHosts({ count: options.count, ...(options.mtu === undefined ? {} : { mtu: options.mtu }) });
  const nodes = hosts.hosts.map((host) => {
    const runner = new ProcessCommandRunner({ baseNamespace: host.netns });
    return {
      host,
      runner,
      driver: new DataplaneDriver({ runner, daemonNamespace: host.netns }),
      prefix: `${hosts.prefix}n${host.index}-`,
    };
  });
  let destroying: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroying ??= (async () => {
      // Containers and overlay namespaces first (the hosts' own go with hosts.destroy()).
      const own = new Set([hosts.underlayNetns, ...hosts.hosts.map((h) => h.netns)]);
      const extra = (await namespacesWithPrefix(hosts.prefix)).filter((n) => !own.has(n));
      if (extra.length > 0) {
        await runCommand('ip', ['-force', '-batch', '-'], { input: `${extra.map((n) => `netns del ${n}`).join('\n')}\n`, check: false });
      }
      await hosts.destroy();
    })());
  return {
    hosts,
    nodes,
    node: (index) => {
      const node = nodes[index];
      if (node === undefined) {
        throw new RangeError(`no node ${index}`);
      }
      return node;
    },
    addContainer: async (name) => {
      const netns = `${hosts.prefix}c-${name}`;
      await runCommand('ip', ['netns', 'add', netns]);
      await runCommand('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
      return netns;
    },
    execIn: (netns, cmd, args, check = true) => runCommand('ip', ['netns', 'exec', netns, cmd, ...args], { check }),
    destroy,
    [Symbol.asyncDispose]: destroy,
  };
}

/** Total command lines of a report. */
export function commandCount(report: ReconcileReport): number {
  return [...report.commands.values()].reduce((a, b) => a + b, 0);
}

/** A 24-hex-digit network id from a short tag. */
export function networkId(tag: string): string {
  return tag.padEnd(24, '0');
}

/** MAC derived from an IPv4 address, docker style (02:42 + the four octets). */
export function macOf(ipv4: string): string {
  return `02:42:${ipv4
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join(':')}`;
}

/** Endpoint of a container on an overlay subnet `10.<net>.0.0/24`. */
export interface TestEndpoint {
  readonly id: string;
  readonly node: number;
  readonly containerNs: string;
  readonly ip: string;
  readonly ifName?: string;
}

/** One overlay as a node sees it: its endpoints local, everyone else's remote. */
export function overlayFor(
  node: DataplaneHost,
  nodes: readonly DataplaneHost[],
  net: { id: string; vni: number; third: number; mtu: number },
  endpoints: readonly TestEndpoint[],
): OverlaySpec {
  const local: LocalEndpointSpec[] = endpoints
    .filter((e) => nodes[e.node] === node)
    .map((e) => ({
      endpointId: e.id,
      subnetIndex: 0,
      containerNamespace: e.containerNs,
      ifName: e.ifName ?? 'eth0',
      mac: macOf(e.ip),
      ipv4Cidr: `${e.ip}/24`,
      gateway: `10.${net.third}.0.1`,
      otherSubnets: [],
    }));
  return {
    networkId: net.id,
    namespace: overlayNamespaceName(node.prefix, net.id),
    mtu: net.mtu,
    subnets: [{ index: 0, vni: net.vni, gatewayCidr: `10.${net.third}.0.1/24` }],
    localEndpoints: local,
    remoteEndpoints: endpoints
      .filter((e) => nodes[e.node] !== node)
      .map((e) => ({
        endpointId: e.id,
        subnetIndex: 0,
        mac: macOf(e.ip),
        ipv4: e.ip,
        vtep: nodes[e.node]?.host.underlayIp ?? '',
      })),
  };
}

/** The spec of `node`: the given overlays (only those with a local endpoint), every node a member. */
export function specFor(
  node: DataplaneHost,
  nodes: readonly DataplaneHost[],
  overlays: readonly OverlaySpec[],
  extra: Partial<NodeDataplaneSpec> = {},
): NodeDataplaneSpec {
  return {
    namespacePrefix: node.prefix,
    dataPathAddr: node.host.underlayIp,
    dataPathPort: 4789,
    memberVteps: nodes.map((n) => n.host.underlayIp),
    overlays: overlays.filter((o) => o.localEndpoints.length > 0),
    ...extra,
  };
}
