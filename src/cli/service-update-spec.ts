import { InvalidArgumentError } from '../common/errors.js';
import { ServiceMode, ServiceSpec } from '../gen/vxmesh/v1/service.js';
import type { PortConfig, ServiceNetwork } from '../gen/vxmesh/v1/service.js';
import type { KeyValuePairs } from './network-flag-values.js';
import type { PortRemoval, ServiceNetworkOption } from './service-flag-values.js';
import { checkServiceSpec } from './service-spec-checks.js';
import { endpointModeFromText, protocolText, publishModeText, restartConditionFromText } from './service-text.js';
import type { EndpointModeName, RestartConditionName } from './service-text.js';

/** `service update`'s options as commander hands them over, per-value checks done. */
export interface ServiceUpdateOptions {
  readonly replicas?: number;
  readonly networkAdd?: readonly ServiceNetworkOption[];
  readonly networkRm?: readonly string[];
  readonly publishAdd?: readonly PortConfig[];
  readonly publishRm?: readonly PortRemoval[];
  readonly constraintAdd?: readonly string[];
  readonly constraintRm?: readonly string[];
  readonly labelAdd?: KeyValuePairs;
  readonly labelRm?: readonly string[];
  readonly endpointMode?: EndpointModeName;
  readonly restartCondition?: RestartConditionName;
  /** Milliseconds. */
  readonly restartDelay?: bigint;
  readonly restartMaxAttempts?: number;
  readonly updateParallelism?: number;
  /** Milliseconds. */
  readonly updateDelay?: bigint;
  readonly force?: boolean;
  readonly detach?: boolean;
  readonly quiet?: boolean;
}

/** The networks of `--network-add` and `--network-rm`, looked up by the command (spec networks are IDs). */
export interface ResolvedNetworks {
  /** `--network-add` in order, with the ID its ref resolved to. */
  readonly add: readonly { readonly id: string; readonly ref: string; readonly aliases: readonly string[] }[];
  /** IDs of the `--network-rm` networks. */
  readonly removeIds: ReadonlySet<string>;
}

function matchesRemoval(port: PortConfig, removal: PortRemoval): boolean {
  return (
    (removal.protocol === undefined || removal.protocol === protocolText(port.protocol)) &&
    (removal.mode === undefined || removal.mode === publishModeText(port.publishMode)) &&
    (removal.target === undefined || removal.target === port.targetPort) &&
    (removal.published === undefined || removal.published === port.publishedPort) &&
    (removal.either === undefined || removal.either === port.targetPort || removal.either === port.publishedPort)
  );
}

function samePublished(a: PortConfig, b: PortConfig): boolean {
  return (
    a.publishedPort !== 0 &&
    a.publishedPort === b.publishedPort &&
    protocolText(a.protocol) === protocolText(b.protocol)
  );
}

function sameMapping(a: PortConfig, b: PortConfig): boolean {
  return (
    a.targetPort === b.targetPort &&
    a.publishedPort === b.publishedPort &&
    protocolText(a.protocol) === protocolText(b.protocol) &&
    publishModeText(a.publishMode) === publishModeText(b.publishMode)
  );
}

/**
 * Ports after `--publish-rm` then `--publish-add`, as docker applies them. An added port whose
 * published port and protocol are already there replaces that mapping ("add or update"); an
 * exact duplicate is left as is.
 */
function updatedPorts(ports: readonly PortConfig[], opts: ServiceUpdateOptions): PortConfig[] {
  let result = ports.filter((port) => !(opts.publishRm ?? []).some((removal) => matchesRemoval(port, removal)));
  for (const added of opts.publishAdd ?? []) {
    if (result.some((port) => sameMapping(port, added))) {
      continue;
    }
    const at = result.findIndex((port) => samePublished(port, added));
    result = at < 0 ? [...result, added] : result.map((port, i) => (i === at ? added : port));
  }
  return result;
}

/**
 * Networks after `--network-rm` then `--network-add`. Unlike docker, which sorts them by ID, the
 * order is kept (new ones last): it is the tasks' interface order.
 * @throws InvalidArgumentError when an added network is already attached.
 */
function updatedNetworks(networks: readonly ServiceNetwork[], resolved: ResolvedNetworks): ServiceNetwork[] {
  const result = networks.filter((n) => !resolved.removeIds.has(n.network)).map((n) => ({ ...n }));
  for (const added of resolved.add) {
    if (result.some((n) => n.network === added.id)) {
      throw new InvalidArgumentError('--network-add', `service is already attached to network ${added.ref}`);
    }
    result.push({ network: added.id, aliases: [...added.aliases] });
  }
  return result;
}

/** A constraint without its spaces: "node.role == manager" and "node.role==manager" are one. */
function constraintKey(constraint: string): string {
  return constraint.replace(/\s+/g, '');
}

function updatedConstraints(constraints: readonly string[], opts: ServiceUpdateOptions): string[] {
  const removed = new Set((opts.constraintRm ?? []).map(constraintKey));
  const result = constraints.filter((c) => !removed.has(constraintKey(c)));
  for (const added of opts.constraintAdd ?? []) {
    if (!result.some((c) => constraintKey(c) === constraintKey(added))) {
      result.push(added);
    }
  }
  return result;
}

function updatedLabels(labels: Readonly<Record<string, string>>, opts: ServiceUpdateOptions): Record<string, string> {
  const result = { ...labels, ...Object.fromEntries(opts.labelAdd ?? []) };
  for (const key of opts.labelRm ?? []) {
    delete result[key];
  }
  return result;
}

/**
 * The spec `service update` sends: `current` (as read, with its version) edited by the flags, the
 * way docker/cli's updateService edits it client-side. `--force` bumps force_update so every
 * task is replaced although nothing else changed.
 * @throws InvalidArgumentError naming the flag.
 */
export function updatedServiceSpec(
  current: ServiceSpec,
  opts: ServiceUpdateOptions,
  networks: ResolvedNetworks,
): ServiceSpec {
  if (opts.replicas !== undefined && current.mode === ServiceMode.SERVICE_MODE_GLOBAL) {
    throw new InvalidArgumentError('--replicas', 'replicas can only be used with replicated mode');
  }
  const spec = ServiceSpec.create({
    ...current,
    replicas: opts.replicas ?? current.replicas,
    networks: updatedNetworks(current.networks, networks),
    ports: updatedPorts(current.ports, opts),
    endpointMode: opts.endpointMode === undefined ? current.endpointMode : endpointModeFromText(opts.endpointMode),
    constraints: updatedConstraints(current.constraints, opts),
    restartCondition:
      opts.restartCondition === undefined ? current.restartCondition : restartConditionFromText(opts.restartCondition),
    labels: updatedLabels(current.labels, opts),
    forceUpdate: opts.force === true ? current.forceUpdate + 1n : current.forceUpdate,
    restartDelayMs: opts.restartDelay ?? current.restartDelayMs,
    restartMaxAttempts: opts.restartMaxAttempts ?? current.restartMaxAttempts,
    updateParallelism: opts.updateParallelism ?? current.updateParallelism,
    updateDelayMs: opts.updateDelay ?? current.updateDelayMs,
  });
  checkServiceSpec(spec, { endpointMode: '--endpoint-mode', publish: '--publish-add' });
  return spec;
}
