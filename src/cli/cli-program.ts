import { Command, CommanderError, Option } from 'commander';
import type { CliContext } from './cli-context.js';
import { addContainerCommands } from './container-commands.js';
import { addContainerNetworkCommands } from './container-network-commands.js';
import { DEFAULT_DAEMON_HOST } from './daemon-address.js';
import { commanderErrorLine, errorLine } from './error-line.js';
import { addNetworkCommands } from './network-commands.js';
import { addNodeCommands } from './node-commands.js';
import { separateOperands } from './operand-separator.js';
import { addServiceCommands } from './service-commands.js';
import { addSwarmCommands } from './swarm-commands.js';

/**
 * Builds the `vxmesh` command tree. Output, errors and exits are routed through `ctx` and
 * `exitOverride`, so the program never calls `process.exit` and can run inside a test.
 */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command('vxmesh')
    .description('Control the vxmesh overlay network daemon on this host')
    .addOption(
      new Option('-H, --host <unix:///path>', 'daemon socket to connect to')
        .env('VXMESH_HOST')
        .default(DEFAULT_DAEMON_HOST),
    )
    // Settings below are inherited by every subcommand created with .command() afterwards.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => ctx.output.out(text),
      writeErr: (text) => ctx.output.err(text),
      outputError: (text, write) => write(commanderErrorLine(text)),
    });
  addSwarmCommands(program, ctx);
  addNodeCommands(program, ctx);
  addNetworkCommands(program, ctx);
  addContainerNetworkCommands(program, ctx);
  addContainerCommands(program, ctx);
  // The context goes through as given: it may carry the service commands' clock and terminal.
  addServiceCommands(program, ctx);
  return program;
}

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit status: 0 on success
 * (and for --help), 1 otherwise, after one `Error: <message>` line on stderr per failure.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  try {
    const program = buildProgram(ctx);
    // `run` and `exec` take options only before their first operand, as in docker.
    await program.parseAsync(separateOperands(program, argv), { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message or the help text.
      return err.exitCode;
    }
    const failures = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
    for (const failure of failures) {
      ctx.output.err(errorLine(failure));
    }
    return 1;
  }
}
