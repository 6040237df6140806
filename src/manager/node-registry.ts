import { randomBytes } from 'node:crypto';
import { NotFoundError, VxmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import type { KvStore } from '../kvstore/index.js';
import type { NodeStatus } from '../gen/vxmesh/v1/node.js';
import { Node, NodeRole } from '../gen/vxmesh/v1/node.js';
import { encodeMessage } from './store/message-codec.js';
import { storeKeys } from './store/store-keys.js';

const log = createLogger('manager.node-registry');

/** A node record with the store revision it was read at (docker's Version.Index). */
export interface StoredNode {
  readonly node: Node;
  readonly modRevision: bigint;
}

export type NodeChange =
  { readonly type: 'put'; readonly node: Node } | { readonly type: 'removed'; readonly id: string };

/** 128 random bits in base 36, 25 characters: the shape of Swarm's IDs. */
export function newObjectId(): string {
  return BigInt(`0x${randomBytes(16).toString('hex')}`)
    .toString(36)
    .padStart(25, '0');
}

const MAX_CAS_ATTEMPTS = 50;

/**
 * The node records in the store, with a watch-fed cache for the authorization hot path.
 * Every write is a compare-and-swap on the record's modRevision, so concurrent managers never
 * overwrite each other's changes.
 */
export class NodeRegistry implements AsyncDisposable {
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #cache = new Map<string, Node>();
  readonly #listeners = new Set<(change: NodeChange) => void>();
  readonly #abort = new AbortController();
  #watchDone: Promise<void> | undefined;

  constructor(store: KvStore, clock: Clock) {
    this.#store = store;
    this.#clock = clock;
  }

  /** Starts following the store; resolves once the cache holds every node. */
  async start(): Promise<void> {
    let onSynced!: () => void;
    const synced = new Promise<void>((resolve) => (onSynced = resolve));
    this.#watchDone = this.#follow(onSynced);
    await Promise.race([synced, this.#watchDone]);
  }

  async #follow(onSynced: () => void): Promise<void> {
    try {
      for await (const ev of this.#store.watch(storeKeys.nodesPrefix, { signal: this.#abort.signal })) {
        switch (ev.type) {
          case 'put': {
            const node = Node.decode(ev.kv.value);
            this.#cache.set(node.id, node);
            this.#emit({ type: 'put', node });
            break;
          }
          case 'delete': {
            const id = ev.key.slice(storeKeys.nodesPrefix.length);
            this.#cache.delete(id);
            this.#emit({ type: 'removed', id });
            break;
          }
          case 'reset': {
            // Relist follows; anything not relisted is gone.
            for (const id of [...this.#cache.keys()]) {
              this.#cache.delete(id);
              this.#emit({ type: 'removed', id });
            }
            break;
          }
          case 'synced': {
            onSynced();
            break;
          }
        }
      }
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        log.error({ err }, 'node watch ended');
      }
    }
  }

  #emit(change: NodeChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        log.error({ err }, 'node change listener failed');
      }
    }
  }

  /** Calls `listener` for every later change; returns the function that unsubscribes. */
  subscribe(listener: (change: NodeChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The cached record, falling back to the store when the cache has not seen it yet. */
  async lookup(id: string): Promise<Node | undefined> {
    return this.#cache.get(id) ?? (await this.get(id))?.node;
  }

  async get(id: string): Promise<StoredNode | undefined> {
    const { kv } = await this.#store.get(storeKeys.node(id));
    return kv ? { node: Node.decode(kv.value), modRevision: kv.modRevision } : undefined;
  }

  /** Every node, read from the store (not the cache) so a caller sees its own writes. */
  async list(): Promise<StoredNode[]> {
    const out: StoredNode[] = [];
    let after: string | undefined;
    let revision: bigint | undefined;
    for (;;) {
      const page = await this.#store.range(storeKeys.nodesPrefix, {
        limit: 500,
        ...(after === undefined ? {} : { after }),
        ...(revision === undefined ? {} : { revision }),
      });
      for (const kv of page.kvs) {
        out.push({ node: Node.decode(kv.value), modRevision: kv.modRevision });
      }
      if (!page.more) {
        return out;
      }
      after = page.kvs[page.kvs.length - 1]?.key;
      revision = page.revision;
    }
  }

  /**
   * Resolves a full ID, a unique ID prefix or a hostname, as the docker CLI does.
   * @throws NotFoundError when nothing matches; VxmeshError INVALID_ARGUMENT when ambiguous.
   */
  async resolve(ref: string): Promise<StoredNode> {
    const nodes = await this.list();
    const exact = nodes.find((n) => n.node.id === ref);
    if (exact) {
      return exact;
    }
    const byName = nodes.filter((n) => n.node.hostname === ref);
    const byPrefix = nodes.filter((n) => ref.length > 0 && n.node.id.startsWith(ref));
    const matches = byName.length > 0 ? byName : byPrefix;
    if (matches.length === 1 && matches[0]) {
      return matches[0];
    }
    if (matches.length > 1) {
      throw new VxmeshError('INVALID_ARGUMENT', `node ${ref} is ambiguous (${matches.length} matches)`);
    }
    throw new NotFoundError('node', ref);
  }

  /** Creates a record; fails with ALREADY_EXISTS if the ID is taken. */
  async create(node: Node): Promise<StoredNode> {
    const now = BigInt(this.#clock.now());
    const record: Node = { ...node, createdAt: now, updatedAt: now };
    const key = storeKeys.node(node.id);
    const res = await this.#store.txn({
      compare: [{ key, target: 'version', op: '==', value: 0n }],
      success: [{ type: 'put', key, value: encodeMessage(Node, record) }],
    });
    if (!res.succeeded) {
      throw new VxmeshError('ALREADY_EXISTS', `node ${node.id} already exists`);
    }
    return { node: record, modRevision: res.revision };
  }

  /**
   * Applies `change` to the current record with compare-and-swap, retrying on conflict.
   * `change` may return the same object to mean "no write needed".
   * @throws NotFoundError when the node does not exist.
   */
  async update(id: string, change: (node: Node) => Node): Promise<StoredNode> {
    const key = storeKeys.node(id);
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = await this.get(id);
      if (!current) {
        throw new NotFoundError('node', id);
      }
      const next = change(current.node);
      if (next === current.node) {
        return current;
      }
      const record: Node = { ...next, updatedAt: BigInt(this.#clock.now()) };
      const res = await this.#store.txn({
        compare: [{ key, target: 'modRevision', op: '==', value: current.modRevision }],
        success: [{ type: 'put', key, value: encodeMessage(Node, record) }],
      });
      if (res.succeeded) {
        return { node: record, modRevision: res.revision };
      }
    }
    throw new VxmeshError('CONFLICT', `node ${id} is being changed concurrently; try again`);
  }

  /** Deletes the record; a missing node is NotFoundError. */
  async remove(id: string): Promise<void> {
    const res = await this.#store.delete(storeKeys.node(id));
    if (res.deleted === 0) {
      throw new NotFoundError('node', id);
    }
  }

  /** Sets the observed status when it differs; a no-op write is skipped. */
  async setStatus(id: string, status: NodeStatus): Promise<void> {
    await this.update(id, (n) => (n.status === status ? n : { ...n, status }));
  }

  /** Managers that are registered, for failover lists. */
  async managerAddrs(): Promise<string[]> {
    return (await this.list())
      .filter((n) => n.node.role === NodeRole.NODE_ROLE_MANAGER && n.node.advertiseAddr)
      .map((n) => n.node.advertiseAddr);
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#watchDone;
    this.#listeners.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
