/**
 * Runs `fn` for every ref, in order, even after one fails, as docker does for commands that take
 * several objects (`stop a b`, `rm a b`). Failures are collected into one AggregateError, which
 * `runCli` prints one `Error:` line each.
 * @param noun what a ref names, for the aggregate's own message ("containers").
 */
export async function forEachRef(
  refs: readonly string[],
  noun: string,
  fn: (ref: string) => Promise<void>,
): Promise<void> {
  const errors: unknown[] = [];
  for (const ref of refs) {
    try {
      await fn(ref);
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length === 1) {
    throw errors[0];
  }
  if (errors.length > 1) {
    throw new AggregateError(errors, `${errors.length} ${noun} failed`);
  }
}
