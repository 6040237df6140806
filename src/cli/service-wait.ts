import type { DaemonApi } from './daemon-api.js';
import type { Output } from './output.js';
import type { ServiceEnvironment } from './service-environment.js';
import { followConvergence } from './service-progress.js';
import type { ConvergenceOutcome } from './service-progress.js';
import { ProgressDisplay } from './service-progress-display.js';

/** docker draws progress bars only on terminals wider than this. */
const MIN_BAR_COLUMNS = 111;

/**
 * What `service create|update|scale` do after their change unless `--detach`: follow the service
 * until it converges, showing docker's progress on stdout (nothing with `--quiet`, which still
 * waits, as docker's does). Ctrl-C stops following and leaves the service to converge.
 * @throws VxmeshError when the service does not converge (see followConvergence).
 */
export async function waitForService(
  env: ServiceEnvironment,
  output: Output,
  daemon: DaemonApi,
  ref: string,
  quiet: boolean,
): Promise<ConvergenceOutcome> {
  const { isTerminal, columns } = env.terminal;
  const display = new ProgressDisplay(quiet ? () => undefined : (text) => output.out(text), isTerminal && !quiet);
  const interrupts = env.interrupts();
  try {
    return await followConvergence({
      daemon,
      ref,
      display,
      clock: env.clock,
      bars: !isTerminal || columns >= MIN_BAR_COLUMNS,
      interrupt: interrupts.signal,
    });
  } finally {
    interrupts.dispose();
  }
}
