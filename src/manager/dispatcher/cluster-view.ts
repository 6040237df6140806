import { createLogger } from '../../common/logger.js';
import type { KvStore } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { Network, NetworkKeyRing } from '../../gen/vxmesh/v1/network.js';
import type { NetworkKeys } from '../../gen/vxmesh/v1/dispatcher.js';
import { keyStoreKeys } from '../keys/key-store-keys.js';
import { Node } from '../../gen/vxmesh/v1/node.js';
import { PublishMode, Service } from '../../gen/vxmesh/v1/service.js';
import { Task } from '../../gen/vxmesh/v1/task.js';
import type { MessageCodec } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';

const log = createLogger('manager.cluster-view');

/** What changed, as keys only: consumers re-read the view (level-triggered, never trust events). */
export type ViewChange =
  | { readonly kind: 'network'; readonly id: string }
  | {
      readonly kind: 'endpoint';
      readonly id: string;
      /** Network and node of the endpoint before and after the change (either may be absent). */
      readonly before: Endpoint | undefined;
      readonly after: Endpoint | undefined;
    }
  | { readonly kind: 'node'; readonly id: string }
  /** Services concern every node on one of their networks; listeners decide from the view. */
  | { readonly kind: 'service'; readonly id: string }
  | {
      readonly kind: 'task';
      readonly id: string;
      /** The task before and after the change: only its node (either one) hears of it. */
      readonly before: Task | undefined;
      readonly after: Task | undefined;
    }
  /** The IPsec key ring changed: it concerns the nodes on encrypted networks. */
  | { readonly kind: 'keys' }
  | { readonly kind: 'reset' };

type Record = Network | Endpoint | Node | Service | Task | NetworkKeyRing;

/**
 * Networks a service is reachable on: those it has a virtual IP on, the networks of its spec
 * (dnsrr services have no VIP), and ingress when it publishes a port through the routing mesh.
 */
export function serviceNetworkIds(service: Service, ingressNetworkId: string | undefined): Set<string> {
  const ids = new Set(service.virtualIps.map((v) => v.networkId));
  for (const n of service.spec?.networks ?? []) {
    ids.add(n.network);
  }
  if (ingressNetworkId && service.spec?.ports.some((p) => p.publishMode !== PublishMode.PUBLISH_MODE_HOST)) {
    ids.add(ingressNetworkId);
  }
  return ids;
}

interface Table<T extends Record> {
  readonly prefix: string;
  readonly codec: MessageCodec<T>;
  readonly map: Map<string, T>;
}

/**
 * An in-memory copy of the records the dispatcher serves (networks, endpoints, nodes), fed by
 * store watches, with the indexes needed to answer "what does node X need" quickly.
 */
export class ClusterView implements AsyncDisposable {
  readonly networks = new Map<string, Network>();
  readonly endpoints = new Map<string, Endpoint>();
  readonly nodes = new Map<string, Node>();
  readonly services = new Map<string, Service>();
  readonly tasks = new Map<string, Task>();
  /** The stored IPsec key ring under its one key ("ring"). */
  readonly #keyRings = new Map<string, NetworkKeyRing>();
  /**
   * The ring's keys as nodes on encrypted networks receive them; one object per ring version,
   * so its encoding is cached like a record's.
   */
  networkKeys: NetworkKeys | undefined;
  /** node ID → IDs of the tasks placed on it. */
  readonly #tasksByNode = new Map<string, Set<string>>();
  /** network ID → IDs of the services reachable on it ({@link serviceNetworkIds}). */
  readonly #servicesByNetwork = new Map<string, Set<string>>();
  /** Networks each indexed service was filed under, to unfile it exactly. */
  readonly #serviceNetworks = new Map<string, Set<string>>();
  /** network ID → node ID → number of that node's endpoints on the network. */
  readonly #membership = new Map<string, Map<string, number>>();
  /** network ID → endpoint IDs. */
  readonly #endpointsByNetwork = new Map<string, Set<string>>();
  readonly #store: KvStore;
  readonly #abort = new AbortController();
  readonly #listeners = new Set<(changes: readonly ViewChange[], revision: bigint) => void>();
  /** Listeners that care about one node only; endpoint changes reach just the nodes they concern. */
  readonly #nodeListeners = new Map<string, Set<(changes: readonly ViewChange[], revision: bigint) => void>>();
  #watches: Promise<void>[] = [];
  /** Highest store revision applied to the view. */
  revision = 0n;

  constructor(store: KvStore) {
    this.#store = store;
  }

