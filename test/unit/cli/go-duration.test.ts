import { describe, expect, it } from 'vitest';
import { parseGoDuration } from '../../../src/cli/go-duration.js';

describe('parseGoDuration', () => {
  it.each([
    ['0', 0],
    ['2160h', 2160 * 3_600_000],
    ['2160h0m0s', 2160 * 3_600_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['.5s', 500],
    ['300ms', 300],
    ['1500us', 1.5],
    ['2µs', 0.002],
    ['1m1ms', 60_001],
  ])('parses %s', (text, ms) => {
    expect(parseGoDuration(text)).toBeCloseTo(ms, 9);
  });

  it.each([
    ['', /empty/],
    ['10', /missing or unknown unit/],
    ['1d', /missing or unknown unit/],
    ['-1h', /cannot parse "-1h"/],
    ['1h ', /cannot parse " "/],
    ['h', /cannot parse "h"/],
  ])('rejects %j', (text, message) => {
    expect(() => parseGoDuration(text)).toThrow(message);
  });
});
