import { InvalidArgumentError as FlagValueError } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseDockerTimestamp } from '../../../src/cli/docker-timestamp.js';
import { goTimeString } from '../../../src/cli/go-time-string.js';
import { jsonText } from '../../../src/cli/json-text.js';
import {
  pairsToMap,
  parseAuxAddressFlag,
  parseIpListFlag,
  parseKeyValueFlag,
  parseLabelFlag,
} from '../../../src/cli/network-flag-values.js';
import type { KeyValuePairs } from '../../../src/cli/network-flag-values.js';
import { formatPruneReport } from '../../../src/cli/network-messages.js';
import { pruneNetworksRequest } from '../../../src/cli/network-prune-request.js';

function accumulate<T>(parse: (value: string, previous: T | undefined) => T, ...values: string[]): T | undefined {
  return values.reduce<T | undefined>((acc, v) => parse(v, acc), undefined);
}

describe('network create flag values', () => {
  it('-o/--opt and --ipam-opt: K=V or K alone (empty value); the last repeat wins', () => {
    const pairs = accumulate<KeyValuePairs>(
      parseKeyValueFlag,
      'encrypted',
      'com.docker.network.driver.mtu=1400',
      'a=b=c',
      'com.docker.network.driver.mtu=1350',
    );
    expect(pairsToMap(pairs)).toEqual({ encrypted: '', 'com.docker.network.driver.mtu': '1350', a: 'b=c' });
  });

  it('--label: like docker ValidateLabel, a name is required and may not contain whitespace', () => {
    expect(pairsToMap(accumulate<KeyValuePairs>(parseLabelFlag, 'team=web', 'frontend', 'note=a b'))).toEqual({
      team: 'web',
      frontend: '',
      note: 'a b',
    });
    expect(() => parseLabelFlag('=web', undefined)).toThrow(FlagValueError);
    expect(() => parseLabelFlag('  =web', undefined)).toThrow(/Empty label name/);
    expect(() => parseLabelFlag('my team=web', undefined)).toThrow(/'my team' contains whitespace/);
  });

  it('--aux-address: NAME=IP, refused without "=", a name or a valid IP', () => {
    expect(pairsToMap(accumulate<KeyValuePairs>(parseAuxAddressFlag, 'router=10.0.1.5', 'v6=fd00::5'))).toEqual({
      router: '10.0.1.5',
      v6: 'fd00::5',
    });
    for (const bad of ['router', '=10.0.1.5', 'router=', 'router=10.0.1', 'router=10.0.1.0/24']) {
      expect(() => parseAuxAddressFlag(bad, undefined), bad).toThrow(/Expected NAME=IP/);
    }
  });

  it('--gateway: repeatable and comma-separated like pflag IPSlice; only IP addresses', () => {
    expect(accumulate(parseIpListFlag, '10.0.1.1,10.0.2.1', 'fd00::1')).toEqual(['10.0.1.1', '10.0.2.1', 'fd00::1']);
    expect(() => parseIpListFlag('10.0.1.300', undefined)).toThrow(/"10.0.1.300" is not an IP address/);
    expect(() => parseIpListFlag('10.0.1.1/24', undefined)).toThrow(FlagValueError);
  });
});

describe('network prune filters', () => {
  const NOW = Date.UTC(2026, 7, 1, 12, 0, 0);

  it('sends label and label! values as given and resolves until against now', () => {
    expect(
      pruneNetworksRequest(
        [
          ['label', 'team=web'],
          ['label', 'keep'],
          ['label!', 'env=prod'],
          ['until', '24h'],
        ],
        NOW,
      ),
    ).toEqual({
      labelFilters: ['team=web', 'keep'],
      labelNotFilters: ['env=prod'],
      until: BigInt(NOW - 86_400_000),
    });
    expect(pruneNetworksRequest([], NOW)).toEqual({ labelFilters: [], labelNotFilters: [], until: 0n });
  });

  it('refuses other keys, two untils and unparsable times', () => {
    expect(() => pruneNetworksRequest([['name', 'x']], NOW)).toThrow("invalid filter 'name'");
    expect(() =>
      pruneNetworksRequest(
        [
          ['until', '1h'],
          ['until', '2h'],
        ],
        NOW,
      ),
    ).toThrow('more than one until filter specified');
    expect(() => pruneNetworksRequest([['until', 'yesterday']], NOW)).toThrow(
      'invalid until filter: failed to parse value as time or duration: "yesterday"',
    );
  });

  it('an until at or before the epoch selects nothing (the request would read it as "no limit")', () => {
    expect(pruneNetworksRequest([['until', '0']], NOW)).toBeUndefined();
    expect(pruneNetworksRequest([['until', '1969-12-31T00:00:00Z']], NOW)).toBeUndefined();
  });

  it('prints docker’s report, or nothing when nothing was removed', () => {
    expect(formatPruneReport(['appnet', 'backend2'])).toBe('Deleted Networks:\nappnet\nbackend2\n\n');
    expect(formatPruneReport([])).toBe('');
  });
});

