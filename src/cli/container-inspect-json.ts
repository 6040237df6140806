import { isIP } from 'node:net';
import type { Container, ContainerNetwork } from '../gen/vxmesh/v1/container.js';
import { SHORT_ID_LENGTH } from './container-list-format.js';
import { containerStateName } from './container-status-text.js';
import type { ContainerStateName } from './container-status-text.js';
import { goMap } from './go-map.js';
import { jsonText } from './json-text.js';
import { rfc3339FromMillis } from './time-text.js';

/** Where `ip netns` keeps named namespaces; docker's SandboxKey is the same kind of path. */
const NETNS_DIR = '/run/netns';

/** docker's `EndpointIPAMConfig`: the addresses asked for with --ip/--ip6; empty ones omitted. */
export interface DockerEndpointIpamConfig {
  readonly IPv4Address?: string;
  readonly IPv6Address?: string;
}

/**
 * docker's `EndpointSettings` (moby api/types/network/endpoint.go, docker 29 field order), one per
 * network in `NetworkSettings.Networks`. While the container is stopped, the operational fields
 * (endpoint, addresses, gateway, MAC) are empty, as docker clears them; the configuration
 * (IPAMConfig, Links, Aliases) and DNSNames stay. vxmesh has no driver options or gateway
 * priorities per endpoint, so `DriverOpts` is null and `GwPriority` 0.
 */
export interface DockerEndpointSettings {
  /** null unless --ip or --ip6 was given for this network. */
  readonly IPAMConfig: DockerEndpointIpamConfig | null;
  /** --link NAME:ALIAS on this network; null when none. */
  readonly Links: readonly string[] | null;
  /** --network-alias / connect --alias; null when none. */
  readonly Aliases: readonly string[] | null;
  readonly DriverOpts: null;
  readonly GwPriority: 0;
  readonly NetworkID: string;
  readonly EndpointID: string;
  readonly Gateway: string;
  readonly IPAddress: string;
  readonly MacAddress: string;
  readonly IPPrefixLen: number;
  readonly IPv6Gateway: string;
  readonly GlobalIPv6Address: string;
  readonly GlobalIPv6PrefixLen: number;
  /** Names other containers on the network may use: name, aliases, short ID, hostname (deduplicated). */
  readonly DNSNames: readonly string[];
}

/** docker's `State`, with the flags vxmesh containers never have (paused, ...) kept false. */
export interface DockerContainerState {
  readonly Status: ContainerStateName;
  readonly Running: boolean;
  readonly Paused: false;
  readonly Restarting: false;
  readonly OOMKilled: false;
  readonly Dead: false;
  /** 0 unless running. */
  readonly Pid: number;
  readonly ExitCode: number;
  /** Why the container could not start or attach; "" otherwise. */
  readonly Error: string;
  /** RFC 3339; Go's zero time when never started / never finished. */
  readonly StartedAt: string;
  readonly FinishedAt: string;
}

/**
 * The part of docker's container inspect document (`docker inspect`, moby
 * api/types/container) that a vxmesh container has, with docker's field names and order, so `jq`
 * filters written for docker work: `.[0].NetworkSettings.Networks["appnet"].IPAddress`,
 * `.[0].State.Pid`. Image, mounts, logs and resource settings have no vxmesh counterpart and are
 * left out rather than faked.
 */
export interface DockerContainerJson {
  readonly Id: string;
  readonly Created: string;
  /** The program; `Args` are the rest of the command line. */
  readonly Path: string;
  readonly Args: readonly string[];
  readonly State: DockerContainerState;
  /** "/" + name, as docker stores names. */
  readonly Name: string;
  readonly HostConfig: {
    readonly AutoRemove: boolean;
    /** --dns servers; [] when none. */
    readonly Dns: readonly string[];
    /** --dns-option values; [] when none (the host's options then apply). */
    readonly DnsOptions: readonly string[];
    /** --dns-search domains; [] when none (the host's search domains then apply). */
    readonly DnsSearch: readonly string[];
  };
  readonly Config: {
    readonly Hostname: string;
    readonly Cmd: readonly string[];
  };
  readonly NetworkSettings: {
    /** The namespace file, for `nsenter --net=` or `ip netns exec`. */
    readonly SandboxKey: string;
    /** Keyed by network name, sorted as Go writes maps. */
    readonly Networks: Readonly<Record<string, DockerEndpointSettings>>;
  };
}

