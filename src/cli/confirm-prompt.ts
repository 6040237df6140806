import type { CliContext } from './cli-context.js';

/**
 * Docker's confirmation prompt (docker/cli internal/prompt.Confirm): prints `message` and
 * " [y/N] " on stdout without a newline, reads one line, and answers yes only for "y" or "Y"
 * (surrounding spaces ignored). End of input, or a context without input, is a no.
 */
export async function confirm(ctx: CliContext, message: string): Promise<boolean> {
  ctx.output.out(`${message} [y/N] `);
  const answer = ctx.readLine === undefined ? undefined : await ctx.readLine();
  return answer?.trim().toLowerCase() === 'y';
}
