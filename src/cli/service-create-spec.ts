import { InvalidArgumentError } from '../common/errors.js';
import { ServiceMode, ServiceSpec } from '../gen/vxmesh/v1/service.js';
import type { PortConfig } from '../gen/vxmesh/v1/service.js';
import type { KeyValuePairs } from './network-flag-values.js';
import { pairsToMap } from './network-flag-values.js';
import type { ServiceNetworkOption } from './service-flag-values.js';
import { checkServiceSpec } from './service-spec-checks.js';
import { endpointModeFromText, restartConditionFromText, serviceModeFromText } from './service-text.js';
import type { EndpointModeName, RestartConditionName, ServiceModeName } from './service-text.js';

/** docker's default `--update-parallelism`. */
export const DEFAULT_UPDATE_PARALLELISM = 1;

/** `service create`'s options as commander hands them over, per-value checks done. */
export interface ServiceCreateOptions {
  readonly name: string;
  readonly replicas?: number;
  readonly mode?: ServiceModeName;
  readonly network?: readonly ServiceNetworkOption[];
  readonly publish?: readonly PortConfig[];
  readonly endpointMode?: EndpointModeName;
  readonly constraint?: readonly string[];
  readonly restartCondition?: RestartConditionName;
  /** Milliseconds. */
  readonly restartDelay?: bigint;
  readonly restartMaxAttempts?: number;
  readonly updateParallelism?: number;
  /** Milliseconds. */
  readonly updateDelay?: bigint;
  readonly label?: KeyValuePairs;
  readonly detach?: boolean;
  readonly quiet?: boolean;
}

/**
 * The spec `service create` sends, after the checks across flags commander cannot express.
 * Networks go by the name or ID given (the managers resolve them) in the order given, which is
 * the tasks' interface order (eth0, eth1, ...).
 * @throws InvalidArgumentError naming the flag.
 */
export function serviceCreateSpec(opts: ServiceCreateOptions, command: readonly string[]): ServiceSpec {
  if (command.length === 0) {
    throw new InvalidArgumentError(
      'command',
      'no command given; write it after the options (vxmesh service create --name NAME [OPTIONS] CMD [ARG...])',
    );
  }
  const mode = serviceModeFromText(opts.mode ?? 'replicated');
  if (mode === ServiceMode.SERVICE_MODE_GLOBAL && opts.replicas !== undefined) {
    throw new InvalidArgumentError('--replicas', 'replicas can only be used with replicated mode');
  }
  const seen = new Set<string>();
  for (const { network } of opts.network ?? []) {
    if (seen.has(network)) {
      throw new InvalidArgumentError('--network', `network "${network}" is specified multiple times`);
    }
    seen.add(network);
  }
  const spec = ServiceSpec.create({
    name: opts.name,
    mode,
    replicas: mode === ServiceMode.SERVICE_MODE_GLOBAL ? 0 : (opts.replicas ?? 1),
    networks: (opts.network ?? []).map((n) => ({ network: n.network, aliases: [...n.aliases] })),
    ports: [...(opts.publish ?? [])],
    endpointMode: endpointModeFromText(opts.endpointMode ?? 'vip'),
    constraints: [...(opts.constraint ?? [])],
    restartCondition: restartConditionFromText(opts.restartCondition ?? 'any'),
    command: [...command],
    labels: pairsToMap(opts.label),
    restartDelayMs: opts.restartDelay ?? 0n,
    restartMaxAttempts: opts.restartMaxAttempts ?? 0,
    updateParallelism: opts.updateParallelism ?? DEFAULT_UPDATE_PARALLELISM,
    updateDelayMs: opts.updateDelay ?? 0n,
  });
  checkServiceSpec(spec, { endpointMode: '--endpoint-mode', publish: '--publish' });
  return spec;
}
