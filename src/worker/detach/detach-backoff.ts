/** First retry of a pending detach comes after about this long. */
export const DETACH_RETRY_BASE_MS = 500;
/** Retries never wait longer than this, so a returning manager is used within half a minute. */
export const DETACH_RETRY_MAX_MS = 30_000;

/**
 * Wait before retry number `attempt` (0 for the first retry): capped exponential backoff with
 * "equal jitter" (half fixed, half random), so the nodes that lost their managers together do not
 * come back in lockstep. Pure; `random` returns [0, 1).
 */
export function detachRetryDelayMs(
  attempt: number,
  random: () => number,
  baseMs = DETACH_RETRY_BASE_MS,
  maxMs = DETACH_RETRY_MAX_MS,
): number {
  // 2 ** 31 already exceeds any cap: keeps the power finite for absurd attempt counts.
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 31));
  return ceiling / 2 + random() * (ceiling / 2);
}
