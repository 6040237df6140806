import { InvalidArgumentError } from '../../common/errors.js';
import {
  EndpointMode,
  PublishMode,
  RestartCondition,
  ServiceMode,
  ServiceSpec,
} from '../../gen/vxmesh/v1/service.js';
import type { PortConfig, ServiceNetwork } from '../../gen/vxmesh/v1/service.js';
import { checkLabels } from '../network/network-labels.js';
import { parseConstraint } from './constraints.js';

/**
 * Service names: 1-63 ASCII letters, digits, '-' and '_', starting and ending with a letter or
 * digit (swarmkit's rule; '_' because `docker stack deploy` names services `<stack>_<service>`).
 * No dots: task names are `<service>.<slot>.<id>`.
 */
export const SERVICE_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

/** Network aliases: DNS names of up to 253 characters (dots allowed). */
const ALIAS_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

/**
 * Bounds that keep a service's create and update transactions under the store's 128 operations
 * per branch (record, indexes, port keys, attachment keys and network guards).
 */
export const MAX_SERVICE_PORTS = 32;
export const MAX_SERVICE_NETWORKS = 10;

/** Where a published port of 0 is picked from: docker's dynamic range for swarm services. */
export const DYNAMIC_PORT_MIN = 30000;
export const DYNAMIC_PORT_MAX = 32767;

/** Restart delay when the spec says 0 (docker's default). */
export const DEFAULT_RESTART_DELAY_MS = 5000;

const PROTOCOLS = ['tcp', 'udp'] as const;

/** `8080/tcp`, as messages show a published port. */
export function portLabel(port: Pick<PortConfig, 'publishedPort' | 'protocol'>): string {
  return `${port.publishedPort}/${port.protocol}`;
}

/** Whether any port goes through the routing mesh (needs ingress: a VIP and task endpoints there). */
export function hasIngressPorts(spec: Pick<ServiceSpec, 'ports'>): boolean {
  return spec.ports.some((p) => p.publishMode === PublishMode.PUBLISH_MODE_INGRESS);
}

/** The host-mode ports of a spec: what the node publishes straight to a task. */
export function hostPorts(spec: Pick<ServiceSpec, 'ports'>): PortConfig[] {
  return spec.ports.filter((p) => p.publishMode === PublishMode.PUBLISH_MODE_HOST);
}

function checkName(name: string): void {
  if (name === '') {
    throw new InvalidArgumentError('name', 'a service needs a name');
  }
  if (!SERVICE_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      'name',
      `${JSON.stringify(name)}: 1-63 ASCII letters, digits, '-' or '_', starting and ending with a letter or digit`,
    );
  }
}

function checkPort(port: PortConfig): PortConfig {
  const protocol = port.protocol === '' ? 'tcp' : port.protocol.toLowerCase();
  if (!PROTOCOLS.some((p) => p === protocol)) {
    throw new InvalidArgumentError('publish', `protocol ${JSON.stringify(port.protocol)}: use tcp or udp`);
  }
  for (const [what, value, min] of [
    ['target', port.targetPort, 1],
    ['published', port.publishedPort, 0],
  ] as const) {
    if (!Number.isInteger(value) || value < min || value > 65535) {
      throw new InvalidArgumentError('publish', `${what} port ${value}: must be from 1 to 65535`);
    }
  }
  let publishMode = port.publishMode;
  if (publishMode === PublishMode.PUBLISH_MODE_UNSPECIFIED) {
    publishMode = PublishMode.PUBLISH_MODE_INGRESS;
  }
  if (publishMode !== PublishMode.PUBLISH_MODE_INGRESS && publishMode !== PublishMode.PUBLISH_MODE_HOST) {
    throw new InvalidArgumentError('publish', `mode ${String(port.publishMode)}: use ingress or host`);
  }
  return { protocol, targetPort: port.targetPort, publishedPort: port.publishedPort, publishMode };
}

function checkNetworks(networks: readonly ServiceNetwork[]): ServiceNetwork[] {
  if (networks.length > MAX_SERVICE_NETWORKS) {
    throw new InvalidArgumentError('network', `a service has at most ${MAX_SERVICE_NETWORKS} networks`);
  }
  return networks.map((n) => {
    if (n.network === '') {
      throw new InvalidArgumentError('network', 'empty network name');
    }
    const aliases = [...new Set(n.aliases)];
    for (const alias of aliases) {
      if (!ALIAS_PATTERN.test(alias)) {
        throw new InvalidArgumentError(
          'network',
          `alias ${JSON.stringify(alias)}: letters, digits, '.', '-' and '_', starting and ending with a letter or digit`,
        );
      }
    }
    return { network: n.network, aliases };
  });
}