describe('parseDockerTimestamp', () => {
  const NOW = Date.UTC(2026, 7, 1, 12, 0, 0);

  it('takes Go durations back from now', () => {
    expect(parseDockerTimestamp('90m', NOW)).toBe(NOW - 5_400_000);
    expect(parseDockerTimestamp('1h30m', NOW)).toBe(NOW - 5_400_000);
  });

  it('takes RFC 3339 dates and times with a zone', () => {
    expect(parseDockerTimestamp('2026-07-30T08:00:00Z', NOW)).toBe(Date.UTC(2026, 6, 30, 8));
    expect(parseDockerTimestamp('2026-07-30T08:00:00.123456789Z', NOW)).toBe(Date.UTC(2026, 6, 30, 8, 0, 0, 123));
    expect(parseDockerTimestamp('2026-07-30T10:00:00+02:00', NOW)).toBe(Date.UTC(2026, 6, 30, 8));
    expect(parseDockerTimestamp('2026-07-30T08:00-01:30', NOW)).toBe(Date.UTC(2026, 6, 30, 9, 30));
  });

  it('takes dates and times without a zone as local time', () => {
    expect(parseDockerTimestamp('2026-07-30', NOW)).toBe(new Date(2026, 6, 30).getTime());
    expect(parseDockerTimestamp('2026-07-30T08', NOW)).toBe(new Date(2026, 6, 30, 8).getTime());
  });

  it('takes Unix timestamps, "0" included', () => {
    expect(parseDockerTimestamp('1785398400', NOW)).toBe(1_785_398_400_000);
    expect(parseDockerTimestamp('1785398400.25', NOW)).toBe(1_785_398_400_250);
    expect(parseDockerTimestamp('0', NOW)).toBe(0);
  });

  it('refuses what is neither', () => {
    expect(() => parseDockerTimestamp('2026-02-30', NOW)).toThrow(/out of range/);
    expect(() => parseDockerTimestamp('2026-7-30', NOW)).toThrow(/failed to parse/);
    expect(() => parseDockerTimestamp('10 minutes', NOW)).toThrow(/failed to parse/);
    expect(() => parseDockerTimestamp('', NOW)).toThrow(/failed to parse/);
  });
});

describe('text helpers', () => {
  it('goTimeString prints Go time.Time.String() of a UTC time', () => {
    expect(goTimeString(1_785_579_342_118n)).toBe('2026-08-01 10:15:42.118 +0000 UTC');
    expect(goTimeString(1_785_398_400_000n)).toBe('2026-07-30 08:00:00 +0000 UTC');
    expect(goTimeString(1_785_663_005_500n)).toBe('2026-08-02 09:30:05.5 +0000 UTC');
    expect(goTimeString(0n)).toBe('0001-01-01 00:00:00 +0000 UTC');
  });

  it('jsonText matches JSON.stringify and writes bigints exactly', () => {
    const value = { a: [1, 'x', null, true, {}], b: { c: [] }, skipped: undefined, d: 'é"\n' };
    expect(jsonText(value)).toBe(JSON.stringify(value));
    expect(jsonText(value, '    ')).toBe(JSON.stringify(value, null, 4));
    expect(jsonText({ n: 2n ** 64n - 1n }, '  ')).toBe('{\n  "n": 18446744073709551615\n}');
    expect(jsonText([Number.NaN])).toBe('[null]');
  });
});
