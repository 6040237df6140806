const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const COMPONENT = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parses a duration in Go's `time.ParseDuration` syntax ("2160h", "1h30m", "1.5h", "0"), which is
 * what docker's `--cert-expiry` takes, and returns it in milliseconds. Signs are rejected: every
 * duration the CLI takes is a positive lifetime.
 * @throws Error whose message says what is wrong with `text`.
 */
export function parseGoDuration(text: string): number {
  if (text === '0') {
    return 0;
  }
  if (text === '') {
    throw new Error('empty duration');
  }
  let ms = 0;
  COMPONENT.lastIndex = 0;
  while (COMPONENT.lastIndex < text.length) {
    const start = COMPONENT.lastIndex;
    const match = COMPONENT.exec(text);
    if (match === null) {
      const rest = text.slice(start);
      throw new Error(
        /^\d/.test(rest)
          ? `missing or unknown unit in "${rest}" (use h, m, s, ms, us or ns)`
          : `cannot parse "${rest}"`,
      );
    }
    const [, amount = '', unit = ''] = match;
    ms += Number(amount) * (UNIT_MS[unit] ?? Number.NaN);
  }
  if (!Number.isFinite(ms)) {
    throw new Error('duration out of range');
  }
  return ms;
}
