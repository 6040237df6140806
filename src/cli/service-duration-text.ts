const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;
const NS_PER_MIN = 60n * NS_PER_S;
const NS_PER_H = 60n * NS_PER_MIN;

/** `whole` and `fraction` (of `scale`) as Go prints them: "1.5", "2", trailing zeros dropped. */
function withFraction(whole: bigint, fraction: bigint, digits: number): string {
  if (fraction === 0n) {
    return whole.toString();
  }
  return `${whole}.${fraction.toString().padStart(digits, '0').replace(/0+$/, '')}`;
}

/**
 * A duration in milliseconds as Go's `time.Duration.String()` writes it, which is how docker's
 * `service inspect --pretty` prints delays: "0s", "500ms", "1.5s", "2m0s", "1h30m0s".
 */
export function goDurationString(ms: bigint): string {
  const negative = ms < 0n;
  let ns = (negative ? -ms : ms) * NS_PER_MS;
  const sign = negative ? '-' : '';
  if (ns === 0n) {
    return '0s';
  }
  if (ns < NS_PER_S) {
    // Below a second Go picks the largest unit that keeps the value at least 1.
    return `${sign}${withFraction(ns / NS_PER_MS, ns % NS_PER_MS, 6)}ms`;
  }
  const hours = ns / NS_PER_H;
  ns %= NS_PER_H;
  const minutes = ns / NS_PER_MIN;
  ns %= NS_PER_MIN;
  const seconds = withFraction(ns / NS_PER_S, ns % NS_PER_S, 9);
  if (hours > 0n) {
    return `${sign}${hours}h${minutes}m${seconds}s`;
  }
  if (minutes > 0n) {
    return `${sign}${minutes}m${seconds}s`;
  }
  return `${sign}${seconds}s`;
}

/** Milliseconds as the nanoseconds docker's JSON carries durations in (Go's time.Duration). */
export function nanosFromMillis(ms: bigint): bigint {
  return ms * NS_PER_MS;
}
