/**
 * Renders a failure as the single `Error: <message>` line the CLI promises on stderr. Messages
 * are collapsed onto one line because scripts read stderr line by line; stacks are never shown.
 */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return `Error: ${oneLine(message) || 'unknown error'}\n`;
}

/**
 * Rewrites a commander parse error ("error: unknown option '--x'\n(Did you mean --y?)\n") in the
 * same one-line form as every other failure.
 */
export function commanderErrorLine(text: string): string {
  return errorLine(text.replace(/^\s*error:\s*/i, ''));
}

function oneLine(text: string): string {
  return text
    .trim()
    .split(/\s*\n\s*/)
    .join(' ');
}
