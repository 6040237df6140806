/**
 * Array helpers for command lines. Batches reach 100k lines; `push(...lines)` and spreads would
 * pass every line as a call argument and overflow the stack.
 */

/** Appends `source` to `target` in place. */
export function append(target: string[], source: readonly string[]): void {
  for (const line of source) {
    target.push(line);
  }
}

/** One new array with the parts in order. */
export function concatLines(parts: readonly (readonly string[])[]): string[] {
  const out: string[] = [];
  for (const part of parts) {
    append(out, part);
  }
  return out;
}
