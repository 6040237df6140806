import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { Service } from '../../gen/vxmesh/v1/service.js';
import { Task } from '../../gen/vxmesh/v1/task.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';
import type { Mirrored, StoreMirror } from './store-mirror.js';
import { endpointDeleteOps, endpointNameKey, endpointPutOps } from './task-endpoints.js';
import { txnOrUncertain } from '../store/uncertain-commit.js';

/**
 * One orchestrator transaction, built from records as the mirror holds them: every write of an
 * existing record compares its modRevision (a stale mirror only costs a failed transaction, retried
 * next pass), every new record compares its absence, and the leader fence comes first. On
 * success the written records go into the mirror at once, so the next pass sees them even before
 * the watch delivers them.
 */
export class MirrorWrite {
  readonly #mirror: StoreMirror;
  readonly #compares: Compare[];
  readonly #ops: TxnOp[] = [];
  readonly #effects: ((revision: bigint) => void)[] = [];
  #committedAt: bigint | undefined;

  constructor(mirror: StoreMirror, fence: Compare) {
    this.#mirror = mirror;
    this.#compares = [fence];
  }

  /** Conditions and writes from elsewhere (network attach guards). */
  guard(compares: readonly Compare[], ops: readonly TxnOp[]): this {
    this.#compares.push(...compares);
    this.#ops.push(...ops);
    return this;
  }

  putTask(task: Task, held: Mirrored<Task> | undefined): this {
    const key = storeKeys.task(task.id);
    this.#compares.push(
      held
        ? { key, target: 'modRevision', op: '==', value: held.modRevision }
        : { key, target: 'version', op: '==', value: 0n },
    );
    this.#ops.push({ type: 'put', key, value: encodeMessage(Task, task) });
    this.#effects.push((rev) => this.#mirror.tasks.put(task.id, task, rev));
    return this;
  }

  deleteTask(held: Mirrored<Task>): this {
    const key = storeKeys.task(held.value.id);
    this.#compares.push({ key, target: 'modRevision', op: '==', value: held.modRevision });
    this.#ops.push({ type: 'delete', key });
    this.#effects.push((rev) => this.#mirror.tasks.delete(held.value.id, rev));
    return this;
  }

  /** A new endpoint (record, owner-name index, attachment) or a changed one (record only). */
  putEndpoint(endpoint: Endpoint, held: Mirrored<Endpoint> | undefined): this {
    if (held) {
      const key = storeKeys.endpoint(endpoint.id);
      this.#compares.push({ key, target: 'modRevision', op: '==', value: held.modRevision });
      this.#ops.push({ type: 'put', key, value: encodeMessage(Endpoint, endpoint) });
    } else {
      this.#compares.push(
        { key: storeKeys.endpoint(endpoint.id), target: 'version', op: '==', value: 0n },
        { key: endpointNameKey(endpoint), target: 'version', op: '==', value: 0n },
      );
      this.#ops.push(...endpointPutOps(endpoint));
    }
    this.#effects.push((rev) => this.#mirror.endpoints.put(endpoint.id, endpoint, rev));
    return this;
  }

  deleteEndpoint(held: Mirrored<Endpoint>): this {
    const endpoint = held.value;
    this.#compares.push({ key: storeKeys.endpoint(endpoint.id), target: 'modRevision', op: '==', value: held.modRevision });
    this.#ops.push(...endpointDeleteOps(endpoint));
    this.#effects.push((rev) => this.#mirror.endpoints.delete(endpoint.id, rev));
    return this;
  }

  putService(service: Service, held: Mirrored<Service>): this {
    const key = storeKeys.service(service.id);
    this.#compares.push({ key, target: 'modRevision', op: '==', value: held.modRevision });
    this.#ops.push({ type: 'put', key, value: encodeMessage(Service, service) });
    this.#effects.push((rev) => this.#mirror.services.put(service.id, service, rev));
    return this;
  }

  /**
   * Revision the transaction committed at; undefined before, after a failure, or when there was
   * nothing to write. Give-backs of addresses it removed are fenced by it (`releaseHeld`).
   */
  get committedAt(): bigint | undefined {
    return this.#committedAt;
  }

  get empty(): boolean {
    return this.#ops.length === 0;
  }

  /** Runs the transaction; true when it committed (and the mirror now holds the writes). */
  async commit(store: KvStore, opts: { readonly signal?: AbortSignal } = {}): Promise<boolean> {
    if (this.#ops.length === 0) {
      return true;
    }
    // A failure with an unknown outcome surfaces as UncertainCommitError: callers keep what it used.
    const res = await txnOrUncertain(store, { compare: this.#compares, success: this.#ops }, opts);
    if (res.succeeded) {
      this.#committedAt = res.revision;
      for (const effect of this.#effects) {
        effect(res.revision);
      }
    }
    return res.succeeded;
  }
}