/**
 * Checks a service spec without the store and returns it with defaults filled in: mode
 * replicated, one replica when neither mode nor replicas is given (proto3 cannot tell an unset
 * `replicas` from `--replicas 0`, so 0 with an explicit replicated mode stays 0), endpoint mode
 * vip, ports tcp / ingress, restart condition any. Network references are left for the caller to
 * resolve; published ports of 0 are left for the caller to assign.
 * @throws InvalidArgumentError naming the flag: name, mode, replicas, network, publish,
 *   endpoint-mode, constraint, restart-condition, restart-delay, update-delay, label, command.
 */
export function checkServiceSpec(input: ServiceSpec | undefined): ServiceSpec {
  if (!input) {
    throw new InvalidArgumentError('spec', 'missing');
  }
  const spec = ServiceSpec.fromPartial(input);
  checkName(spec.name);

  let mode = spec.mode;
  let replicas = spec.replicas;
  if (mode === ServiceMode.SERVICE_MODE_UNSPECIFIED) {
    mode = ServiceMode.SERVICE_MODE_REPLICATED;
    if (replicas === 0) {
      replicas = 1;
    }
  }
  if (mode !== ServiceMode.SERVICE_MODE_REPLICATED && mode !== ServiceMode.SERVICE_MODE_GLOBAL) {
    throw new InvalidArgumentError('mode', `${String(spec.mode)}: use replicated or global`);
  }
  if (mode === ServiceMode.SERVICE_MODE_GLOBAL && replicas !== 0) {
    throw new InvalidArgumentError('replicas', 'replicas can only be used with replicated mode');
  }
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new InvalidArgumentError('replicas', `${replicas}: must be 0 or more`);
  }

  const networks = checkNetworks(spec.networks);

  if (spec.ports.length > MAX_SERVICE_PORTS) {
    throw new InvalidArgumentError('publish', `a service publishes at most ${MAX_SERVICE_PORTS} ports`);
  }
  const ports = spec.ports.map(checkPort);
  const seen = new Set<string>();
  for (const p of ports) {
    if (p.publishedPort === 0) {
      continue;
    }
    const label = portLabel(p);
    if (seen.has(label)) {
      throw new InvalidArgumentError('publish', `port ${label} is published twice`);
    }
    seen.add(label);
  }

  let endpointMode = spec.endpointMode;
  if (endpointMode === EndpointMode.ENDPOINT_MODE_UNSPECIFIED) {
    endpointMode = EndpointMode.ENDPOINT_MODE_VIP;
  }
  if (endpointMode !== EndpointMode.ENDPOINT_MODE_VIP && endpointMode !== EndpointMode.ENDPOINT_MODE_DNSRR) {
    throw new InvalidArgumentError('endpoint-mode', `${String(spec.endpointMode)}: use vip or dnsrr`);
  }
  if (endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR && hasIngressPorts({ ports })) {
    // Docker's rule: dnsrr has no VIP, and the routing mesh balances over a VIP.
    throw new InvalidArgumentError('endpoint-mode', "port published with ingress mode can't be used with dnsrr mode");
  }

  for (const c of spec.constraints) {
    parseConstraint(c);
  }

  let restartCondition = spec.restartCondition;
  if (restartCondition === RestartCondition.RESTART_CONDITION_UNSPECIFIED) {
    restartCondition = RestartCondition.RESTART_CONDITION_ANY;
  }
  if (
    restartCondition !== RestartCondition.RESTART_CONDITION_ANY &&
    restartCondition !== RestartCondition.RESTART_CONDITION_ON_FAILURE &&
    restartCondition !== RestartCondition.RESTART_CONDITION_NONE
  ) {
    throw new InvalidArgumentError('restart-condition', `${String(spec.restartCondition)}: use none, on-failure or any`);
  }
  if (spec.restartDelayMs < 0n) {
    throw new InvalidArgumentError('restart-delay', `${spec.restartDelayMs} ms: must not be negative`);
  }
  if (spec.updateDelayMs < 0n) {
    throw new InvalidArgumentError('update-delay', `${spec.updateDelayMs} ms: must not be negative`);
  }

  if (spec.command.length === 0 || spec.command[0] === '') {
    throw new InvalidArgumentError('command', 'a service needs a command to run');
  }
  checkLabels(spec.labels, 'label');

  return { ...spec, mode, replicas, networks, ports, endpointMode, restartCondition };
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ===
    JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/**
 * Whether tasks built from `before` must be replaced to run `after`: anything a task runs with
 * (command, networks with aliases, ports, endpoint mode) or `--force`. Replicas, constraints,
 * restart and update settings, labels: no (constraints move only the tasks that violate them).
 */
export function changesTasks(before: ServiceSpec, after: ServiceSpec): boolean {
  return (
    !sameJson(before.command, after.command) ||
    !sameJson(before.networks, after.networks) ||
    !sameJson(before.ports, after.ports) ||
    before.endpointMode !== after.endpointMode ||
    before.forceUpdate !== after.forceUpdate
  );
}
