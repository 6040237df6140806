/**
 * Attribution of `ip|bridge -force -batch -` failures to input lines. With `-force` the tools
 * keep going after a failed line and print, for each, the kernel's message followed by
 * `Command failed -:<line>`; the exit code is then non-zero.
 */

/** One failed line of a batch. */
export interface BatchLineError {
  /** 1-based line number in the batch input. */
  readonly line: number;
  /** The command text of that line (empty when the number is out of range). */
  readonly command: string;
  /** What the tool printed about it, without the `Command failed` marker. */
  readonly message: string;
}

const FAILED = /^Command failed (?:-|\S+):(\d+)\s*$/;

/**
 * Splits a batch's stderr into per-line errors. Text not followed by a marker (a tool that died
 * before finishing, a usage error) becomes one error with line 0.
 */
export function parseBatchErrors(stderr: string, lines: readonly string[]): BatchLineError[] {
  const errors: BatchLineError[] = [];
  let pending: string[] = [];
  for (const raw of stderr.split('\n')) {
    const text = raw.trimEnd();
    const m = FAILED.exec(text);
    if (m !== null) {
      const line = Number(m[1]);
      errors.push({ line, command: lines[line - 1] ?? '', message: pending.join('; ') || 'failed' });
      pending = [];
    } else if (text.length > 0) {
      pending.push(text);
    }
  }
  if (pending.length > 0) {
    errors.push({ line: 0, command: '', message: pending.join('; ') });
  }
  return errors;
}
