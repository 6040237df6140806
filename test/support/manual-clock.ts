import type { Clock } from '../../src/common/clock.js';

interface Sleeper {
  readonly at: number;
  readonly resolve: () => void;
}

/** A clock that moves only when the test says so; sleepers wake in time order. */
export class ManualClock implements Clock {
  #now: number;
  #sleepers: Sleeper[] = [];

  constructor(start = Date.UTC(2026, 10, 22)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  /** Sleeps that are waiting, for tests that wait until code has gone to sleep. */
  get pendingSleeps(): number {
    return this.#sleepers.length;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const sleeper: Sleeper = {
        at: this.#now + Math.max(0, ms),
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => {
        this.#sleepers = this.#sleepers.filter((s) => s !== sleeper);
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#sleepers.push(sleeper);
    });
  }

  /** Moves time forward by `ms`, waking every sleeper that is due, earliest first. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    for (;;) {
      const due = this.#sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) {
        break;
      }
      this.#sleepers = this.#sleepers.filter((s) => s !== due);
      this.#now = Math.max(this.#now, due.at);
      due.resolve();
      await new Promise((r) => setImmediate(r));
    }
    this.#now = target;
  }

  /**
   * Moves time forward by `ms` in one step: every due sleeper wakes once, at the new time. Use it
   * for long spans where periodic loops need not run once per period (hours of heartbeats).
   */
  async jump(ms: number): Promise<void> {
    this.#now += ms;
    const due = this.#sleepers.filter((s) => s.at <= this.#now);
    this.#sleepers = this.#sleepers.filter((s) => s.at > this.#now);
    for (const s of due) {
      s.resolve();
    }
    await new Promise((r) => setImmediate(r));
  }
}
