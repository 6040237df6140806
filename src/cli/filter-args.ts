import { InvalidArgumentError as FlagValueError } from 'commander';
import { VxmeshError } from '../common/errors.js';

// Docker's `--filter key=value` arguments (docker/cli opts.FilterOpt and moby's filters.Args),
// for the commands whose filters vxmesh evaluates itself. Semantics follow docker: values of one
// key are alternatives (any may match), different keys must all match.

/** One `--filter` as given: the key lower-cased and trimmed, the value trimmed. */
export type FilterPair = readonly [key: string, value: string];

/** Filter values by key, each key's values distinct and in the order given. */
export type FilterArgs = ReadonlyMap<string, readonly string[]>;

/**
 * `--filter` (repeatable) for commander, parsed like docker's FilterOpt.Set: an empty value is
 * ignored, anything else must be "key=value". Accumulates into `previous`.
 */
export function parseFilterFlag(value: string, previous: readonly FilterPair[] | undefined): FilterPair[] {
  const pairs = [...(previous ?? [])];
  if (value === '') {
    return pairs;
  }
  const at = value.indexOf('=');
  if (at < 0) {
    throw new FlagValueError('Bad format of filter (expected name=value).');
  }
  pairs.push([value.slice(0, at).trim().toLowerCase(), value.slice(at + 1).trim()]);
  return pairs;
}

/**
 * Groups pairs by key and refuses keys the command does not know, with the message docker's
 * daemon gives ("invalid filter 'x'").
 */
export function filterArgs(pairs: readonly FilterPair[], accepted: readonly string[]): FilterArgs {
  const args = new Map<string, string[]>();
  for (const [key, value] of pairs) {
    if (!accepted.includes(key)) {
      throw new VxmeshError('INVALID_ARGUMENT', `invalid filter '${key}'`);
    }
    const values = args.get(key) ?? [];
    if (!values.includes(value)) {
      values.push(value);
    }
    args.set(key, values);
  }
  return args;
}

/** moby's `ExactMatch`: true when `key` is not filtered on or one of its values equals `source`. */
export function exactMatch(args: FilterArgs, key: string, source: string): boolean {
  const values = args.get(key);
  return values === undefined || values.includes(source);
}

/**
 * moby's `Match`: true when `key` is not filtered on, or one of its values equals `source` or, as
 * an unanchored regular expression, matches it; so `name=web` matches "web" and "myweb1", and
 * `id=3f9` any ID containing "3f9". Values that are not valid expressions only match exactly,
 * as moby skips them. (JS and Go (RE2) syntax agree on the plain patterns people use.)
 */
export function regexMatch(args: FilterArgs, key: string, source: string): boolean {
  const values = args.get(key);
  return values === undefined || values.some((pattern) => pattern === source || testPattern(pattern, source));
}

function testPattern(pattern: string, source: string): boolean {
  try {
    return new RegExp(pattern).test(source);
  } catch {
    return false;
  }
}

/**
 * moby's `MatchKVList` for `label` filters: every value ("K" or "K=V") must match a label (by key
 * only, or by key and value); a source without labels matches no filter.
 */
export function matchLabels(args: FilterArgs, key: string, labels: Readonly<Record<string, string>>): boolean {
  const values = args.get(key);
  if (values === undefined || values.length === 0) {
    return true;
  }
  return values.every((filter) => {
    const at = filter.indexOf('=');
    const name = at < 0 ? filter : filter.slice(0, at);
    if (!Object.hasOwn(labels, name)) {
      return false;
    }
    return at < 0 || labels[name] === filter.slice(at + 1);
  });
}
