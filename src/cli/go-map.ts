/**
 * The entries of a string map in the order Go's encoding/json writes a `map[string]T`: keys
 * sorted by their UTF-8 bytes. Docker's JSON output depends on it (Options, Labels, ...).
 */
export function sortedEntries<T>(map: Readonly<Record<string, T>>): [string, T][] {
  return Object.entries(map).sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/**
 * A copy of `map` whose keys are inserted in Go's order, so JSON.stringify writes them as docker
 * does. One JS rule wins over insertion order: keys that are array indexes ("7", "10") always come
 * first, in numeric order, where Go would put "10" before "7"; such keys do not occur in the maps
 * the CLI prints (option names, label keys, CIDRs).
 */
export function goMap<T>(map: Readonly<Record<string, T>>): Record<string, T> {
  return Object.fromEntries(sortedEntries(map));
}
