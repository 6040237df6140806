import type { Command } from 'commander';
import { DEFAULT_DAEMON_HOST, parseDaemonHost } from './daemon-address.js';
import type { DaemonAddress } from './daemon-address.js';
import type { DaemonApi } from './daemon-api.js';
import type { Output } from './output.js';

/** What commands need from the outside world; tests substitute them. */
export interface CliContext {
  readonly output: Output;
  /** Opens a client for the daemon at `address`; the caller closes it. */
  readonly connect: (address: DaemonAddress) => DaemonApi;
  /**
   * Reads one line of the user's input (undefined at end of input), for the y/N prompts of
   * `network rm` and `network prune`. Absent means no input: every prompt is answered no.
   */
  readonly readLine?: () => Promise<string | undefined>;
}

/**
 * Runs `fn` with a client for the daemon named by the global `-H/--host` (or VXMESH_HOST), and
 * closes it afterwards so the process can exit. The connection is opened only here, so `--help`
 * and flag errors never need a daemon.
 */
export async function withDaemon<T>(
  ctx: CliContext,
  command: Command,
  fn: (daemon: DaemonApi) => Promise<T>,
): Promise<T> {
  const { host } = command.optsWithGlobals<{ host: string }>();
  // An empty VXMESH_HOST means unset, as an empty DOCKER_HOST does for docker.
  const daemon = ctx.connect(parseDaemonHost(host || DEFAULT_DAEMON_HOST));
  try {
    return await fn(daemon);
  } finally {
    daemon.close();
  }
}
