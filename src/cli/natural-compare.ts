const CHUNK = /\d+|\D+/g;

/**
 * Orders strings the way docker sorts `node ls` by hostname (`sortorder.NaturalLess`): runs of
 * digits compare as numbers and sort before other characters, everything else by code unit, so
 * "node2" sorts before "node10".
 * @returns negative, zero or positive, for `Array.prototype.sort`.
 */
export function naturalCompare(a: string, b: string): number {
  const left = a.match(CHUNK) ?? [];
  const right = b.match(CHUNK) ?? [];
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const x = left[i] ?? '';
    const y = right[i] ?? '';
    if (x === y) {
      continue;
    }
    const xDigits = /^\d/.test(x);
    const yDigits = /^\d/.test(y);
    if (xDigits !== yDigits) {
      // Digits sort before any other character, punctuation included.
      return xDigits ? -1 : 1;
    }
    if (xDigits) {
      // Compare by magnitude without Number() so long digit runs cannot lose precision.
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) {
        return xs.length - ys.length;
      }
      if (xs !== ys) {
        return xs < ys ? -1 : 1;
      }
      // Equal value, different zero padding: fewer leading zeros first, as sortorder does.
      return x.length - y.length;
    }
    return x < y ? -1 : 1;
  }
  return left.length - right.length;
}
