import { setTimeout as sleepTimer } from 'node:timers/promises';
import type { Clock } from '../common/clock.js';
import type { CliContext } from './cli-context.js';
import { processOutput } from './output.js';

/** Whether stdout is a terminal, and how wide: docker draws progress bars only above 110 columns. */
export interface TerminalInfo {
  readonly isTerminal: boolean;
  readonly columns: number;
}

/** Starts listening for Ctrl-C; `dispose` stops listening. */
export type InterruptSource = () => { readonly signal: AbortSignal; dispose(): void };

/**
 * What the service commands need besides `CliContext`, for following a service's convergence:
 * time, the terminal, and Ctrl-C. Each is optional so a plain `CliContext` works (the process's
 * own are used); tests pass a context with a manual clock, a fake terminal and their own signal.
 * `runCli` hands its context to the commands as is, so these fields reach them.
 */
export interface ServiceCliContext extends CliContext {
  readonly clock?: Clock;
  readonly terminal?: TerminalInfo;
  readonly interrupts?: InterruptSource;
}

/** The filled-in environment. */
export interface ServiceEnvironment {
  readonly clock: Clock;
  readonly terminal: TerminalInfo;
  readonly interrupts: InterruptSource;
}

/**
 * Wall-clock time whose sleeps keep the process alive. (The daemon's systemClock unrefs its
 * timers; in the CLI a poll's sleep may be the only thing pending, and Node would exit with
 * status 13, "unsettled top-level await", in the middle of it.)
 */
const cliClock: Clock = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepTimer(ms, undefined, signal === undefined ? {} : { signal });
  },
};

/** Ctrl-C of the CLI process itself. While listened to, it no longer kills the process. */
const processInterrupts: InterruptSource = () => {
  const controller = new AbortController();
  const onInterrupt = (): void => controller.abort(new Error('interrupted'));
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.removeListener('SIGINT', onInterrupt) };
};

/**
 * The environment of `ctx`, defaults filled in: the system clock, and the process's stdout as the
 * terminal, but only when the CLI writes to the real stdout (a test's memory output never is one).
 * Times shown (ages in `service ps`) come from this clock too.
 */
export function serviceEnvironment(ctx: ServiceCliContext): ServiceEnvironment {
  const realStdout = ctx.output === processOutput;
  return {
    clock: ctx.clock ?? cliClock,
    terminal: ctx.terminal ?? {
      isTerminal: realStdout && process.stdout.isTTY === true,
      columns: realStdout ? (process.stdout.columns ?? 80) : 80,
    },
    interrupts: ctx.interrupts ?? processInterrupts,
  };
}
