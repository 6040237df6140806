import { setTimeout as sleepTimer } from 'node:timers/promises';

/** Time as logic sees it; injected so leases, heartbeats and backoff can be tested with a manual clock. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Node's timer ceiling (2^31 - 1 ms, about 24.8 days): a longer timer fires after 1 ms instead. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    const options = signal ? { signal, ref: false } : { ref: false };
    // Certificate renewal sleeps for weeks; longer sleeps are taken in steps under the ceiling.
    let left = ms;
    while (left > MAX_TIMER_MS) {
      await sleepTimer(MAX_TIMER_MS, undefined, options);
      left -= MAX_TIMER_MS;
    }
    await sleepTimer(left, undefined, options);
  },
};
