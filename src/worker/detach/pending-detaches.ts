import { ClosedError, UnavailableError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import { PendingDetach } from '../../gen/vxmesh/v1/container.js';
import type { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { detachRetryDelayMs } from './detach-backoff.js';
import type { EndpointRelease, ReleaseOutcome } from './endpoint-release.js';
import { PendingDetachRecords } from './pending-detach-records.js';

const log = createLogger('worker.detach');

/**
 * An endpoint with no local owner is released only after it has stayed so this long with no
 * attach of its owner in flight: an attach commits the endpoint at the managers before the
 * container or attachment record that holds it is saved here.
 */
export const DEFAULT_ORPHAN_GRACE_MS = 30_000;
/** How often the assignments are checked for endpoints with no local owner while a session is up. */
export const DEFAULT_ORPHAN_SCAN_MS = 5_000;
/** The loop never spins faster than this, whatever the clock says is due. */
const MIN_WAKE_MS = 50;

/** What pending detaches need from the node; injected by the workload (tests pass fakes). */
export interface PendingDetachesDeps {
  readonly dataRoot: string;
  readonly clock: Clock;
  /** [0, 1) for the backoff's jitter; default Math.random. */
  readonly random?: () => number;
  /** The managers' DetachNetwork (ResourceClient.detach): resolves when the endpoint is gone, or was. */
  readonly detach: (endpointId: string, opts: { readonly signal: AbortSignal }) => Promise<void>;
  /** Whether a session with a manager is up: retries wait for one, and start at once when it comes. */
  readonly sessionUp: () => boolean;
  /**
   * Endpoints the managers hold on this node for standalone containers or attachments that no
   * local record holds, given the IDs pending detaches hold (unowned-endpoints.ts).
   */
  readonly unownedEndpoints: (pending: ReadonlySet<string>) => readonly Endpoint[];
  readonly orphanGraceMs?: number;
  readonly orphanScanMs?: number;
}

interface Entry {
  readonly record: PendingDetach;
  /** Failed attempts since the record was made; picks the next backoff. */
  attempt: number;
  /** Clock time of the next attempt. */
  nextAt: number;
  lastError: string;
}

/**
 * Endpoints this node gave up but the managers have not removed yet, kept on disk and retried
 * until they have (issue: `rm` with no quorum used to leave the endpoint, its address and its DNS
 * name in the store for ever). Level-triggered as the rest of the agent: besides the releases it
 * is told about, it releases any CONTAINER endpoint the assignments place on this node that no
 * local record holds (after {@link DEFAULT_ORPHAN_GRACE_MS}).
 *
 * Retries run while a session is up, with capped exponential backoff and jitter
 * (detach-backoff.ts), and all at once when a session is established. Removing an endpoint that
 * is already gone succeeds at the managers, so every retry is safe. A refusal for good
 * (PERMISSION_DENIED: the endpoint is another node's) drops the record with an error log.
 *
 * An attach goes through {@link attaching}: the managers answer a repeated attach of the same
 * owner with its existing endpoint, which must not be one being released.
 */
export class PendingDetaches implements AsyncDisposable {
  readonly #deps: PendingDetachesDeps;
  readonly #records: PendingDetachRecords;
  readonly #random: () => number;
  readonly #graceMs: number;
  readonly #scanMs: number;
  readonly #entries = new Map<string, Entry>();
  /** Detach calls in flight per endpoint, so the loop and an owner's flush never call twice at once. */
  readonly #inFlight = new Map<string, Promise<boolean>>();
  /** Attaches in flight per owner ID (a container attaches its networks one after another). */
  readonly #attaching = new Map<string, number>();
  /** Unowned endpoint ID → clock time since when it has been unowned with no attach of its owner running. */
  readonly #unownedSince = new Map<string, number>();
  /** The scan running now: an attach waits for it, so a scan never adds an endpoint an attach is given back. */
  #scanning: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();
  /** Aborted to wake the loop early (a new record, a new session). */
  #wake = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(deps: PendingDetachesDeps) {
    this.#deps = deps;
    this.#records = new PendingDetachRecords(deps.dataRoot);
    this.#random = deps.random ?? Math.random;
    this.#graceMs = deps.orphanGraceMs ?? DEFAULT_ORPHAN_GRACE_MS;
    this.#scanMs = deps.orphanScanMs ?? DEFAULT_ORPHAN_SCAN_MS;
  }

  /** Loads the records a previous daemon left; each is retried once a session is up. */
  async load(): Promise<void> {
    const now = this.#deps.clock.now();
    for (const record of await this.#records.loadAll()) {
      this.#entries.set(record.endpointId, { record, attempt: 0, nextAt: now, lastError: '' });
    }
    if (this.#entries.size > 0) {
      log.warn(
        { count: this.#entries.size },
        'endpoints from before the restart still wait for the managers to remove them',
      );
    }
  }

  /** Starts the retry loop (after load, and after the local records the orphan check reads are loaded). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** How many endpoints wait for the managers (`node inspect`). */
  get count(): number {
    return this.#entries.size;
  }

  /** The records waiting, oldest first. */
  list(): PendingDetach[] {
    return [...this.#entries.values()]
      .map((e) => e.record)
      .sort((a, b) => Number(a.since - b.since) || a.endpointId.localeCompare(b.endpointId));
  }

  /** Whether `endpointId` waits for the managers. */
  has(endpointId: string): boolean {
    return this.#entries.has(endpointId);
  }

  /**
   * Gives an endpoint back (the ReleaseEndpoint contract, endpoint-release.ts): one call to the
   * managers now, or none without a session; on failure the pending record is fsynced before
   * this resolves `deferred`.
   * @throws ClosedError after close; VxmeshError PERMISSION_DENIED / INVALID_ARGUMENT from the
   *   managers; the file system's error when the record cannot be written.
   */
  async release(release: EndpointRelease): Promise<ReleaseOutcome> {
    if (this.#abort.signal.aborted) {
      throw new ClosedError('pending detaches');
    }
    const known = this.#entries.get(release.endpointId);
    if (known) {
      return { state: 'deferred', reason: known.lastError || 'already waiting for the managers' };
    }
    try {
      if (!this.#deps.sessionUp()) {
        // No manager answers this node now: asking would hold the caller (rm, CNI DEL) for a
        // call timeout per manager; the next session retries at once instead.
        throw new UnavailableError('no session with a manager');
      }
      await this.#deps.detach(release.endpointId, { signal: this.#abort.signal });
      return { state: 'released' };
    } catch (err) {
      if (refusedForGood(err)) {
        throw err;
      }
      const reason = (err instanceof Error ? err.message : String(err)) || 'the managers did not answer';
      await this.#add(release, reason);
      log.warn(
        {
          endpointId: release.endpointId,
          owner: release.ownerName,
          network: release.networkName || release.networkId,
          reason,
        },
        'the managers could not remove the endpoint now; it is kept as a pending detach and retried',
      );
      return { state: 'deferred', reason };
    }
  }

  /**
   * Runs an attach for `ownerId`. First the owner's pending detaches are tried once: the managers
   * answer a repeated attach of an owner with its existing endpoint, which must not be one this
   * node is still releasing. While `attach` runs, the owner's endpoints are not taken for orphans.
   * @throws UnavailableError when an endpoint of the owner is still pending (the managers cannot
   *   be reached, so the attach could not succeed either); whatever `attach` throws.
   */
  async attaching<T>(ownerId: string, attach: () => Promise<T>): Promise<T> {
    await this.#scanning;
    this.#attaching.set(ownerId, (this.#attaching.get(ownerId) ?? 0) + 1);
    try {
      const mine = [...this.#entries.values()].filter((e) => e.record.ownerId === ownerId);
      for (const e of mine) {
        await this.#attempt(e.record.endpointId);
      }
      const left = mine.filter((e) => this.#entries.has(e.record.endpointId));
      const [first] = left;
      if (first) {
        throw new UnavailableError(
          `endpoint ${left.map((e) => e.record.endpointId).join(', ')} of ${first.record.ownerName || ownerId} ` +
            `is still being released (${first.lastError || 'no manager answered'}); try again once a manager is reachable`,
        );
      }
      return await attach();
    } finally {
      const n = (this.#attaching.get(ownerId) ?? 1) - 1;
      if (n > 0) {
        this.#attaching.set(ownerId, n);
      } else {
        this.#attaching.delete(ownerId);
      }
    }
  }

  /** A session with a manager was established: every pending detach is tried now. */
  sessionEstablished(): void {
    const now = this.#deps.clock.now();
    for (const e of this.#entries.values()) {
      e.nextAt = now;
    }
    this.#wake.abort();
  }

  /**
   * Records a pending detach (fsynced) and wakes the loop. `failed`: the release's own call just
   * failed with this reason, so the first retry waits one backoff step; '' (an orphan): at once.
   */
  async #add(release: EndpointRelease, failed: string): Promise<void> {
    const now = this.#deps.clock.now();
    const record = PendingDetach.fromPartial({ ...release, since: BigInt(now) });
    await this.#records.save(record);
    const entry: Entry =
      failed === ''
        ? { record, attempt: 0, nextAt: now, lastError: '' }
        : { record, attempt: 1, nextAt: now + detachRetryDelayMs(0, this.#random), lastError: failed };
    this.#entries.set(record.endpointId, entry);
    this.#wake.abort();
  }

  /** One detach call for a pending endpoint, shared with any caller already making it. @returns whether it is gone. */
  #attempt(endpointId: string): Promise<boolean> {
    const running = this.#inFlight.get(endpointId);
    if (running) {
      return running;
    }
    const attempt = this.#tryOnce(endpointId).finally(() => this.#inFlight.delete(endpointId));
    this.#inFlight.set(endpointId, attempt);
    return attempt;
  }

  async #tryOnce(endpointId: string): Promise<boolean> {
    const entry = this.#entries.get(endpointId);
    if (!entry) {
      return true;
    }
    const fields = {
      endpointId,
      owner: entry.record.ownerName,
      network: entry.record.networkName || entry.record.networkId,
    };
    try {
      await this.#deps.detach(endpointId, { signal: this.#abort.signal });
    } catch (err) {
      if (this.#abort.signal.aborted) {
        return false;
      }
      if (refusedForGood(err)) {
        log.error({ ...fields, err }, 'the managers refuse to remove the endpoint; dropping its pending detach');
        return this.#forget(entry);
      }
      entry.lastError = err instanceof Error ? err.message : String(err);
      entry.nextAt = this.#deps.clock.now() + detachRetryDelayMs(entry.attempt, this.#random);
      entry.attempt++;
      log.info(
        { ...fields, attempt: entry.attempt, err: entry.lastError },
        'pending detach failed again; retrying later',
      );
      return false;
    }
    const gone = await this.#forget(entry);
    log.info(
      { ...fields, pendingMs: this.#deps.clock.now() - Number(entry.record.since) },
      'pending detach done: the managers removed the endpoint',
    );
    return gone;
  }

  /** Removes the record; a record that cannot be removed stays, and the next (idempotent) attempt removes it. */
  async #forget(entry: Entry): Promise<boolean> {
    const { endpointId } = entry.record;
    try {
      await this.#records.remove(endpointId);
    } catch (err) {
      log.warn({ err, endpointId }, 'could not remove a pending detach record');
      return false;
    }
    if (this.#entries.get(endpointId) === entry) {
      this.#entries.delete(endpointId);
    }
    return true;
  }

  async #run(): Promise<void> {
    // Ends on close; each pass makes at most one call per pending endpoint, then sleeps.
    while (!this.#abort.signal.aborted) {
      if (this.#deps.sessionUp()) {
        const scan = this.#scanUnowned().catch((err: unknown) =>
          log.warn({ err }, 'could not check for endpoints without a local owner'),
        );
        this.#scanning = scan;
        await scan;
        await this.#retryDue();
      }
      const wake = this.#wake;
      try {
        await this.#deps.clock.sleep(this.#sleepMs(), AbortSignal.any([this.#abort.signal, wake.signal]));
      } catch {
        // Woken early, or closed (the loop condition ends it).
      }
      if (wake.signal.aborted && this.#wake === wake) {
        this.#wake = new AbortController();
      }
    }
  }

  #sleepMs(): number {
    if (!this.#deps.sessionUp()) {
      return this.#scanMs;
    }
    const now = this.#deps.clock.now();
    const next = Math.min(...[...this.#entries.values()].map((e) => e.nextAt));
    return Math.min(this.#scanMs, Math.max(MIN_WAKE_MS, next - now));
  }

  async #retryDue(): Promise<void> {
    const now = this.#deps.clock.now();
    const due = [...this.#entries.values()].filter((e) => e.nextAt <= now).map((e) => e.record.endpointId);
    for (const endpointId of due) {
      if (this.#abort.signal.aborted || !this.#deps.sessionUp()) {
        return;
      }
      await this.#attempt(endpointId);
    }
  }

  /** The level-triggered net: CONTAINER endpoints of this node that nothing local holds, after the grace. */
  async #scanUnowned(): Promise<void> {
    const now = this.#deps.clock.now();
    const unowned = this.#deps.unownedEndpoints(new Set(this.#entries.keys()));
    const seen = new Set(unowned.map((ep) => ep.id));
    for (const id of [...this.#unownedSince.keys()]) {
      if (!seen.has(id)) {
        this.#unownedSince.delete(id);
      }
    }
    for (const ep of unowned) {
      // Checked again after every await: an attach of the owner may have started meanwhile.
      if (this.#attaching.has(ep.ownerId) || this.#entries.has(ep.id)) {
        this.#unownedSince.set(ep.id, now);
        continue;
      }
      const since = this.#unownedSince.get(ep.id) ?? now;
      this.#unownedSince.set(ep.id, since);
      if (now - since < this.#graceMs) {
        continue;
      }
      this.#unownedSince.delete(ep.id);
      log.warn(
        { endpointId: ep.id, owner: ep.ownerName, ownerId: ep.ownerId, network: ep.networkId, ipv4: ep.ipv4Address },
        'an endpoint on this node has no local container or attachment; releasing it',
      );
      await this.#add(
        {
          endpointId: ep.id,
          networkId: ep.networkId,
          networkName: '',
          ownerId: ep.ownerId,
          ownerName: ep.ownerName,
          ipv4Address: ep.ipv4Address,
          origin: 'orphan',
        },
        '',
      );
    }
  }

  /** Stops the loop and waits for calls in flight; the records stay for the next daemon. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await Promise.all([...this.#inFlight.values()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Errors no retry can change: the endpoint is another node's, or the ID is malformed. */
function refusedForGood(err: unknown): boolean {
  return err instanceof VxmeshError && (err.code === 'PERMISSION_DENIED' || err.code === 'INVALID_ARGUMENT');
}
