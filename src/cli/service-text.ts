import { EndpointMode, PublishMode, RestartCondition, ServiceMode } from '../gen/vxmesh/v1/service.js';
import { TaskState } from '../gen/vxmesh/v1/task.js';

// Service and task enums <-> the words docker uses for them: lower case in inspect JSON and on
// the command line, capitalised in `service ps`. Values this CLI does not know (a newer daemon)
// read as "unknown" rather than failing, so listing keeps working across versions.

/** `--mode` values. */
export const SERVICE_MODE_NAMES = ['replicated', 'global'] as const;
export type ServiceModeName = (typeof SERVICE_MODE_NAMES)[number];

/** `--endpoint-mode` values. */
export const ENDPOINT_MODE_NAMES = ['vip', 'dnsrr'] as const;
export type EndpointModeName = (typeof ENDPOINT_MODE_NAMES)[number];

/** `--restart-condition` values. */
export const RESTART_CONDITION_NAMES = ['any', 'on-failure', 'none'] as const;
export type RestartConditionName = (typeof RESTART_CONDITION_NAMES)[number];

/** `mode=` of `--publish`. */
export const PUBLISH_MODE_NAMES = ['ingress', 'host'] as const;
export type PublishModeName = (typeof PUBLISH_MODE_NAMES)[number];

/** Protocols a service may publish (the load balancer handles TCP and UDP only). */
export const PROTOCOL_NAMES = ['tcp', 'udp'] as const;
export type ProtocolName = (typeof PROTOCOL_NAMES)[number];

/** "replicated", "global" or "unknown"; UNSPECIFIED is the managers' default, replicated. */
export function serviceModeText(mode: ServiceMode): ServiceModeName | 'unknown' {
  switch (mode) {
    case ServiceMode.SERVICE_MODE_UNSPECIFIED:
    case ServiceMode.SERVICE_MODE_REPLICATED: {
      return 'replicated';
    }
    case ServiceMode.SERVICE_MODE_GLOBAL: {
      return 'global';
    }
    default: {
      return 'unknown';
    }
  }
}

export function serviceModeFromText(name: ServiceModeName): ServiceMode {
  return name === 'global' ? ServiceMode.SERVICE_MODE_GLOBAL : ServiceMode.SERVICE_MODE_REPLICATED;
}

/** "vip", "dnsrr" or "unknown"; UNSPECIFIED is the managers' default, vip. */
export function endpointModeText(mode: EndpointMode): EndpointModeName | 'unknown' {
  switch (mode) {
    case EndpointMode.ENDPOINT_MODE_UNSPECIFIED:
    case EndpointMode.ENDPOINT_MODE_VIP: {
      return 'vip';
    }
    case EndpointMode.ENDPOINT_MODE_DNSRR: {
      return 'dnsrr';
    }
    default: {
      return 'unknown';
    }
  }
}

export function endpointModeFromText(name: EndpointModeName): EndpointMode {
  return name === 'dnsrr' ? EndpointMode.ENDPOINT_MODE_DNSRR : EndpointMode.ENDPOINT_MODE_VIP;
}

/** "any", "on-failure", "none" or "unknown"; UNSPECIFIED is docker's default, any. */
export function restartConditionText(condition: RestartCondition): RestartConditionName | 'unknown' {
  switch (condition) {
    case RestartCondition.RESTART_CONDITION_UNSPECIFIED:
    case RestartCondition.RESTART_CONDITION_ANY: {
      return 'any';
    }
    case RestartCondition.RESTART_CONDITION_ON_FAILURE: {
      return 'on-failure';
    }
    case RestartCondition.RESTART_CONDITION_NONE: {
      return 'none';
    }
    default: {
      return 'unknown';
    }
  }
}

export function restartConditionFromText(name: RestartConditionName): RestartCondition {
  switch (name) {
    case 'on-failure': {
      return RestartCondition.RESTART_CONDITION_ON_FAILURE;
    }
    case 'none': {
      return RestartCondition.RESTART_CONDITION_NONE;
    }
    default: {
      return RestartCondition.RESTART_CONDITION_ANY;
    }
  }
}

/** "ingress", "host" or "unknown"; UNSPECIFIED is docker's default, ingress. */
export function publishModeText(mode: PublishMode): PublishModeName | 'unknown' {
  switch (mode) {
    case PublishMode.PUBLISH_MODE_UNSPECIFIED:
    case PublishMode.PUBLISH_MODE_INGRESS: {
      return 'ingress';
    }
    case PublishMode.PUBLISH_MODE_HOST: {
      return 'host';
    }
    default: {
      return 'unknown';
    }
  }
}

export function publishModeFromText(name: PublishModeName): PublishMode {
  return name === 'host' ? PublishMode.PUBLISH_MODE_HOST : PublishMode.PUBLISH_MODE_INGRESS;
}

/** A port's protocol as stored ("" means tcp, docker's default). */
export function protocolText(protocol: string): string {
  return protocol === '' ? 'tcp' : protocol;
}

const TASK_STATE_NAMES: Readonly<Partial<Record<TaskState, string>>> = {
  [TaskState.TASK_STATE_NEW]: 'new',
  [TaskState.TASK_STATE_PENDING]: 'pending',
  [TaskState.TASK_STATE_ASSIGNED]: 'assigned',
  [TaskState.TASK_STATE_ACCEPTED]: 'accepted',
  [TaskState.TASK_STATE_PREPARING]: 'preparing',
  [TaskState.TASK_STATE_READY]: 'ready',
  [TaskState.TASK_STATE_STARTING]: 'starting',
  [TaskState.TASK_STATE_RUNNING]: 'running',
  [TaskState.TASK_STATE_COMPLETE]: 'complete',
  [TaskState.TASK_STATE_SHUTDOWN]: 'shutdown',
  [TaskState.TASK_STATE_FAILED]: 'failed',
  [TaskState.TASK_STATE_REJECTED]: 'rejected',
  [TaskState.TASK_STATE_REMOVE]: 'remove',
  [TaskState.TASK_STATE_ORPHANED]: 'orphaned',
};

/** A task state as docker spells it in JSON and progress output ("running"), or "unknown". */
export function taskStateText(state: TaskState): string {
  return TASK_STATE_NAMES[state] ?? 'unknown';
}

/** docker's PrettyPrint of a state for `service ps`: first letter upper case ("Running"). */
export function prettyTaskState(state: TaskState): string {
  const text = taskStateText(state);
  return text.charAt(0).toUpperCase() + text.slice(1);
}
