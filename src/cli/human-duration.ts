const SECOND_MS = 1000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;

/**
 * A duration as docker words it in `ps` (go-units `HumanDuration`): "Less than a second",
 * "1 second", "5 seconds", "About a minute", "12 minutes", "About an hour", "3 hours", "4 days",
 * "2 weeks", "3 months", "2 years". Each unit is truncated, except hours, which round to nearest.
 * A negative duration (a clock behind the daemon's) reads as "Less than a second", as in Go.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / SECOND_MS);
  if (seconds < 1) {
    return 'Less than a second';
  }
  if (seconds === 1) {
    return '1 second';
  }
  if (seconds < 60) {
    return `${seconds} seconds`;
  }
  const minutes = Math.trunc(ms / MINUTE_MS);
  if (minutes === 1) {
    return 'About a minute';
  }
  if (minutes < 60) {
    return `${minutes} minutes`;
  }
  const hours = Math.trunc(ms / HOUR_MS + 0.5);
  if (hours === 1) {
    return 'About an hour';
  }
  if (hours < 48) {
    return `${hours} hours`;
  }
  if (hours < 24 * 7 * 2) {
    return `${Math.trunc(hours / 24)} days`;
  }
  if (hours < 24 * 30 * 2) {
    return `${Math.trunc(hours / 24 / 7)} weeks`;
  }
  if (hours < 24 * 365 * 2) {
    return `${Math.trunc(hours / 24 / 30)} months`;
  }
  return `${Math.trunc(Math.trunc(ms / HOUR_MS) / 24 / 365)} years`;
}
