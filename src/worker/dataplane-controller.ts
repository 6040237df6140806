import { setMaxListeners } from 'node:events';
import { createLogger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import type { NodeDataplaneSpec, ReconcileReport } from '../vxlan/dataplane-spec.js';

const log = createLogger('worker.dataplane');

/** What the controller drives: makes the kernel match a spec (see src/vxlan). */
export interface DataplaneReconciler {
  reconcile(spec: NodeDataplaneSpec, signal?: AbortSignal): Promise<ReconcileReport>;
}

export interface DataplaneControllerOptions {
  readonly driver: DataplaneReconciler;
  /** The spec to converge to now; undefined while the node cannot build one (not a member yet). */
  readonly desired: () => NodeDataplaneSpec | undefined;
  readonly clock: Clock;
  /** A full pass runs at least this often even without changes, repairing out-of-band tampering. */
  readonly resyncMs: number;
}

/**
 * Level-triggered: every trigger (assignments, containers, timer) only asks for a pass; a pass
 * recomputes the whole desired spec and lets the driver apply the difference. Requests that
 * arrive during a pass are merged into one more pass.
 */
export class DataplaneController implements AsyncDisposable {
  readonly #opts: DataplaneControllerOptions;
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #again = false;
  #loop: Promise<void> | undefined;
  lastReport: ReconcileReport | undefined;
  /** The spec of the last pass the driver completed: what the kernel was brought to. */
  lastSpec: NodeDataplaneSpec | undefined;
  lastError = '';
  passes = 0;

  constructor(opts: DataplaneControllerOptions) {
    this.#opts = opts;
    // Every command of a pass (up to 16 at once) listens on this signal: not a leak.
    setMaxListeners(0, this.#abort.signal);
  }

  start(): void {
    this.#loop = this.#resyncLoop();
  }

  /** Asks for a pass soon, without waiting for it. */
  request(): void {
    void this.reconcileNow().catch(() => undefined);
  }

  /** Runs a pass that starts after this call (joining one queued behind a running pass) and waits for it. */
  async reconcileNow(): Promise<void> {
    if (this.#running) {
      // The running pass loops once more for us before it resolves.
      this.#again = true;
      await this.#running;
      return;
    }
    this.#running = this.#pass();
    try {
      await this.#running;
    } finally {
      this.#running = undefined;
    }
  }

  async #pass(): Promise<void> {
    do {
      this.#again = false;
      const spec = this.#opts.desired();
      if (!spec || this.#abort.signal.aborted) {
        return;
      }
      try {
        this.lastReport = await this.#opts.driver.reconcile(spec, this.#abort.signal);
        this.lastSpec = spec;
        this.passes++;
        this.lastError = this.lastReport.errors.join('; ');
        if (this.lastError) {
          log.warn({ errors: this.lastReport.errors }, 'reconcile pass had errors');
        }
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
        log.error({ err }, 'reconcile pass failed');
      }
    } while (this.#again && !this.#abort.signal.aborted);
  }

  async #resyncLoop(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#opts.clock.sleep(this.#opts.resyncMs, this.#abort.signal);
      } catch {
        return;
      }
      await this.reconcileNow();
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#running;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
