import { NodeAvailability, NodeRole, NodeStatus } from '../gen/vxmesh/v1/node.js';

// Enum <-> text as docker spells it: lower case in JSON (`docker node inspect`), capitalised in
// tables (`docker node ls`). Values the CLI does not know (a newer daemon) read as "unknown"
// rather than failing, so listing keeps working across versions.

/** Roles a user may name on the command line. */
export const ROLE_NAMES = ['worker', 'manager'] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

/** Availabilities a user may name on the command line. */
export const AVAILABILITY_NAMES = ['active', 'pause', 'drain'] as const;
export type AvailabilityName = (typeof AVAILABILITY_NAMES)[number];

/** "manager", "worker" or "unknown". */
export function roleText(role: NodeRole): RoleName | 'unknown' {
  switch (role) {
    case NodeRole.NODE_ROLE_MANAGER: {
      return 'manager';
    }
    case NodeRole.NODE_ROLE_WORKER: {
      return 'worker';
    }
    default: {
      return 'unknown';
    }
  }
}

export function roleFromText(name: RoleName): NodeRole {
  return name === 'manager' ? NodeRole.NODE_ROLE_MANAGER : NodeRole.NODE_ROLE_WORKER;
}

/** "active", "pause", "drain" or "unknown". */
export function availabilityText(availability: NodeAvailability): AvailabilityName | 'unknown' {
  switch (availability) {
    case NodeAvailability.NODE_AVAILABILITY_ACTIVE: {
      return 'active';
    }
    case NodeAvailability.NODE_AVAILABILITY_PAUSE: {
      return 'pause';
    }
    case NodeAvailability.NODE_AVAILABILITY_DRAIN: {
      return 'drain';
    }
    default: {
      return 'unknown';
    }
  }
}

export function availabilityFromText(name: AvailabilityName): NodeAvailability {
  switch (name) {
    case 'active': {
      return NodeAvailability.NODE_AVAILABILITY_ACTIVE;
    }
    case 'pause': {
      return NodeAvailability.NODE_AVAILABILITY_PAUSE;
    }
    case 'drain': {
      return NodeAvailability.NODE_AVAILABILITY_DRAIN;
    }
  }
}

/**
 * Docker's node states: "ready", "down", "disconnected" or "unknown" (not reported yet).
 * Docker has the same "disconnected" state for a node whose heartbeats stopped inside the grace period.
 */
export function statusText(status: NodeStatus): 'ready' | 'down' | 'disconnected' | 'unknown' {
  switch (status) {
    case NodeStatus.NODE_STATUS_READY: {
      return 'ready';
    }
    case NodeStatus.NODE_STATUS_DOWN: {
      return 'down';
    }
    case NodeStatus.NODE_STATUS_DISCONNECTED: {
      return 'disconnected';
    }
    default: {
      return 'unknown';
    }
  }
}

/**
 * Docker's manager reachability: "reachable", "unreachable" or "unknown". The daemon sends ""
 * for workers; for a manager an empty or unexpected value means it could not tell.
 */
export function reachabilityText(reachability: string): 'reachable' | 'unreachable' | 'unknown' {
  return reachability === 'reachable' || reachability === 'unreachable' ? reachability : 'unknown';
}

/** Docker's `PrettyPrint` for enum text: first letter upper case ("ready" → "Ready"). */
export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
