import { spawn } from 'node:child_process';
import { VxmeshError } from './errors.js';

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** A command that exited non-zero; the message carries its stderr so callers can show it. */
export class CommandFailedError extends VxmeshError {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super('INTERNAL', `${command} failed (exit ${exitCode ?? 'signal'}): ${stderr.trim() || 'no output'}`);
  }
}

/**
 * Runs a program without a shell, optionally feeding `input` on stdin (for `ip -batch -`).
 * @throws CommandFailedError on a non-zero exit.
 */
export function runCommand(
  file: string,
  args: readonly string[],
  opts: { readonly input?: string; readonly signal?: AbortSignal } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString();
      const stderr = Buffer.concat(err).toString();
      if (code === 0) {
        resolve({ stdout, stderr });
      } else {
        reject(new CommandFailedError(`${file} ${args.join(' ')}`.slice(0, 200), code, stderr));
      }
    });
    if (opts.input !== undefined && child.stdin) {
      // A program that exits before reading all its input closes the pipe; its exit status,
      // not an EPIPE on our side, is what reports the failure.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.input);
    }
  });
}
