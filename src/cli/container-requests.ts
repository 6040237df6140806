import { InvalidArgumentError } from '../common/errors.js';
import type { ContainerNetworkRequest, RunContainerRequest } from '../gen/vxmesh/v1/control.js';

/** The per-endpoint flags of `run` (for its first --network) and of `network connect`. */
export interface EndpointOptions {
  readonly ip?: string | undefined;
  readonly ip6?: string | undefined;
  /** --network-alias of `run`, --alias of `network connect`. */
  readonly aliases?: readonly string[] | undefined;
  /** Already in "NAME:ALIAS" form (container-flag-values.ts). */
  readonly links?: readonly string[] | undefined;
}

/** `run`'s options as commander hands them over, per-value checks done. */
export interface RunOptions {
  readonly detach?: boolean;
  readonly rm?: boolean;
  readonly name: string;
  readonly network?: readonly string[];
  readonly ip?: string;
  readonly ip6?: string;
  readonly networkAlias?: readonly string[];
  readonly link?: readonly string[];
  readonly hostname?: string;
  readonly dns?: readonly string[];
  readonly dnsSearch?: readonly string[];
  /** commander names `--dns-option`'s values after the flag, in the singular. */
  readonly dnsOption?: readonly string[];
  readonly createOnly?: boolean;
}

/** The request for attaching to `network` with `opts`. */
export function containerNetworkRequest(network: string, opts: EndpointOptions): ContainerNetworkRequest {
  return {
    network,
    ipv4Address: opts.ip ?? '',
    ipv6Address: opts.ip6 ?? '',
    aliases: [...(opts.aliases ?? [])],
    links: [...(opts.links ?? [])],
  };
}

/** Flags that configure an endpoint, so they need a --network to apply to (docker refuses them without). */
function endpointFlagsGiven(opts: RunOptions): string[] {
  return [
    opts.ip === undefined ? '' : '--ip',
    opts.ip6 === undefined ? '' : '--ip6',
    (opts.networkAlias ?? []).length === 0 ? '' : '--network-alias',
    (opts.link ?? []).length === 0 ? '' : '--link',
  ].filter((flag) => flag !== '');
}

/**
 * The daemon's request for `run`, after the checks across flags commander cannot express. As in
 * docker, --ip, --ip6, --network-alias and --link apply to the first --network; the others are
 * attached plainly, in the order given (eth0, eth1, ...).
 * @throws InvalidArgumentError naming the flag.
 */
export function runContainerRequest(opts: RunOptions, command: readonly string[]): RunContainerRequest {
  if (command.length === 0) {
    throw new InvalidArgumentError(
      'command',
      'no command given; write it after the options (vxmesh run --name NAME CMD [ARG...])',
    );
  }
  const networks = opts.network ?? [];
  const [first] = networks;
  if (first === undefined) {
    const [flag] = endpointFlagsGiven(opts);
    if (flag !== undefined) {
      throw new InvalidArgumentError(flag, 'needs a --network to apply to (it applies to the first one)');
    }
  }
  const seen = new Set<string>();
  for (const network of networks) {
    if (seen.has(network)) {
      throw new InvalidArgumentError('--network', `network "${network}" is specified multiple times`);
    }
    seen.add(network);
  }
  return {
    name: opts.name,
    hostname: opts.hostname ?? '',
    command: [...command],
    networks: networks.map((network, i) =>
      containerNetworkRequest(
        network,
        i === 0 ? { ip: opts.ip, ip6: opts.ip6, aliases: opts.networkAlias, links: opts.link } : {},
      ),
    ),
    dns: [...(opts.dns ?? [])],
    dnsSearch: [...(opts.dnsSearch ?? [])],
    dnsOptions: [...(opts.dnsOption ?? [])],
    autoRemove: opts.rm === true,
    createOnly: opts.createOnly === true,
  };
}
