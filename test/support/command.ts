import { spawn } from 'node:child_process';

/** Output of a finished command. */
export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; null when the process was killed by a signal. */
  readonly exitCode: number | null;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Written to stdin, which is then closed; stdin is empty when absent. */
  readonly input?: string;
  /** Kills the process with SIGKILL and rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /** When false, a non-zero exit resolves instead of rejecting. Default true. */
  readonly check?: boolean;
}

/** A command exited non-zero or was killed; carries everything needed to tell why. */
export class CommandError extends Error {
  constructor(
    readonly command: readonly string[],
    readonly result: CommandResult,
  ) {
    const how = result.exitCode === null ? 'was killed' : `exited ${result.exitCode}`;
    const detail = (result.stderr.trim() || result.stdout.trim()).slice(0, 2000);
    super(`\`${command.join(' ')}\` ${how}${detail ? `: ${detail}` : ''}`);
    this.name = 'CommandError';
  }
}

/**
 * Runs `cmd args…` without a shell and buffers its output.
 * Rejects with {@link CommandError} on a non-zero exit unless `check` is false, and with the
 * spawn error when the binary cannot be started (e.g. ENOENT).
 */
export function runCommand(
  cmd: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<CommandResult> {
  const { input, signal, check = true } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    // A child that exits before reading its stdin makes the write fail with EPIPE; the exit code
    // is what matters then, so the write error is deliberately ignored.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
    child.once('error', (err) => reject(signal?.aborted ? (signal.reason as Error) : err));
    child.once('close', (exitCode) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const result = { stdout, stderr, exitCode };
      if (check && exitCode !== 0) {
        reject(new CommandError([cmd, ...args], result));
      } else {
        resolve(result);
      }
    });
  });
}
