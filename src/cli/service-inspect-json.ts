import { ServiceMode } from '../gen/vxmesh/v1/service.js';
import type { PortConfig, ServiceSpec, UpdateStatus } from '../gen/vxmesh/v1/service.js';
import type { ServiceRecord } from './daemon-api.js';
import { goMap } from './go-map.js';
import { jsonText } from './json-text.js';
import { DEFAULT_UPDATE_PARALLELISM } from './service-create-spec.js';
import { nanosFromMillis } from './service-duration-text.js';
import { endpointModeText, protocolText, publishModeText, restartConditionText } from './service-text.js';
import { rfc3339FromMillis } from './time-text.js';

/** The managers' restart delay when the spec leaves it 0 (docker's default too). */
export const DEFAULT_RESTART_DELAY_MS = 5_000n;

/** docker's `swarm.PortConfig`, its empty fields omitted as Go's `omitempty` does. */
export interface DockerPortConfigJson {
  readonly Protocol: string;
  readonly TargetPort?: number;
  readonly PublishedPort?: number;
  readonly PublishMode: string;
}

/** docker's `swarm.EndpointSpec`. */
export interface DockerEndpointSpecJson {
  readonly Mode: string;
  readonly Ports?: readonly DockerPortConfigJson[];
}

/**
 * The part of docker's `swarm.ServiceSpec` a vxmesh service has, with docker's names, order and
 * `omitempty` behaviour. Durations are nanoseconds, as Go marshals a time.Duration. The command
 * is `ContainerSpec.Command`: vxmesh has no image whose entrypoint docker's `Args` would follow.
 */
export interface DockerServiceSpecJson {
  readonly Name: string;
  readonly Labels: Readonly<Record<string, string>>;
  readonly TaskTemplate: {
    readonly ContainerSpec: { readonly Command?: readonly string[] };
    readonly RestartPolicy: {
      readonly Condition: string;
      readonly Delay: bigint;
      readonly MaxAttempts: number;
    };
    readonly Placement: { readonly Constraints?: readonly string[] };
    readonly Networks?: readonly { readonly Target: string; readonly Aliases?: readonly string[] }[];
    readonly ForceUpdate: bigint;
  };
  readonly Mode: { readonly Replicated: { readonly Replicas: number } } | { readonly Global: Record<string, never> };
  readonly UpdateConfig: { readonly Parallelism: number; readonly Delay?: bigint };
  readonly EndpointSpec: DockerEndpointSpecJson;
}

/**
 * docker's `swarm.Service` (moby api/types/swarm/service.go) for a vxmesh service, with docker's
 * field names and order, so `jq` filters written for `docker service inspect` work unchanged.
 * `Endpoint` is what the managers allocated: the ports and one virtual IP per network (vip mode).
 */
export interface DockerServiceJson {
  readonly ID: string;
  /** The store revision of the record; `service update` sends it back. */
  readonly Version: { readonly Index: bigint };
  readonly CreatedAt: string;
  readonly UpdatedAt: string;
  readonly Spec: DockerServiceSpecJson;
  /** The spec before the last update; absent before any. */
  readonly PreviousSpec?: DockerServiceSpecJson;
  readonly Endpoint: {
    readonly Spec: DockerEndpointSpecJson;
    readonly Ports?: readonly DockerPortConfigJson[];
    readonly VirtualIPs?: readonly { readonly NetworkID: string; readonly Addr: string }[];
  };
  /** The last rolling update; absent before any. */
  readonly UpdateStatus?: {
    readonly State?: string;
    readonly StartedAt?: string;
    readonly CompletedAt?: string;
    readonly Message?: string;
  };
}

function portJson(port: PortConfig): DockerPortConfigJson {
  return {
    Protocol: protocolText(port.protocol),
    ...(port.targetPort === 0 ? {} : { TargetPort: port.targetPort }),
    ...(port.publishedPort === 0 ? {} : { PublishedPort: port.publishedPort }),
    PublishMode: publishModeText(port.publishMode),
  };
}

