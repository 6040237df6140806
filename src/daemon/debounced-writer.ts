import { createLogger } from '../common/logger.js';

const log = createLogger('daemon.writer');

/**
 * Runs `write` at most once per `delayMs` after `schedule()` calls, never two at once, and always
 * once more after the last call, so the newest state is what ends up written.
 */
export class DebouncedWriter {
  readonly #delayMs: number;
  readonly #write: () => Promise<void>;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #dirty = false;

  constructor(delayMs: number, write: () => Promise<void>) {
    this.#delayMs = delayMs;
    this.#write = write;
  }

  schedule(): void {
    this.#dirty = true;
    if (this.#timer) {
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#delayMs);
    this.#timer.unref();
  }

  /** Writes now if anything is pending, after any write in progress. */
  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#running = this.#running.then(async () => {
      if (!this.#dirty) {
        return;
      }
      this.#dirty = false;
      try {
        await this.#write();
      } catch (err) {
        log.error({ err }, 'saving state failed');
        this.#dirty = true;
      }
    });
    await this.#running;
  }
}
