/**
 * Unix milliseconds as Go's `time.Time.String()` prints a UTC time, which is what docker's
 * `{{.CreatedAt}}` gives for networks ("2024-05-16 22:52:44.991 +0000 UTC": fraction without
 * trailing zeros, no fraction when it is zero). 0 means "never set" in proto3 and prints as Go's
 * zero time, as docker does.
 */
export function goTimeString(ms: bigint): string {
  if (ms === 0n) {
    return '0001-01-01 00:00:00 +0000 UTC';
  }
  const iso = new Date(Number(ms)).toISOString().replace(/\.?0*Z$/, '');
  return `${iso.replace('T', ' ')} +0000 UTC`;
}
