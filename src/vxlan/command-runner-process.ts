import { spawn } from 'node:child_process';
import type { CommandRunner, KernelCommand, KernelCommandResult } from './command-runner.js';

/** Options of {@link ProcessCommandRunner}. */
export interface ProcessCommandRunnerOptions {
  /**
   * Named namespace standing in for the daemon's own namespace (tests run a "host" in a
   * namespace). Absent: daemon-scope commands run in the process's own namespace.
   */
  readonly baseNamespace?: string;
  /** Directory of the tools; default: found through PATH. */
  readonly toolDir?: string;
}

/**
 * Runs the real tools as child processes, without a shell.
 * `ip` and `bridge` select a namespace with `-n` (a setns, cheap); `nft` and `sysctl` have no
 * such option and run under `ip netns exec`, which also remounts /proc/sys for the namespace.
 */
export class ProcessCommandRunner implements CommandRunner {
  readonly #base: string | undefined;
  readonly #toolDir: string | undefined;

  constructor(options: ProcessCommandRunnerOptions = {}) {
    this.#base = options.baseNamespace;
    this.#toolDir = options.toolDir;
  }

  /** The argv a command becomes; exposed for logs and tests. */
  argv(command: KernelCommand): string[] {
    const namespace =
      command.scope.kind === 'netns' ? command.scope.name : command.scope.kind === 'daemon' ? this.#base : undefined;
    const tool = this.#path(command.tool);
    if (namespace === undefined) {
      return [tool, ...command.args];
    }
    if (command.tool === 'ip' || command.tool === 'bridge') {
      return [tool, '-n', namespace, ...command.args];
    }
    return [this.#path('ip'), 'netns', 'exec', namespace, tool, ...command.args];
  }

  run(command: KernelCommand, options: { readonly signal?: AbortSignal } = {}): Promise<KernelCommandResult> {
    const { signal } = options;
    const [file, ...args] = this.argv(command);
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const child = spawn(file ?? command.tool, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        killSignal: 'SIGKILL',
        ...(signal === undefined ? {} : { signal }),
      });
      // Chunks are joined once at the end: a 50k-entry FDB dump is several MB of JSON.
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      // A tool that exits before reading all of stdin makes the write fail with EPIPE; its exit
      // code and stderr say what went wrong, so the write error itself is deliberately ignored.
      child.stdin.on('error', () => {});
      child.stdin.end(command.input ?? '');
      child.once('error', (error) => reject(signal?.aborted ? (signal.reason as Error) : error));
      child.once('close', (exitCode) => {
        if (signal?.aborted) {
          reject(signal.reason as Error);
          return;
        }
        resolve({
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          exitCode,
        });
      });
    });
  }

  #path(tool: string): string {
    return this.#toolDir === undefined ? tool : `${this.#toolDir}/${tool}`;
  }
}