interface CidrParts {
  readonly address: string;
  readonly prefixLength: number;
}

/** "10.0.1.5/24" → address and prefix length; "" → empty. */
function splitCidr(cidr: string): CidrParts {
  const at = cidr.indexOf('/');
  if (at < 0) {
    return { address: cidr, prefixLength: 0 };
  }
  return { address: cidr.slice(0, at), prefixLength: Number(cidr.slice(at + 1)) };
}

function listOrNull(values: readonly string[]): readonly string[] | null {
  return values.length === 0 ? null : [...values];
}

/** docker's buildEndpointDNSNames: name, aliases, short ID, hostname, first occurrence kept. */
function dnsNames(container: Container, network: ContainerNetwork): string[] {
  const names = [container.name, ...network.aliases, container.id.slice(0, SHORT_ID_LENGTH), container.hostname];
  return [...new Set(names.filter((n) => n !== ''))];
}

function ipamConfig(network: ContainerNetwork): DockerEndpointIpamConfig | null {
  if (network.requestedIpv4 === '' && network.requestedIpv6 === '') {
    return null;
  }
  return {
    ...(network.requestedIpv4 === '' ? {} : { IPv4Address: network.requestedIpv4 }),
    ...(network.requestedIpv6 === '' ? {} : { IPv6Address: network.requestedIpv6 }),
  };
}

function endpointSettings(container: Container, network: ContainerNetwork): DockerEndpointSettings {
  // A detached network (stopped container) keeps its configuration only, as in docker.
  const attached = network.endpointId !== '';
  const v4 = splitCidr(attached ? network.ipv4Address : '');
  const v6 = splitCidr(attached ? network.ipv6Address : '');
  const gateway = attached ? network.gateway : '';
  const gatewayIsV6 = isIP(gateway) === 6;
  return {
    IPAMConfig: ipamConfig(network),
    Links: listOrNull(network.links),
    Aliases: listOrNull(network.aliases),
    DriverOpts: null,
    GwPriority: 0,
    NetworkID: network.networkId,
    EndpointID: network.endpointId,
    Gateway: gatewayIsV6 ? '' : gateway,
    IPAddress: v4.address,
    MacAddress: attached ? network.macAddress : '',
    IPPrefixLen: v4.prefixLength,
    IPv6Gateway: gatewayIsV6 ? gateway : '',
    GlobalIPv6Address: v6.address,
    GlobalIPv6PrefixLen: v6.prefixLength,
    DNSNames: dnsNames(container, network),
  };
}

/** Converts a daemon container record into docker's inspect shape. */
export function dockerContainerJson(container: Container): DockerContainerJson {
  const [path = '', ...args] = container.command;
  const state = containerStateName(container.state);
  return {
    Id: container.id,
    Created: rfc3339FromMillis(container.createdAt),
    Path: path,
    Args: args,
    State: {
      Status: state,
      Running: state === 'running',
      Paused: false,
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: container.pid,
      ExitCode: container.exitCode,
      Error: container.error,
      StartedAt: rfc3339FromMillis(container.startedAt),
      FinishedAt: rfc3339FromMillis(container.finishedAt),
    },
    Name: `/${container.name}`,
    HostConfig: {
      AutoRemove: container.autoRemove,
      Dns: [...container.dns],
      DnsOptions: [...container.dnsOptions],
      DnsSearch: [...container.dnsSearch],
    },
    Config: { Hostname: container.hostname, Cmd: [...container.command] },
    NetworkSettings: {
      SandboxKey: container.namespace === '' ? '' : `${NETNS_DIR}/${container.namespace}`,
      Networks: goMap(
        Object.fromEntries(
          container.networks.map((n) => [n.networkName || n.networkId, endpointSettings(container, n)]),
        ),
      ),
    },
  };
}

/**
 * `inspect` output, as docker's inspector writes it: a JSON array indented with 4 spaces, or with
 * `--format json` the same array compact on one line; then "\n".
 */
export function formatContainerInspect(containers: readonly DockerContainerJson[], compact = false): string {
  return `${jsonText(containers, compact ? '' : '    ')}\n`;
}
