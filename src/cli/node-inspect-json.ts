import type { NodeRecord } from './daemon-api.js';
import { hostPart } from './host-part.js';
import { availabilityText, reachabilityText, roleText, statusText } from './node-text.js';
import { rfc3339FromMillis } from './time-text.js';

/**
 * The subset of docker's `swarm.Node` (moby api/types/swarm/node.go) that vxmesh has, with
 * docker's field names, order and `omitempty` behaviour, so `jq` filters written for
 * `docker node inspect` work unchanged.
 */
export interface DockerNodeJson {
  readonly ID: string;
  readonly Version: { readonly Index: number };
  readonly CreatedAt: string;
  readonly UpdatedAt: string;
  readonly Spec: {
    readonly Labels: Readonly<Record<string, string>>;
    readonly Role: string;
    readonly Availability: string;
  };
  readonly Description: { readonly Hostname: string };
  readonly Status: { readonly State: string; readonly Addr?: string };
  /** Present only for managers, as in docker. */
  readonly ManagerStatus?: {
    /** Omitted unless true (docker's `omitempty`). */
    readonly Leader?: true;
    readonly Reachability: string;
    readonly Addr?: string;
  };
  /**
   * vxmesh's own addition (docker has no such field): the node agent as the answering manager
   * sees it. Present only while the node holds a session with that manager.
   */
  readonly Agent?: {
    readonly Session: string;
    readonly AppliedVersion: string;
    readonly Items: number;
    readonly LastError: string;
  };
}

/**
 * Converts a daemon node view into docker's inspect shape.
 * `Status.Addr` is the IP of the advertise address (docker shows the address the node connects
 * from, without a port); `ManagerStatus.Addr` is the full advertise "host:port".
 */
export function dockerNodeJson(view: NodeRecord): DockerNodeJson {
  const { node } = view;
  const statusAddr = hostPart(node.advertiseAddr);
  const json: DockerNodeJson = {
    ID: node.id,
    // Store revisions stay far below 2^53, so the number is exact.
    Version: { Index: Number(view.version) },
    CreatedAt: rfc3339FromMillis(node.createdAt),
    UpdatedAt: rfc3339FromMillis(node.updatedAt),
    Spec: { Labels: {}, Role: roleText(node.role), Availability: availabilityText(node.availability) },
    Description: { Hostname: node.hostname },
    Status: { State: statusText(node.status), ...(statusAddr === '' ? {} : { Addr: statusAddr }) },
  };
  const agent = view.agent
    ? {
        Agent: {
          Session: view.sessionState || 'connected',
          AppliedVersion: view.agent.appliedVersion,
          Items: view.agent.itemCount,
          LastError: view.agent.lastError,
        },
      }
    : {};
  if (roleText(node.role) !== 'manager') {
    return { ...json, ...agent };
  }
  return {
    ...json,
    ManagerStatus: {
      ...(view.leader ? { Leader: true } : {}),
      Reachability: reachabilityText(view.reachability),
      ...(node.advertiseAddr === '' ? {} : { Addr: node.advertiseAddr }),
    },
    ...agent,
  };
}

/** `node inspect` output: a JSON array indented with 4 spaces, as docker prints it, plus "\n". */
export function formatNodeInspect(nodes: readonly DockerNodeJson[]): string {
  return `${JSON.stringify(nodes, null, 4)}\n`;
}
