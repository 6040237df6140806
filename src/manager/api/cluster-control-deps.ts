import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { AgentStatus, TaskLog } from '../../gen/vxmesh/v1/dispatcher.js';
import type { NodeRegistry } from '../node-registry.js';
import type { ServiceService } from '../services/service-service.js';

/** What the cluster-control handlers work on. */
export interface ClusterControlDeps {
  readonly store: KvStore;
  readonly registry: NodeRegistry;
  readonly clock: Clock;
  /** ID of the manager that currently leads. */
  readonly leaderId: () => string;
  /** Whether a manager is running and announced (its lease is alive). */
  readonly isServing: (managerId: string) => boolean;
  /** The agent status a node last reported to this manager, if it holds a session here. */
  readonly agentStatus: (nodeId: string) => AgentStatus | undefined;
  /** Asks a node with a session on this manager for its tasks' output (`service logs`). */
  readonly requestTaskLogs: (nodeId: string, taskIds: readonly string[], tail: number) => Promise<TaskLog[]>;
  /** Service and task records (create/update/remove/list/get, list tasks). */
  readonly services: ServiceService;
}
