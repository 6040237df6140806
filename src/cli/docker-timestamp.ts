import { parseGoDuration } from './go-duration.js';

/** Date, optional time (hours, minutes, seconds, fraction), optional zone: what docker's layouts accept. */
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|[+-]\d{2}:\d{2})?$/;
/** A Unix timestamp as docker passes it through: seconds, optionally with a fraction. */
const UNIX_TIME = /^(\d+)(?:\.(\d{1,9}))?$/;

/**
 * A point in time given the way docker's `until` filter takes it (docker/cli pkg
 * timetypes.GetTimestamp), as Unix milliseconds:
 * - a Go duration before `nowMs` ("24h", "90m"; but "0" is the Unix epoch);
 * - an RFC 3339 date or date-time, down to "2006-01-02", "2006-01-02T15" or "2006-01-02T15:04", with
 *   an optional fraction and zone ("Z", "+02:00"); without a zone it is local time, as in docker;
 * - a Unix timestamp in seconds, with an optional fraction ("1715899964.5").
 * @throws Error whose message says what is wrong with `value`.
 */
export function parseDockerTimestamp(value: string, nowMs: number): number {
  if (value !== '0') {
    try {
      return nowMs - parseGoDuration(value);
    } catch {
      // Not a duration: try the timestamp forms.
    }
  }
  const dateTime = DATE_TIME.exec(value);
  if (dateTime !== null) {
    return dateTimeMs(value, dateTime);
  }
  const unix = UNIX_TIME.exec(value);
  if (unix === null || value.includes('-')) {
    throw new Error(`failed to parse value as time or duration: "${value}"`);
  }
  return Number(unix[1]) * 1000 + fractionMs(unix[2]);
}

function fractionMs(digits: string | undefined): number {
  // Milliseconds are the store's resolution; finer digits are dropped, not rounded up.
  return Number((digits ?? '').padEnd(3, '0').slice(0, 3));
}

function dateTimeMs(value: string, match: RegExpExecArray): number {
  const [, year, month, day, hour = '0', minute = '0', second = '0', fraction, zone] = match;
  const fields = [year, month, day, hour, minute, second].map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const [y, mo, d, h, mi, s] = fields;
  const ms = fractionMs(fraction);
  // Date.UTC rolls over out-of-range fields ("2024-02-30"); Go rejects them, so check the round trip.
  const utc = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (
    utc.getUTCFullYear() !== y ||
    utc.getUTCMonth() !== mo - 1 ||
    utc.getUTCDate() !== d ||
    utc.getUTCHours() !== h ||
    utc.getUTCMinutes() !== mi ||
    utc.getUTCSeconds() !== s
  ) {
    throw new Error(`parsing time "${value}": a field is out of range`);
  }
  if (zone === undefined) {
    return new Date(y, mo - 1, d, h, mi, s, ms).getTime();
  }
  if (zone === 'Z') {
    return utc.getTime();
  }
  const sign = zone.startsWith('-') ? -1 : 1;
  const offsetMinutes = Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6));
  return utc.getTime() - sign * offsetMinutes * 60_000;
}
