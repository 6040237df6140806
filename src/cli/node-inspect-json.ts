import type { EncryptionStatus, ResolverCounters } from '../gen/vxmesh/v1/dispatcher.js';
import type { NodeRecord } from './daemon-api.js';
import { hostPart } from '../common/net/host-part.js';
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
    /** The node's embedded DNS (127.0.0.11); absent when the agent reports none. */
    readonly Resolver?: DockerNodeResolverJson;
    /** Encrypted overlays on the node (`--opt encrypted`); absent when the agent reports none. */
    readonly Encryption?: DockerNodeEncryptionJson;
    /** Endpoints the node gave up whose removal the managers have not confirmed yet; absent when none. */
    readonly PendingDetaches?: number;
  };
}

/**
 * A node's encrypted overlays: whether its kernel can enforce them (when not, attaching to an
 * encrypted network fails there and `Error` says why), its keys, and per peer its SAs.
 */
export interface DockerNodeEncryptionJson {
  readonly Supported: boolean;
  /** Empty when everything is fine. */
  readonly Error: string;
  /** Tags of the keys the node holds, oldest first, and the one it transmits with (0: none). */
  readonly KeyTags: readonly number[];
  readonly TxKeyTag: number;
  /** Plaintext VXLAN for encrypted networks the node dropped. */
  readonly PlaintextDropped: number;
  /** The kernel's non-zero XFRM error counters (/proc/net/xfrm_stat), e.g. XfrmInStateProtoError. */
  readonly XfrmErrors: Readonly<Record<string, number>>;
  readonly Tunnels: readonly DockerNodeTunnelJson[];
}

/** The SAs between the node and one peer. */
export interface DockerNodeTunnelJson {
  readonly Node: string;
  readonly Addr: string;
  /** "up", "partial" (something missing: see Error) or "down". */
  readonly State: string;
  /** SPI of the outbound SA, "0x…"; "" without one. */
  readonly TxSPI: string;
  readonly TxPackets: number;
  /** Inbound SAs present (one per key of the ring). */
  readonly RxSAs: number;
  readonly RxPackets: number;
  /** Inbound packets dropped as replays, and failing the integrity check (a wrong or stale key). */
  readonly ReplayDropped: number;
  readonly IntegrityFailed: number;
}

function encryptionJson(e: EncryptionStatus): DockerNodeEncryptionJson {
  return {
    Supported: e.supported,
    Error: e.error,
    KeyTags: [...e.keyTags],
    TxKeyTag: e.txTag,
    PlaintextDropped: Number(e.plaintextDropped),
    XfrmErrors: Object.fromEntries(Object.entries(e.xfrmErrors).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Number(v)])),
    Tunnels: e.tunnels.map((t) => ({
      Node: t.nodeId,
      Addr: t.addr,
      State: t.state,
      TxSPI: t.txSpi === 0 ? '' : `0x${t.txSpi.toString(16).padStart(8, '0')}`,
      TxPackets: Number(t.txPackets),
      RxSAs: t.rxSas,
      RxPackets: Number(t.rxPackets),
      ReplayDropped: Number(t.replayDropped),
      IntegrityFailed: Number(t.integrityFailed),
    })),
  };
}

/**
 * The node's resolver counters, summed over its containers since its agent started. A query
 * forwarded to upstreams that all failed counts in both Forwarded and Failed.
 */
export interface DockerNodeResolverJson {
  readonly Queries: number;
  /** Answered from the cluster's records (NOERROR). */
  readonly Answered: number;
  readonly Forwarded: number;
  /** Cluster-shaped names that do not exist. */
  readonly NxDomain: number;
  /** FORMERR / NOTIMP / BADVERS answers and dropped messages. */
  readonly Malformed: number;
  readonly Refused: number;
  /** SERVFAIL: every upstream failed, or none to ask. */
  readonly Failed: number;
  /** Replies that could not be sent, TCP connections over the limit. */
  readonly Errors: number;
}

function resolverJson(c: ResolverCounters): DockerNodeResolverJson {
  // uint64 on the wire; counters since an agent's start stay far below 2^53.
  return {
    Queries: Number(c.queries),
    Answered: Number(c.answered),
    Forwarded: Number(c.forwarded),
    NxDomain: Number(c.nxDomain),
    Malformed: Number(c.malformed),
    Refused: Number(c.refused),
    Failed: Number(c.failed),
    Errors: Number(c.errors),
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
          ...(view.agent.resolver ? { Resolver: resolverJson(view.agent.resolver) } : {}),
          ...(view.agent.encryption ? { Encryption: encryptionJson(view.agent.encryption) } : {}),
          ...(view.agent.pendingDetaches ? { PendingDetaches: view.agent.pendingDetaches } : {}),
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
