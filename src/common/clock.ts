import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Time as logic sees it; injected so leases, heartbeats and backoff can be tested with a manual clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepTimer(ms, undefined, signal ? { signal, ref: false } : { ref: false });
  },
};
