import { AssignmentAction } from '../../gen/vxmesh/v1/dispatcher.js';
import type { AssignmentChange } from '../../gen/vxmesh/v1/dispatcher.js';
import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import type { ClusterView, ViewChange } from './cluster-view.js';
import { SentItems } from './sent-items.js';
import {
  NETWORK_KEYS_KEY,
  endpointItem,
  networkItem,
  networkKeysItem,
  peerItem,
  sameContent,
  serviceItem,
  taskItem,
} from './shared-items.js';
import type { SharedItem } from './shared-items.js';

/**
 * A node holds its task once the scheduler assigned it (its addresses exist), while it must run
 * or until it reported a state past RUNNING (it still has a container to stop); afterwards the
 * task is history only the managers keep.
 */
function taskConcernsNode(task: Task): boolean {
  const state = task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED;
  return (
    state >= TaskState.TASK_STATE_ASSIGNED &&
    (task.desiredState === TaskState.TASK_STATE_RUNNING || state <= TaskState.TASK_STATE_RUNNING)
  );
}

/** Above this many pending keys a flush recomputes the whole view instead of key by key. */
const DIRTY_LIMIT_FOR_FULL_DIFF = 5000;

/**
 * What one node must program, and what it was last sent. Changes in the cluster view only mark
 * keys dirty; a flush compares the desired item of each dirty key with what was sent and emits
 * the difference, so a burst of changes to one key costs one message and a node never hears of a
 * network it has no endpoint on.
 *
 * Keys: `network/<id>`, `endpoint/<id>`, `peer/<nodeId>`, `task/<id>`, `service/<id>`, and
 * `network-keys/cluster` (the IPsec keys, only for a node with an endpoint on an encrypted network).
 */
export class NodeAssignments {
  readonly #view: ClusterView;
  readonly #nodeId: string;
  /** The items last sent, shared with every other session that sent the same version. */
  readonly #sent = new SentItems();
  readonly #dirty = new Set<string>();
  #dirtyAll = false;

  constructor(view: ClusterView, nodeId: string) {
    this.#view = view;
    this.#nodeId = nodeId;
  }

  get pending(): number {
    return this.#dirtyAll ? Number.POSITIVE_INFINITY : this.#dirty.size;
  }

  /** Sizes of the state kept per session (for memory accounting and tests). */
  get sentCount(): number {
    return this.#sent.size;
  }

  /** Records which keys a view change may affect for this node. */
  mark(change: ViewChange): void {
    const self = this.#nodeId;
    switch (change.kind) {
      case 'reset':
      case 'network': {
        // Rare: recompute everything rather than track which endpoints hang off the network.
        this.#dirtyAll = true;
        return;
      }
      case 'node': {
        if (change.id !== self) {
          this.#dirty.add(`peer/${change.id}`);
        }
        return;
      }
      case 'task': {
        if (change.before?.nodeId === self || change.after?.nodeId === self) {
          this.#dirty.add(`task/${change.id}`);
        }
        return;
      }
      case 'service': {
        this.#dirty.add(`service/${change.id}`);
        return;
      }
      case 'keys': {
        this.#dirty.add(NETWORK_KEYS_KEY);
        return;
      }
      case 'endpoint': {
        const { before, after } = change;
        if (before?.nodeId === self || after?.nodeId === self) {
          // This node's own membership may have changed: whole networks appear or vanish.
          this.#dirtyAll = true;
          return;
        }
        for (const ep of [before, after]) {
          // Membership of this node only changes through its own endpoints (handled above), so
          // membership now is membership when the endpoint was last sent.
          if (ep && this.#view.isMember(ep.networkId, self)) {
            this.#dirty.add(`endpoint/${change.id}`);
            this.#dirty.add(`peer/${ep.nodeId}`);
          }
        }
        return;
      }
    }
  }

