import { isIP } from 'node:net';
import { InvalidArgumentError as FlagValueError } from 'commander';

// Repeatable `network create` flags for commander's `argParser`, parsed as docker/cli parses them
// (opts.ListOpts, opts.MapOpts, pflag's IPSlice). Each throws commander's InvalidArgumentError,
// which commander prefixes with the flag and the value. Only syntax is checked here; whether a
// gateway lies in its subnet and the like is for the manager.

/** "K=V" flags as given, in order; the last value of a repeated key wins, as in docker's maps. */
export type KeyValuePairs = readonly (readonly [key: string, value: string])[];

/** Spaces and tabs: what docker's ValidateLabel refuses in a label key. */
const WHITESPACE = /[ \t]/;

function splitKeyValue(value: string): [string, string] {
  const at = value.indexOf('=');
  return at < 0 ? [value, ''] : [value.slice(0, at), value.slice(at + 1)];
}

/** A map built from pairs; a repeated key keeps its last value. */
export function pairsToMap(pairs: KeyValuePairs | undefined): Record<string, string> {
  return Object.fromEntries(pairs ?? []);
}

/**
 * `-o/--opt` and `--ipam-opt` (docker's MapOpts): "K=V", or "K" for an empty value, so
 * `-o encrypted` works as in docker. Accumulates into `previous`.
 */
export function parseKeyValueFlag(value: string, previous: KeyValuePairs | undefined): KeyValuePairs {
  return [...(previous ?? []), splitKeyValue(value)];
}

/**
 * `--label` (docker's ListOpts with ValidateLabel): "K=V" or "K" (empty value); the key may not be
 * empty or contain spaces. Accumulates into `previous`.
 */
export function parseLabelFlag(value: string, previous: KeyValuePairs | undefined): KeyValuePairs {
  const [key, labelValue] = splitKeyValue(value);
  const trimmed = key.replace(/^[ \t]+/, '');
  if (trimmed === '') {
    throw new FlagValueError('Empty label name; expected KEY=VALUE.');
  }
  if (WHITESPACE.test(trimmed)) {
    throw new FlagValueError(`Label name '${trimmed}' contains whitespace.`);
  }
  return [...(previous ?? []), [key, labelValue]];
}

/**
 * `--aux-address NAME=IP`. Docker's MapOpts would take "NAME" alone as an empty address and fail
 * later; vxmesh refuses it here, naming the flag. Accumulates into `previous`.
 */
export function parseAuxAddressFlag(value: string, previous: KeyValuePairs | undefined): KeyValuePairs {
  const at = value.indexOf('=');
  const [name, address] = at < 0 ? ['', ''] : [value.slice(0, at), value.slice(at + 1)];
  if (name === '' || isIP(address) === 0) {
    throw new FlagValueError('Expected NAME=IP, such as my-router=10.0.1.5.');
  }
  return [...(previous ?? []), [name, address]];
}

/**
 * `--gateway` (pflag's IPSlice): repeatable, and each value may be a comma-separated list, as in
 * docker. Accumulates into `previous`.
 */
export function parseIpListFlag(value: string, previous: readonly string[] | undefined): string[] {
  const ips = value.split(',').map((s) => s.trim());
  for (const ip of ips) {
    if (isIP(ip) === 0 || ip.includes('%')) {
      throw new FlagValueError(`"${ip}" is not an IP address such as 10.0.1.1.`);
    }
  }
  return [...(previous ?? []), ...ips];
}
