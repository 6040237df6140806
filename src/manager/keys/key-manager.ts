/**
 * Keeps the cluster's IPsec key ring (key-ring.ts) in the store: creates it, rotates it every
 * period and on request. Runs on every manager but writes only while this manager leads: each
 * write is a transaction fenced by `ManagerPresence.leaderFence()` and compare-and-swap on the
 * ring as read, so a paused former leader's late write fails, and a lost race is retried by the
 * next check (level-triggered: every check re-reads the store).
 */
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KvStore } from '../../kvstore/index.js';
import { NetworkKeyRing } from '../../gen/vxmesh/v1/network.js';
import { encodeMessage } from '../store/message-codec.js';
import { DEFAULT_KEY_ROTATION_MS, cryptoKeyRandom, createKeyRing, rotateKeyRing, rotationDue } from './key-ring.js';
import type { KeyRandom } from './key-ring.js';
import { keyStoreKeys } from './key-store-keys.js';

const log = createLogger('manager.keys');

/** Options of {@link KeyManager}. */
export interface KeyManagerOptions {
  readonly store: KvStore;
  readonly clock: Clock;
  /** The compare fencing this manager's writes while it leads; undefined while it does not. */
  readonly leaderFence: () => Compare | undefined;
  /** Rotation period; default 12 h. */
  readonly rotationIntervalMs?: number;
  /** How often the ring is checked without a trigger; default a tenth of the period, at most 1 min. */
  readonly checkPeriodMs?: number;
  readonly random?: KeyRandom;
}

/** What one check did. */
export type KeyCheckResult = 'not-leader' | 'created' | 'rotated' | 'unchanged' | 'conflict';

/**
 * Asks for a rotation of the key ring. Any manager may: the leader rotates on its next check
 * (at once when it is this one). Each request is told apart by the store revision of its write;
 * requests made before a rotation are all honoured by it. The value is informational (when).
 */
export async function requestKeyRotation(store: KvStore, now: number): Promise<void> {
  await store.put(keyStoreKeys.networkKeyRotation, String(now));
}

/** Reads the stored ring, or undefined before the first leader created it. */
export async function readKeyRing(store: KvStore): Promise<{ ring: NetworkKeyRing; modRevision: bigint } | undefined> {
  const got = await store.get(keyStoreKeys.networkKeyRing);
  return got.kv === undefined
    ? undefined
    : { ring: NetworkKeyRing.decode(got.kv.value), modRevision: got.kv.modRevision };
}

/** Creates, rotates and guards the key ring; see the file comment. */
export class KeyManager implements AsyncDisposable {
  readonly #opts: KeyManagerOptions;
  readonly #interval: number;
  readonly #abort = new AbortController();
  #loops: Promise<void>[] = [];
  #wake: AbortController | undefined;
  #checking: Promise<KeyCheckResult> | undefined;
  #again = false;

  constructor(opts: KeyManagerOptions) {
    this.#opts = opts;
    this.#interval = opts.rotationIntervalMs ?? DEFAULT_KEY_ROTATION_MS;
    if (!Number.isSafeInteger(this.#interval) || this.#interval < 1000) {
      throw new RangeError(`key rotation interval ${this.#interval} ms: must be an integer of at least 1000`);
    }
  }

  /** The rotation period in force. */
  get rotationIntervalMs(): number {
    return this.#interval;
  }

  /** Starts checking: at once, on every change of the ring or a rotation request, and periodically. */
  start(): void {
    if (this.#loops.length > 0 || this.#abort.signal.aborted) {
      return;
    }
    this.#loops = [this.#periodic(), this.#follow()];
  }

  /**
   * Asks for a rotation now (stored, so a leader elsewhere honours it) and checks at once.
   * @returns 'rotated' once the ring honoured this request (here or by a check already running),
   *   else what the check found ('not-leader': the leader elsewhere will).
   */
  async rotateNow(): Promise<KeyCheckResult> {
    const { revision } = await this.#opts.store.put(keyStoreKeys.networkKeyRotation, String(this.#opts.clock.now()));
    const result = await this.check();
    const ring = await readKeyRing(this.#opts.store);
    return ring !== undefined && ring.ring.rotationRequestRevision >= revision ? 'rotated' : result;
  }

  /** One check (after the one running, if any): create the ring, or rotate it when due. */
  check(): Promise<KeyCheckResult> {
    if (this.#checking) {
      this.#again = true;
      return this.#checking;
    }
    this.#checking = (async () => {
      let result: KeyCheckResult;
      try {
        do {
          this.#again = false;
          result = await this.#checkOnce();
        } while (this.#again && !this.#abort.signal.aborted);
      } finally {
        this.#checking = undefined;
      }
      return result;
    })();
    return this.#checking;
  }

  async #checkOnce(): Promise<KeyCheckResult> {
    const fence = this.#opts.leaderFence();
    if (!fence) {
      return 'not-leader';
    }
    const { store, clock } = this.#opts;
    const random = this.#opts.random ?? cryptoKeyRandom;
    const [current, request] = await Promise.all([readKeyRing(store), store.get(keyStoreKeys.networkKeyRotation)]);
    const requested = request.kv?.modRevision ?? 0n;
    const now = clock.now();
    if (current === undefined) {
      const ring = createKeyRing(now, random);
      const res = await store.txn({
        compare: [fence, { key: keyStoreKeys.networkKeyRing, target: 'version', op: '==', value: 0n }],
        success: [
          {
            type: 'put',
            key: keyStoreKeys.networkKeyRing,
            value: encodeMessage(NetworkKeyRing, { ...ring, rotationRequestRevision: requested }),
          },
        ],
      });
      if (!res.succeeded) {
        return 'conflict';
      }
      log.info({ tags: ring.keys.map((k) => k.tag) }, 'network key ring created');
      return 'created';
    }
    if (!rotationDue(current.ring, now, this.#interval, requested)) {
      return 'unchanged';
    }
    const ring = rotateKeyRing(current.ring, now, random, requested);
    const res = await store.txn({
      compare: [
        fence,
        { key: keyStoreKeys.networkKeyRing, target: 'modRevision', op: '==', value: current.modRevision },
      ],
      success: [{ type: 'put', key: keyStoreKeys.networkKeyRing, value: encodeMessage(NetworkKeyRing, ring) }],
    });
    if (!res.succeeded) {
      return 'conflict';
    }
    log.info(
      { tags: ring.keys.map((k) => k.tag), requested: requested > current.ring.rotationRequestRevision },
      'network keys rotated',
    );
    return 'rotated';
  }

  async #periodic(): Promise<void> {
    const period = this.#opts.checkPeriodMs ?? Math.min(60_000, Math.max(1000, Math.floor(this.#interval / 10)));
    while (!this.#abort.signal.aborted) {
      await this.check().catch((err: unknown) => log.warn({ err }, 'network key check failed'));
      this.#wake = new AbortController();
      try {
        await this.#opts.clock.sleep(period, AbortSignal.any([this.#abort.signal, this.#wake.signal]));
      } catch {
        // Woken by a change, or closing.
      }
    }
  }

  async #follow(): Promise<void> {
    try {
      for await (const ev of this.#opts.store.watch('v1/network-key', { signal: this.#abort.signal })) {
        if (ev.type === 'put' || ev.type === 'delete') {
          this.#wake?.abort();
        }
      }
    } catch (err) {
      if (!this.#abort.signal.aborted) {
        log.warn({ err }, 'network key watch ended');
      }
    }
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    await Promise.all(this.#loops);
    await this.#checking?.catch(() => undefined);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
