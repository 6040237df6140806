/**
 * Watches of the embedded store: the per-watch buffer and state machine. The store owns the
 * data and decides what each watch sees; this file only queues, hands out and ends.
 */
import { InternalError } from '../common/errors.js';
import type { WatchEvent } from './kv-store.js';
import { prefixEnd } from './kv-validation.js';

/** A committed change, shared by every watch it matches. */
export interface Change {
  readonly rev: number;
  readonly sub: number;
  readonly key: string;
  readonly event: WatchEvent;
}

/** Byte range of a prefix: `lo` inclusive, `hi` exclusive, `undefined` for no upper bound. */
export interface KeyRange {
  readonly lo: Buffer;
  readonly hi: Buffer | undefined;
}

/** Byte range of keys starting with `prefix`. */
export function prefixRange(prefix: string): KeyRange {
  // Only the empty prefix has no end: a UTF-8 string never consists of 0xff bytes only.
  return { lo: Buffer.from(prefix), hi: prefix === '' ? undefined : prefixEnd(prefix) };
}

/** What a watch needs from its store; kept apart so the store's internals stay private. */
export interface WatchHost {
  /** Fills the watch's first events (list or replay start); throws `ClosedError` after close. */
  start(w: EmbeddedWatch): void;
  /** Moves an unsynced watch forward from history, or resets it when that history is gone. */
  catchUp(w: EmbeddedWatch): void;
  detach(w: EmbeddedWatch): void;
}

export type WatchState = 'new' | 'live' | 'unsynced' | 'ended';

/**
 * One watch. States: `new` until the first `next()`; `live` while committed changes are pushed
 * to it; `unsynced` while it must read history from (cursorRev, cursorSub) before going live
 * again (replay from `fromRevision`, or after its buffer filled up); `ended` for good.
 */
export class EmbeddedWatch implements AsyncIterator<WatchEvent, undefined> {
  state: WatchState = 'new';
  /** Next history position to read while unsynced. */
  cursorRev = 0;
  cursorSub = 0;
  /** Live changes below this revision are not for us (a watch from a future revision). */
  minRev = 0;
  readonly range: KeyRange;
  #queue: WatchEvent[] = [];
  #head = 0;
  /**
   * How many of the queued events came from `offer` (live changes). They always sit at the tail:
   * lists and replays are queued only while nothing live is. Only these count against
   * `maxBuffered`, so a long initial list being read does not push the watch off live.
   */
  #offered = 0;
  #waiters: ((r: IteratorResult<WatchEvent, undefined>) => void)[] = [];
  readonly #onAbort = (): void => {
    this.end();
  };

  constructor(
    readonly host: WatchHost,
    readonly prefix: string,
    readonly fromRevision: number | undefined,
    readonly signal: AbortSignal | undefined,
    readonly maxBuffered: number,
  ) {
    this.range = prefixRange(prefix);
  }

  next(): Promise<IteratorResult<WatchEvent, undefined>> {
    try {
      if (this.state === 'new') {
        if (this.signal?.aborted === true) {
          this.state = 'ended';
        } else {
          this.signal?.addEventListener('abort', this.#onAbort, { once: true });
          this.host.start(this);
        }
      }
      for (;;) {
        const ev = this.#take();
        if (ev !== undefined) {
          return Promise.resolve({ value: ev, done: false });
        }
        if (this.state === 'ended') {
          return Promise.resolve({ value: undefined, done: true });
        }
        if (this.state === 'unsynced') {
          this.host.catchUp(this);
          continue;
        }
        return new Promise((resolve) => this.#waiters.push(resolve));
      }
    } catch (err) {
      this.end();
      return Promise.reject(err instanceof Error ? err : new InternalError(String(err)));
    }
  }

  return(): Promise<IteratorResult<WatchEvent, undefined>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Appends an event produced by the store itself (list, replay, reset). */
  push(ev: WatchEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter({ value: ev, done: false });
    } else {
      this.#queue.push(ev);
    }
  }

  /** Offers a committed change; ignored unless live and matching. */
  offer(c: Change): void {
    if (this.state !== 'live' || c.rev < this.minRev || !c.key.startsWith(this.prefix)) {
      return;
    }
    if (this.#offered >= this.maxBuffered) {
      // The consumer is not keeping up: stop buffering and catch up from history when it reads.
      this.state = 'unsynced';
      this.cursorRev = c.rev;
      this.cursorSub = c.sub;
      return;
    }
    this.push(c.event);
    this.#offered = Math.min(this.#offered + 1, this.#queue.length - this.#head);
  }

  /** Drops everything buffered (before a relist). */
  clear(): void {
    this.#queue = [];
    this.#head = 0;
    this.#offered = 0;
  }

  end(): void {
    if (this.state === 'ended') {
      return;
    }
    this.state = 'ended';
    this.clear();
    this.signal?.removeEventListener('abort', this.#onAbort);
    this.host.detach(this);
    for (const waiter of this.#waiters.splice(0)) {
      waiter({ value: undefined, done: true });
    }
  }

  #take(): WatchEvent | undefined {
    if (this.#head >= this.#queue.length) {
      return undefined;
    }
    const ev = this.#queue[this.#head++];
    this.#offered = Math.min(this.#offered, this.#queue.length - this.#head);
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return ev;
  }
}