  #desired(key: string): SharedItem | undefined {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash);
    const id = key.slice(slash + 1);
    const view = this.#view;
    switch (kind) {
      case 'network': {
        const network = view.networks.get(id);
        return network && view.isMember(id, this.#nodeId) ? networkItem(id, network) : undefined;
      }
      case 'endpoint': {
        const endpoint = view.endpoints.get(id);
        return endpoint && view.networks.has(endpoint.networkId) && view.isMember(endpoint.networkId, this.#nodeId)
          ? endpointItem(id, endpoint)
          : undefined;
      }
      case 'peer': {
        const node = view.nodes.get(id);
        if (!node || id === this.#nodeId) {
          return undefined;
        }
        const shared = view.networksOf(this.#nodeId).some((n) => view.networks.has(n) && view.membersOf(n).has(id));
        return shared ? peerItem(id, node) : undefined;
      }
      case 'task': {
        const task = view.tasks.get(id);
        return task && task.nodeId === this.#nodeId && taskConcernsNode(task) ? taskItem(id, task) : undefined;
      }
      case 'service': {
        const service = view.services.get(id);
        if (!service) {
          return undefined;
        }
        for (const networkId of view.networksOfService(id)) {
          if (view.networks.has(networkId) && view.isMember(networkId, this.#nodeId)) {
            return serviceItem(id, service);
          }
        }
        return undefined;
      }
      case 'network-keys': {
        const keys = view.networkKeys;
        return keys && view.onEncryptedNetwork(this.#nodeId) ? networkKeysItem(keys) : undefined;
      }
      default: {
        return undefined;
      }
    }
  }

  #allDesiredKeys(): Set<string> {
    const keys = new Set<string>();
    if (this.#view.onEncryptedNetwork(this.#nodeId)) {
      keys.add(NETWORK_KEYS_KEY);
    }
    for (const taskId of this.#view.tasksOf(this.#nodeId)) {
      keys.add(`task/${taskId}`);
    }
    for (const networkId of this.#view.networksOf(this.#nodeId)) {
      if (!this.#view.networks.has(networkId)) {
        continue;
      }
      keys.add(`network/${networkId}`);
      for (const serviceId of this.#view.servicesOn(networkId)) {
        keys.add(`service/${serviceId}`);
      }
      for (const endpointId of this.#view.endpointsOf(networkId)) {
        keys.add(`endpoint/${endpointId}`);
      }
      for (const member of this.#view.membersOf(networkId).keys()) {
        if (member !== this.#nodeId) {
          keys.add(`peer/${member}`);
        }
      }
    }
    return keys;
  }

  /** Every item the node must have now; becomes the new "sent" state. */
  complete(): AssignmentChange[] {
    this.#dirty.clear();
    this.#dirtyAll = false;
    const items: SharedItem[] = [];
    const changes: AssignmentChange[] = [];
    for (const key of this.#allDesiredKeys()) {
      const item = this.#desired(key);
      if (item) {
        items.push(item);
        changes.push({ action: AssignmentAction.ASSIGNMENT_ACTION_UPDATE, assignment: item.assignment });
      }
    }
    this.#sent.reset(items);
    return changes;
  }

  /** The differences since the last flush or COMPLETE; empty when nothing this node needs changed. */
  flush(): AssignmentChange[] {
    let keys: Iterable<string> = this.#dirty;
    if (this.#dirtyAll || this.#dirty.size > DIRTY_LIMIT_FOR_FULL_DIFF) {
      const all = this.#allDesiredKeys();
      for (const key of this.#sent.keys()) {
        all.add(key);
      }
      keys = all;
    }
    const changes: AssignmentChange[] = [];
    for (const key of keys) {
      const item = this.#desired(key);
      const previous = this.#sent.get(key);
      if (item && previous && sameContent(item, previous)) {
        // Unchanged content (a record rewritten as it was): nothing to send. Hold the current
        // version so the old record can be collected.
        this.#sent.set(item);
      } else if (item) {
        this.#sent.set(item);
        changes.push({ action: AssignmentAction.ASSIGNMENT_ACTION_UPDATE, assignment: item.assignment });
      } else if (previous) {
        this.#sent.delete(key);
        // The item as this node last received it: the worker finds what to remove from it.
        changes.push({ action: AssignmentAction.ASSIGNMENT_ACTION_REMOVE, assignment: previous.assignment });
      }
    }
    this.#dirty.clear();
    this.#dirtyAll = false;
    return changes;
  }
}
