import type { ChildProcess } from 'node:child_process';

/** Whether `child` has ended (by exit code or signal). */
export function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Resolves true once `child` has exited, false after `timeoutMs`. */
export async function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) {
    return true;
  }
  return await new Promise<boolean>((resolve) => {
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      child.removeListener('exit', onExit);
      resolve(exited(child));
    }, timeoutMs);
    child.once('exit', onExit);
  });
}
