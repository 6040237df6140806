import { createLogger } from '../../common/logger.js';
import type { KvStore } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import { Node } from '../../gen/vxmesh/v1/node.js';
import { Service } from '../../gen/vxmesh/v1/service.js';
import { Task } from '../../gen/vxmesh/v1/task.js';
import type { MessageCodec } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';

const log = createLogger('manager.services.mirror');

/** A record as last seen, with the revision of the write that produced it. */
export interface Mirrored<T> {
  readonly value: T;
  readonly modRevision: bigint;
}

/**
 * One prefix of the store held in memory, fed by a watch and by the writer's own committed
 * transactions (so a pass that runs before the watch catches up sees its own writes). A change
 * older than what is held is ignored, deletes included (tombstones until the watch passes them).
 */
export class MirrorTable<T> {
  readonly #entries = new Map<string, Mirrored<T>>();
  readonly #tombstones = new Map<string, bigint>();
  /** Highest revision the watch delivered. */
  #progress = 0n;

  get(id: string): Mirrored<T> | undefined {
    return this.#entries.get(id);
  }

  values(): IterableIterator<Mirrored<T>> {
    return this.#entries.values();
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Records a put; false when something newer is already known. */
  put(id: string, value: T, modRevision: bigint): boolean {
    const held = this.#entries.get(id);
    if ((held && held.modRevision >= modRevision) || (this.#tombstones.get(id) ?? -1n) >= modRevision) {
      return false;
    }
    this.#tombstones.delete(id);
    this.#entries.set(id, { value, modRevision });
    return true;
  }

  /** Records a delete at `revision`; false when the held record is newer. */
  delete(id: string, revision: bigint): boolean {
    const held = this.#entries.get(id);
    if (held && held.modRevision > revision) {
      return false;
    }
    this.#entries.delete(id);
    if (revision > this.#progress) {
      this.#tombstones.set(id, revision);
    }
    return true;
  }

  /** The watch reached `revision`: tombstones at or below it can no longer be contradicted. */
  observe(revision: bigint): void {
    if (revision <= this.#progress) {
      return;
    }
    this.#progress = revision;
    for (const [id, rev] of this.#tombstones) {
      if (rev <= revision) {
        this.#tombstones.delete(id);
      }
    }
  }

  /** Drops everything (the watch was reset and relists). */
  clear(): void {
    this.#entries.clear();
  }
}

/** Everything the mirror routes lives under this prefix. */
const ROOT = 'v1/';

/**
 * The records the orchestrator reasons about, mirrored in memory: services, tasks, nodes,
 * endpoints and networks. One watch over the whole key space, not one per prefix: events then
 * arrive in revision order across tables, so the mirror never holds a task without the node,
 * service or endpoints written before it (separate watches may lag each other, and "missing"
 * would read as "gone"). Keys of other kinds are skipped without decoding. `onChange` is called
 * after every relevant change.
 */
export class StoreMirror implements AsyncDisposable {
  readonly services = new MirrorTable<Service>();
  readonly tasks = new MirrorTable<Task>();
  readonly nodes = new MirrorTable<Node>();
  readonly endpoints = new MirrorTable<Endpoint>();
  readonly networks = new MirrorTable<Network>();
  readonly #routes: readonly Route[];
  readonly #store: KvStore;
  readonly #onChange: () => void;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(store: KvStore, onChange: () => void) {
    this.#store = store;
    this.#onChange = onChange;
    this.#routes = [
      route(storeKeys.servicesPrefix, Service, this.services),
      route(storeKeys.tasksPrefix, Task, this.tasks),
      route(storeKeys.nodesPrefix, Node, this.nodes),
      route(storeKeys.endpointsPrefix, Endpoint, this.endpoints),
      route(storeKeys.networksPrefix, Network, this.networks),
    ];
  }

  /** Starts the watch; resolves when the initial list is loaded. */
  async start(): Promise<void> {
    let onSynced!: () => void;
    const synced = new Promise<void>((resolve) => (onSynced = resolve));
    this.#loop = (async () => {
      try {
        for await (const ev of this.#store.watch(ROOT, { signal: this.#abort.signal })) {
          switch (ev.type) {
            case 'put': {
              if (this.#routeOf(ev.kv.key)?.put(ev.kv.key, ev.kv.value, ev.kv.modRevision)) {
                this.#onChange();
              }
              this.#observe(ev.kv.modRevision);
              break;
            }
            case 'delete': {
              if (this.#routeOf(ev.key)?.delete(ev.key, ev.modRevision)) {
                this.#onChange();
              }
              this.#observe(ev.modRevision);
              break;
            }
            case 'reset': {
              for (const r of this.#routes) {
                r.clear();
              }
              break;
            }
            case 'synced': {
              this.#observe(ev.revision);
              onSynced();
              this.#onChange();
              break;
            }
          }
        }
      } catch (err) {
        if (!this.#abort.signal.aborted) {
          log.error({ err }, 'watch ended');
        }
      }
      onSynced();
    })();
    await synced;
  }

  #routeOf(key: string): Route | undefined {
    return this.#routes.find((r) => key.startsWith(r.prefix));
  }

  #observe(revision: bigint): void {
    for (const r of this.#routes) {
      r.observe(revision);
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** One table's prefix and how its records decode. */
interface Route {
  readonly prefix: string;
  put(key: string, value: Uint8Array, modRevision: bigint): boolean;
  delete(key: string, modRevision: bigint): boolean;
  observe(revision: bigint): void;
  clear(): void;
}

function route<T>(prefix: string, codec: MessageCodec<T>, table: MirrorTable<T>): Route {
  const idOf = (key: string): string | undefined => {
    const id = key.slice(prefix.length);
    return id === '' || id.includes('/') ? undefined : id;
  };
  return {
    prefix,
    put: (key, value, modRevision) => {
      const id = idOf(key);
      if (id === undefined) {
        return false;
      }
      try {
        return table.put(id, codec.decode(value), modRevision);
      } catch (err) {
        log.error({ err, key }, 'undecodable record; ignored');
        return false;
      }
    },
    delete: (key, modRevision) => {
      const id = idOf(key);
      return id === undefined ? false : table.delete(id, modRevision);
    },
    observe: (revision) => table.observe(revision),
    clear: () => table.clear(),
  };
}
