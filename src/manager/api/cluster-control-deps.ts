import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { NodeRegistry } from '../node-registry.js';

/** What the cluster-control handlers work on. */
export interface ClusterControlDeps {
  readonly store: KvStore;
  readonly registry: NodeRegistry;
  readonly clock: Clock;
  /** ID of the manager that currently leads (the only manager, until leader election lands). */
  readonly leaderId: () => string;
}
