import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { VxmeshError } from '../common/errors.js';

/** Signals usually sent to the CLI alone (service managers, a closed terminal): passed on to the command. */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGHUP'];
/**
 * Signals a terminal sends to its whole foreground process group, the command included: the CLI
 * only survives them, so the command decides what Ctrl-C means and its status is still reported.
 */
const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT'];

/**
 * Runs `command` in the network namespace `namespace` with `ip netns exec` (which also bind-mounts
 * the namespace's /etc/netns files over /etc), sharing this process's stdin, stdout and stderr.
 * Needs root, as `ip netns exec` does.
 * @returns the command's exit status, or 128 + the signal number if a signal ended it (the shell's
 *   convention, and docker's).
 */
export function runInNamespace(namespace: string, command: readonly string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', namespace, ...command], { stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    const survive = (): void => undefined;
    for (const signal of FORWARDED_SIGNALS) {
      process.on(signal, forward);
    }
    for (const signal of TERMINAL_SIGNALS) {
      process.on(signal, survive);
    }
    let settled = false;
    const settle = (): boolean => {
      for (const signal of FORWARDED_SIGNALS) {
        process.off(signal, forward);
      }
      for (const signal of TERMINAL_SIGNALS) {
        process.off(signal, survive);
      }
      const first = !settled;
      settled = true;
      return first;
    };
    child.once('error', (err) => {
      if (settle()) {
        reject(
          new VxmeshError('FAILED_PRECONDITION', `cannot run "ip netns exec" (is iproute2 installed?): ${err.message}`),
        );
      }
    });
    child.once('exit', (code, signal) => {
      if (settle()) {
        resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
      }
    });
  });
}