  /** Starts the watches; resolves when every table has its initial list. */
  async start(): Promise<void> {
    const tables: Table<Record>[] = [
      { prefix: storeKeys.networksPrefix, codec: Network, map: this.networks },
      { prefix: storeKeys.endpointsPrefix, codec: Endpoint, map: this.endpoints },
      { prefix: storeKeys.nodesPrefix, codec: Node, map: this.nodes },
      { prefix: storeKeys.servicesPrefix, codec: Service, map: this.services },
      { prefix: storeKeys.tasksPrefix, codec: Task, map: this.tasks },
      { prefix: keyStoreKeys.networkKeysPrefix, codec: NetworkKeyRing, map: this.#keyRings },
    ] as Table<Record>[];
    const synced = tables.map(() => {
      let resolve!: () => void;
      const p = new Promise<void>((r) => (resolve = r));
      return { p, resolve };
    });
    this.#watches = tables.map((t, i) => this.#follow(t, () => synced[i]?.resolve()));
    await Promise.all(synced.map((s) => s.p));
  }

  /**
   * Like `subscribe`, for a listener that serves one node: endpoint changes are delivered only
   * when they can matter to it (the endpoint is its own, or on a network it has an endpoint on,
   * before or after the change); node, network and reset changes always are. With N nodes each
   * on a few of many networks, this keeps a change from costing O(N).
   */
  subscribeNode(nodeId: string, listener: (changes: readonly ViewChange[], revision: bigint) => void): () => void {
    const set = this.#nodeListeners.get(nodeId) ?? new Set();
    set.add(listener);
    this.#nodeListeners.set(nodeId, set);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#nodeListeners.get(nodeId) === set) {
        this.#nodeListeners.delete(nodeId);
      }
    };
  }

  /** Calls `listener` with each batch of changes applied from one store event. */
  subscribe(listener: (changes: readonly ViewChange[], revision: bigint) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async #follow(table: Table<Record>, onSynced: () => void): Promise<void> {
    try {
      for await (const ev of this.#store.watch(table.prefix, { signal: this.#abort.signal })) {
        switch (ev.type) {
          case 'put': {
            const id = ev.kv.key.slice(table.prefix.length);
            if (id.includes('/')) {
              break;
            }
            let value: Record;
            try {
              value = table.codec.decode(ev.kv.value);
            } catch (err) {
              log.warn({ key: ev.kv.key, err }, 'skipping a record that does not decode');
              break;
            }
            this.#apply(table, id, value, ev.kv.modRevision);
            break;
          }
          case 'delete': {
            const id = ev.key.slice(table.prefix.length);
            if (!id.includes('/')) {
              this.#apply(table, id, undefined, ev.modRevision);
            }
            break;
          }
          case 'reset': {
            this.#clear(table);
            break;
          }
          case 'synced': {
            if (ev.revision > this.revision) {
              this.revision = ev.revision;
            }
            onSynced();
            break;
          }
        }
      }
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        log.error({ err, prefix: table.prefix }, 'watch ended');
      }
    }
  }

  #clear(table: Table<Record>): void {
    for (const id of [...table.map.keys()]) {
      this.#apply(table, id, undefined, this.revision);
    }
    this.#emit([{ kind: 'reset' }]);
  }

  #apply(table: Table<Record>, id: string, value: Record | undefined, revision: bigint): void {
    if (revision > this.revision) {
      this.revision = revision;
    }
    if (table.map === this.endpoints) {
      const before = this.endpoints.get(id);
      const after = value as Endpoint | undefined;
      if (before) {
        this.#unindex(before);
      }
      if (after) {
        this.endpoints.set(id, after);
        this.#index(after);
      } else {
        this.endpoints.delete(id);
      }
      this.#emit([{ kind: 'endpoint', id, before, after }]);
      return;
    }
    if (table.map === this.tasks) {
      const before = this.tasks.get(id);
      const after = value as Task | undefined;
      this.#fileTask(before, after);
      if (after) {
        this.tasks.set(id, after);
      } else {
        this.tasks.delete(id);
      }
      this.#emit([{ kind: 'task', id, before, after }]);
      return;
    }
    if (table.map === this.#keyRings) {
      const ring = value as NetworkKeyRing | undefined;
      if (ring) {
        this.#keyRings.set(id, ring);
      } else {
        this.#keyRings.delete(id);
      }
      const current = this.#keyRings.get('ring');
      this.networkKeys = current && current.keys.length > 0 ? { keys: current.keys } : undefined;
      this.#emit([{ kind: 'keys' }]);
      return;
    }
    if (value) {
      table.map.set(id, value);
    } else {
      table.map.delete(id);
    }
    if (table.map === this.services || table.map === this.networks) {
      this.#fileServices(table.map === this.services ? [id] : [...this.services.keys()]);
    }
    const kind = table.map === this.networks ? 'network' : table.map === this.services ? 'service' : 'node';
    this.#emit([{ kind, id }]);
  }

  #fileTask(before: Task | undefined, after: Task | undefined): void {
    if (before?.nodeId) {
      const ids = this.#tasksByNode.get(before.nodeId);
      ids?.delete(before.id);
      if (ids?.size === 0) {
        this.#tasksByNode.delete(before.nodeId);
      }
    }
    if (after?.nodeId) {
      const ids = this.#tasksByNode.get(after.nodeId) ?? new Set<string>();
      ids.add(after.id);
      this.#tasksByNode.set(after.nodeId, ids);
    }
  }

  /** Re-files services under their networks (a network change may make one the ingress). */
  #fileServices(serviceIds: readonly string[]): void {
    const ingress = this.ingressNetworkId();
    for (const id of serviceIds) {
      for (const networkId of this.#serviceNetworks.get(id) ?? []) {
        const ids = this.#servicesByNetwork.get(networkId);
        ids?.delete(id);
        if (ids?.size === 0) {
          this.#servicesByNetwork.delete(networkId);
        }
      }
      this.#serviceNetworks.delete(id);
      const service = this.services.get(id);
      if (!service) {
        continue;
      }
      const networks = serviceNetworkIds(service, ingress);
      this.#serviceNetworks.set(id, networks);
      for (const networkId of networks) {
        const ids = this.#servicesByNetwork.get(networkId) ?? new Set<string>();
        ids.add(id);
        this.#servicesByNetwork.set(networkId, ids);
      }
    }
  }

  /** The ingress network's ID, if one exists. */
  ingressNetworkId(): string | undefined {
    for (const network of this.networks.values()) {
      if (network.ingress) {
        return network.id;
      }
    }
    return undefined;
  }

  /** Tasks placed on a node. */
  tasksOf(nodeId: string): ReadonlySet<string> {
    return this.#tasksByNode.get(nodeId) ?? new Set<string>();
  }

  /** Services reachable on a network. */
  servicesOn(networkId: string): ReadonlySet<string> {
    return this.#servicesByNetwork.get(networkId) ?? new Set<string>();
  }

  /** Networks a service is reachable on, as last filed. */
  networksOfService(serviceId: string): ReadonlySet<string> {
    return this.#serviceNetworks.get(serviceId) ?? new Set<string>();
  }

  #index(ep: Endpoint): void {
    const members = this.#membership.get(ep.networkId) ?? new Map<string, number>();
    members.set(ep.nodeId, (members.get(ep.nodeId) ?? 0) + 1);
    this.#membership.set(ep.networkId, members);
    const ids = this.#endpointsByNetwork.get(ep.networkId) ?? new Set<string>();
    ids.add(ep.id);
    this.#endpointsByNetwork.set(ep.networkId, ids);
  }

  #unindex(ep: Endpoint): void {
    const members = this.#membership.get(ep.networkId);
    const count = (members?.get(ep.nodeId) ?? 0) - 1;
    if (members && count > 0) {
      members.set(ep.nodeId, count);
    } else if (members) {
      members.delete(ep.nodeId);
      if (members.size === 0) {
        this.#membership.delete(ep.networkId);
      }
    }
    const ids = this.#endpointsByNetwork.get(ep.networkId);
    ids?.delete(ep.id);
    if (ids?.size === 0) {
      this.#endpointsByNetwork.delete(ep.networkId);
    }
  }

  #emit(changes: readonly ViewChange[]): void {
    for (const l of this.#listeners) {
      this.#call(l, changes);
    }
    const targeted = changes.every((c) => c.kind === 'endpoint' || c.kind === 'task');
    if (!targeted) {
      for (const set of this.#nodeListeners.values()) {
        for (const l of set) {
          this.#call(l, changes);
        }
      }
      return;
    }
    const nodes = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'task') {
        for (const t of [c.before, c.after]) {
          if (t?.nodeId) {
            nodes.add(t.nodeId);
          }
        }
        continue;
      }
      if (c.kind !== 'endpoint') {
        continue;
      }
      for (const ep of [c.before, c.after]) {
        if (ep) {
          nodes.add(ep.nodeId);
          for (const member of this.membersOf(ep.networkId).keys()) {
            nodes.add(member);
          }
        }
      }
    }
    for (const nodeId of nodes) {
      for (const l of this.#nodeListeners.get(nodeId) ?? []) {
        this.#call(l, changes);
      }
    }
  }

  #call(l: (changes: readonly ViewChange[], revision: bigint) => void, changes: readonly ViewChange[]): void {
    try {
      l(changes, this.revision);
    } catch (err) {
      log.error({ err }, 'view listener failed');
    }
  }

  /** Nodes with at least one endpoint on the network. */
  membersOf(networkId: string): ReadonlyMap<string, number> {
    return this.#membership.get(networkId) ?? new Map<string, number>();
  }

  endpointsOf(networkId: string): ReadonlySet<string> {
    return this.#endpointsByNetwork.get(networkId) ?? new Set<string>();
  }

  /** Whether `nodeId` has an endpoint on `networkId`. */
  isMember(networkId: string, nodeId: string): boolean {
    return (this.#membership.get(networkId)?.get(nodeId) ?? 0) > 0;
  }

  /** Whether `nodeId` has an endpoint on an encrypted network (and so must hold the IPsec keys). */
  onEncryptedNetwork(nodeId: string): boolean {
    for (const [networkId, members] of this.#membership) {
      if (members.has(nodeId) && this.networks.get(networkId)?.encrypted === true) {
        return true;
      }
    }
    return false;
  }

  /** Networks `nodeId` has endpoints on. */
  networksOf(nodeId: string): string[] {
    const out: string[] = [];
    for (const [networkId, members] of this.#membership) {
      if (members.has(nodeId)) {
        out.push(networkId);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await Promise.all(this.#watches);
    this.#listeners.clear();
    this.#nodeListeners.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
