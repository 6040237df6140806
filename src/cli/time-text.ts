/** Go's zero `time.Time`, which docker prints for a time that was never set. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * Unix milliseconds as docker's JSON prints times (Go RFC 3339 with trailing fraction zeros
 * dropped): "2024-05-16T22:52:44.99Z", "2024-05-16T22:52:44Z". 0 means "never set" in proto3
 * and prints as Go's zero time, as docker does.
 */
export function rfc3339FromMillis(ms: bigint): string {
  if (ms === 0n) {
    return GO_ZERO_TIME;
  }
  return new Date(Number(ms)).toISOString().replace(/\.?0*Z$/, 'Z');
}

/**
 * Unix milliseconds as `docker node inspect --pretty` prints them: Go's `Time.String()` in UTC
 * passed through docker's PrettyPrint, which lower-cases everything after the first letter
 * ("2024-05-16 22:52:44.99 +0000 utc").
 */
export function prettyTimeFromMillis(ms: bigint): string {
  if (ms === 0n) {
    return '0001-01-01 00:00:00 +0000 utc';
  }
  const iso = new Date(Number(ms)).toISOString().replace(/\.?0*Z$/, '');
  return `${iso.replace('T', ' ')} +0000 utc`;
}