function endpointSpecJson(spec: ServiceSpec): DockerEndpointSpecJson {
  return {
    Mode: endpointModeText(spec.endpointMode),
    ...(spec.ports.length === 0 ? {} : { Ports: spec.ports.map(portJson) }),
  };
}

/**
 * A spec in docker's shape, with the managers' defaults filled in as docker's inspect shows them
 * (InsertDefaults): restart delay 5s, condition any, parallelism 1.
 */
export function dockerServiceSpecJson(spec: ServiceSpec): DockerServiceSpecJson {
  return {
    Name: spec.name,
    Labels: goMap(spec.labels),
    TaskTemplate: {
      ContainerSpec: spec.command.length === 0 ? {} : { Command: [...spec.command] },
      RestartPolicy: {
        Condition: restartConditionText(spec.restartCondition),
        Delay: nanosFromMillis(spec.restartDelayMs === 0n ? DEFAULT_RESTART_DELAY_MS : spec.restartDelayMs),
        MaxAttempts: spec.restartMaxAttempts,
      },
      Placement: spec.constraints.length === 0 ? {} : { Constraints: [...spec.constraints] },
      ...(spec.networks.length === 0
        ? {}
        : {
            Networks: spec.networks.map((n) => ({
              Target: n.network,
              ...(n.aliases.length === 0 ? {} : { Aliases: [...n.aliases] }),
            })),
          }),
      ForceUpdate: spec.forceUpdate,
    },
    Mode: spec.mode === ServiceMode.SERVICE_MODE_GLOBAL ? { Global: {} } : { Replicated: { Replicas: spec.replicas } },
    UpdateConfig: {
      Parallelism: spec.updateParallelism === 0 ? DEFAULT_UPDATE_PARALLELISM : spec.updateParallelism,
      ...(spec.updateDelayMs === 0n ? {} : { Delay: nanosFromMillis(spec.updateDelayMs) }),
    },
    EndpointSpec: endpointSpecJson(spec),
  };
}

function updateStatusJson(status: UpdateStatus): NonNullable<DockerServiceJson['UpdateStatus']> {
  return {
    ...(status.state === '' ? {} : { State: status.state }),
    ...(status.startedAt === 0n ? {} : { StartedAt: rfc3339FromMillis(status.startedAt) }),
    ...(status.completedAt === 0n ? {} : { CompletedAt: rfc3339FromMillis(status.completedAt) }),
    ...(status.message === '' ? {} : { Message: status.message }),
  };
}

/** Converts a daemon service view into docker's inspect shape. */
export function dockerServiceJson(record: ServiceRecord): DockerServiceJson {
  const { service } = record;
  const endpointSpec = endpointSpecJson(service.spec);
  return {
    ID: service.id,
    Version: { Index: record.version },
    CreatedAt: rfc3339FromMillis(service.createdAt),
    UpdatedAt: rfc3339FromMillis(service.updatedAt),
    Spec: dockerServiceSpecJson(service.spec),
    ...(service.previousSpec === undefined ? {} : { PreviousSpec: dockerServiceSpecJson(service.previousSpec) }),
    Endpoint: {
      Spec: endpointSpec,
      ...(endpointSpec.Ports === undefined ? {} : { Ports: endpointSpec.Ports }),
      ...(service.virtualIps.length === 0
        ? {}
        : { VirtualIPs: service.virtualIps.map((v) => ({ NetworkID: v.networkId, Addr: v.addr })) }),
    },
    ...(service.updateStatus === undefined ? {} : { UpdateStatus: updateStatusJson(service.updateStatus) }),
  };
}

/**
 * `service inspect` output, as docker's inspector writes it: a JSON array indented with 4 spaces
 * (every docker inspect command indents so), or with `--format json` the same array compact on
 * one line; then "\n".
 */
export function formatServiceInspect(services: readonly DockerServiceJson[], compact = false): string {
  return `${jsonText(services, compact ? '' : '    ')}\n`;
}
