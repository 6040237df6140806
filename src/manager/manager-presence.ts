import { NotFoundError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import type { Compare, KvStore } from '../kvstore/index.js';
import { storeKeys } from './store/store-keys.js';

const log = createLogger('manager.presence');

interface LiveManager {
  readonly addr: string;
  readonly createRevision: bigint;
}

/**
 * Managers announce themselves with a key on a lease they keep alive, and record the sessions
 * they hold on the same lease. When a manager dies its lease expires, and with it its presence
 * and its sessions, so every manager agrees on who serves and which nodes nobody is serving.
 * The leader is the live manager that announced itself first; {@link leaderFence} turns that into
 * a fencing condition for the leader's writes.
 */
export class ManagerPresence implements AsyncDisposable {
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #nodeId: string;
  readonly #ttlSeconds: number;
  readonly #abort = new AbortController();
  readonly #managers = new Map<string, LiveManager>();
  readonly #sessions = new Map<string, string>();
  readonly #leaseLostListeners = new Set<() => void>();
  #lease = 0n;
  #loops: Promise<void>[] = [];

  constructor(opts: { store: KvStore; clock: Clock; nodeId: string; ttlSeconds: number }) {
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#nodeId = opts.nodeId;
    this.#ttlSeconds = opts.ttlSeconds;
  }

  /** Announces this manager and starts following the others; resolves when both lists are loaded. */
  async start(advertiseAddr: string): Promise<void> {
    await this.#announce(advertiseAddr);
    const managersSynced = this.#follow(storeKeys.managersPrefix, (id, kv) => {
      if (kv) {
        this.#managers.set(id, { addr: kv.value, createRevision: kv.createRevision });
      } else {
        this.#managers.delete(id);
      }
    });
    const sessionsSynced = this.#follow(storeKeys.sessionsPrefix, (id, kv) => {
      if (kv) {
        this.#sessions.set(id, kv.value);
      } else {
        this.#sessions.delete(id);
      }
    });
    await Promise.all([managersSynced, sessionsSynced]);
    this.#loops.push(this.#keepAlive(advertiseAddr));
  }

  async #announce(advertiseAddr: string, signal?: AbortSignal): Promise<void> {
    const opts = signal ? { signal } : {};
    const lease = (await this.#store.grantLease(this.#ttlSeconds, opts)).id;
    await this.#store.put(storeKeys.manager(this.#nodeId), advertiseAddr, { lease, ...opts });
    this.#lease = lease;
  }

  #follow(
    prefix: string,
    apply: (id: string, kv: { value: string; createRevision: bigint } | undefined) => void,
  ): Promise<void> {
    let synced!: () => void;
    const ready = new Promise<void>((resolve) => (synced = resolve));
    const decoder = new TextDecoder();
    this.#loops.push(
      (async () => {
        try {
          for await (const ev of this.#store.watch(prefix, { signal: this.#abort.signal })) {
            if (ev.type === 'put') {
              apply(ev.kv.key.slice(prefix.length), { value: decoder.decode(ev.kv.value), createRevision: ev.kv.createRevision });
            } else if (ev.type === 'delete') {
              apply(ev.key.slice(prefix.length), undefined);
            } else if (ev.type === 'synced') {
              synced();
            }
          }
        } catch (err) {
          if (!this.#abort.signal.aborted) {
            log.error({ err, prefix }, 'presence watch ended');
          }
        }
        synced();
      })(),
    );
    return ready;
  }

  /**
   * Renews the lease every third of its TTL. Each renewal is bounded by that period: without a
   * quorum etcd holds a keep-alive until one is back, and a call left hanging would outlive the
   * lease. A store that does not answer is tried again every second; etcd extends every lease
   * when a new etcd leader takes over, so a quorum loss shorter than a few TTLs costs nothing.
   * Only a lease the store no longer knows (it ran out: a pause longer than the TTL, a partition)
   * makes this manager announce itself again, as the youngest, after telling the listeners of
   * {@link onLeaseLost} that every session it recorded is gone.
   */
  async #keepAlive(advertiseAddr: string): Promise<void> {
    const period = Math.floor((this.#ttlSeconds * 1000) / 3);
    let wait = period;
    let lost = false;
    while (!this.#abort.signal.aborted) {
      try {
        await this.#clock.sleep(wait, this.#abort.signal);
      } catch {
        return;
      }
      const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(period)]);
      try {
        if (lost) {
          await this.#announce(advertiseAddr, signal);
          lost = false;
          log.info({ nodeId: this.#nodeId }, 'manager announced again with a new lease');
        } else {
          await this.#store.keepAliveLease(this.#lease, { signal });
        }
        wait = period;
      } catch (err) {
        if (this.#abort.signal.aborted) {
          return;
        }
        if (!lost && err instanceof NotFoundError) {
          lost = true;
          log.warn({ nodeId: this.#nodeId }, 'manager lease ran out; its sessions are gone; announcing again');
          for (const listener of this.#leaseLostListeners) {
            try {
              listener();
            } catch (e) {
              log.error({ err: e }, 'lease-lost listener failed');
            }
          }
        } else {
          log.warn({ err }, lost ? 'could not announce this manager' : 'could not renew the manager lease');
        }
        wait = Math.min(period, 1000);
      }
    }
  }

  /**
   * Calls `listener` when this manager's lease ran out: the store has dropped its presence and
   * every session record on the lease, so the sessions it holds must be closed (their nodes open
   * new ones, possibly here again). Returns the function that unsubscribes.
   */
  onLeaseLost(listener: () => void): () => void {
    this.#leaseLostListeners.add(listener);
    return () => this.#leaseLostListeners.delete(listener);
  }

  /** Records that this manager now serves the node's session. */
  async claimSession(nodeId: string): Promise<void> {
    await this.#store.put(storeKeys.session(nodeId), this.#nodeId, { lease: this.#lease });
  }

  /**
   * The condition that fences a write this manager makes about a node whose session it holds:
   * the session record still names this manager. The record lives on this manager's lease, so
   * it is gone once the lease ran out (a pause, a partition from the store), and it names another
   * manager once the node moved there; either way the write fails instead of acting on a stale
   * view of the node's heartbeats.
   */
  sessionFence(nodeId: string): Compare {
    return { key: storeKeys.session(nodeId), target: 'value', op: '==', value: this.#nodeId };
  }

  /** Drops the session record if it is still ours (another manager may have taken it over). */
  async releaseSession(nodeId: string): Promise<void> {
    await this.#store.txn({
      compare: [{ key: storeKeys.session(nodeId), target: 'value', op: '==', value: this.#nodeId }],
      success: [{ type: 'delete', key: storeKeys.session(nodeId) }],
    });
  }

  /** The manager holding the node's session, if any live one does. */
  sessionHolder(nodeId: string): string | undefined {
    const holder = this.#sessions.get(nodeId);
    return holder !== undefined && this.#managers.has(holder) ? holder : undefined;
  }

  /** Cluster-API addresses of the live managers, oldest first (no store read). */
  managerAddrs(): string[] {
    return [...this.#managers.values()].sort((a, b) => (a.createRevision < b.createRevision ? -1 : 1)).map((m) => m.addr);
  }

  isServing(managerId: string): boolean {
    return this.#managers.has(managerId);
  }

  /** The live manager that announced itself first. */
  leaderId(): string {
    let best: [string, LiveManager] | undefined;
    for (const entry of this.#managers) {
      if (!best || entry[1].createRevision < best[1].createRevision) {
        best = entry;
      }
    }
    return best?.[0] ?? this.#nodeId;
  }

  /**
   * While this manager leads, the transaction condition that fences its writes: its presence key
   * still exists with the creation revision it had when it became the oldest. Leadership only
   * passes on when the leader's key disappears (its lease ran out: a crash, a long pause, a
   * partition) and an older key can never appear again, so a write guarded by this compare can
   * only commit while this manager really is the leader; a paused old leader's writes fail.
   * Undefined when this manager does not lead (as far as it has seen).
   */
  leaderFence(): Compare | undefined {
    const self = this.#managers.get(this.#nodeId);
    if (!self || this.leaderId() !== this.#nodeId) {
      return undefined;
    }
    return { key: storeKeys.manager(this.#nodeId), target: 'createRevision', op: '==', value: self.createRevision };
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    await Promise.all(this.#loops);
    // Leaving on purpose: withdraw at once instead of waiting for the lease to run out.
    await this.#store.revokeLease(this.#lease).catch((err: unknown) => log.warn({ err }, 'could not revoke the manager lease'));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
