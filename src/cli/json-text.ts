/**
 * Serializes `value` as JSON the way `JSON.stringify(value, null, indent)` does, except that a
 * bigint is written as the exact integer it holds. Docker prints uint64 counters (such as
 * `DynamicIPsAvailable` of an IPv6 /64) as plain JSON numbers, and a JS number would round them
 * above 2^53. Like JSON.stringify, object properties that are undefined are left out, and a
 * value that JSON cannot hold (function, symbol, non-finite number) becomes null.
 * @param indent "" for compact output (docker's `--format json`), "    " for docker's inspect.
 */
export function jsonText(value: unknown, indent = ''): string {
  return write(value, indent, '');
}

function write(value: unknown, indent: string, current: string): string {
  switch (typeof value) {
    case 'bigint':
      return value.toString();
    case 'string':
      return JSON.stringify(value);
    case 'number':
    case 'boolean':
      return JSON.stringify(value) ?? 'null';
    case 'object':
      return value === null ? 'null' : writeComposite(value, indent, current);
    default:
      return 'null';
  }
}

function writeComposite(value: object, indent: string, current: string): string {
  const inner = current + indent;
  const [open, close, items] = Array.isArray(value)
    ? ['[', ']', (value as unknown[]).map((item) => write(item, indent, inner))]
    : [
        '{',
        '}',
        Object.entries(value)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${JSON.stringify(k)}:${indent === '' ? '' : ' '}${write(v, indent, inner)}`),
      ];
  if (items.length === 0) {
    return open + close;
  }
  if (indent === '') {
    return open + items.join(',') + close;
  }
  return `${open}\n${inner}${items.join(`,\n${inner}`)}\n${current}${close}`;
}
