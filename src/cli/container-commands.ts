import { Option } from 'commander';
import type { Command } from 'commander';
import { InvalidArgumentError, VxmeshError } from '../common/errors.js';
import { ContainerState } from '../gen/vxmesh/v1/container.js';
import type { Container } from '../gen/vxmesh/v1/container.js';
import { withDaemon } from './cli-context.js';
import type { CliContext } from './cli-context.js';
import {
  parseAliasFlag,
  parseContainerName,
  parseDnsFlag,
  parseDnsOptionFlag,
  parseDnsSearchFlag,
  parseIpv4Flag,
  parseIpv6Flag,
  parseLinkFlag,
  parseNetworkFlag,
  parseStopTimeout,
} from './container-flag-values.js';
import { dockerContainerJson, formatContainerInspect } from './container-inspect-json.js';
import {
  containerListEntries,
  formatContainerIds,
  formatContainerJsonLines,
  formatContainerTable,
} from './container-list-format.js';
import { runContainerRequest } from './container-requests.js';
import type { RunOptions } from './container-requests.js';
import { errorLine } from './error-line.js';
import { ExitStatus } from './exit-status.js';
import { forEachRef } from './for-each-ref.js';
import { runInNamespace } from './namespace-exec.js';
import { stopOptionsAtFirstOperand } from './operand-separator.js';

interface ListOptions {
  readonly all?: boolean;
  readonly quiet?: boolean;
  /** false with --no-trunc (commander's negatable option). */
  readonly trunc: boolean;
  readonly format?: 'table' | 'json';
}

interface InspectOptions {
  readonly format?: 'json';
}

interface StopOptions {
  readonly timeout?: number;
}

interface ForceOptions {
  readonly force?: boolean;
}

const CONTAINERS = 'containers';

function isNotFound(err: unknown): boolean {
  return err instanceof VxmeshError && err.code === 'NOT_FOUND';
}

/** Whether every failure in `err` (one error or an AggregateError) is a container that does not exist. */
function onlyNotFound(err: unknown): boolean {
  const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  return errors.every(isNotFound);
}

/** The command of `exec`, without the "--" that may separate it from the container. */
function execCommand(operands: readonly string[]): string[] {
  const command = operands[0] === '--' ? operands.slice(1) : [...operands];
  if (command.length === 0) {
    throw new InvalidArgumentError('command', 'no command given (vxmesh exec CONTAINER CMD [ARG...])');
  }
  return command;
}

/** Adds `run`, `ps`, `inspect`, `exec`, `start`, `stop` and `rm` for this node's containers. */
export function addContainerCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;

  const run = program
    .command('run')
    .usage('[options] --name NAME [--] CMD [ARG...]')
    .summary('Run a command in a new container on this node and print its ID')
    .description(
      'Create a container (a network namespace) on this node, attach it to its networks, start CMD ' +
        'in it and print its ID. The container always runs in the background: CMD writes to ' +
        '<data-root>/containers/logs/<ID>.log (vxmesh has no `logs` command yet).',
    )
    // docker's -h is --hostname; help stays on --help.
    .helpOption('--help', 'display help for command')
    .option('-d, --detach', 'run in the background (always so; accepted for docker compatibility)')
    .option('--rm', 'remove the container when CMD exits')
    .requiredOption('--name <NAME>', 'container name, unique on this node', parseContainerName)
    .option('--network <NET>', 'attach to this attachable network (name or ID); repeatable', parseNetworkFlag)
    .option('--ip <IP>', 'IPv4 address on the first --network (kept across stop/start)', parseIpv4Flag)
    .option('--ip6 <IP>', 'IPv6 address on the first --network (kept across stop/start)', parseIpv6Flag)
    .option('--network-alias <ALIAS>', 'network-scoped alias on the first --network; repeatable', parseAliasFlag)
    .option(
      '--link <NAME:ALIAS>',
      'name another container by ALIAS, for this container only, on the first --network; repeatable',
      parseLinkFlag,
    )
    .option('-h, --hostname <NAME>', 'hostname inside the container (default: the short ID)')
    .option('--dns <IP>', 'DNS server for names outside the cluster; repeatable', parseDnsFlag)
    .option(
      '--dns-search <DOMAIN>',
      "search domain for the container's resolv.conf, instead of the host's; repeatable",
      parseDnsSearchFlag,
    )
    .option(
      '--dns-option <OPT>',
      "resolv.conf option (e.g. ndots:2), instead of the host's; repeatable",
      parseDnsOptionFlag,
    )
    .option('--create-only', 'create and attach, but do not start (docker create)')
    .argument('[command...]', 'command and arguments to run; options end at the first of them, as in docker')
    .action(async (command: string[], opts: RunOptions, cmd: Command) => {
      // Checked before connecting: a bad combination is a usage error, whatever the daemon's state.
      const request = runContainerRequest(opts, command);
      const created = await withDaemon(ctx, cmd, (daemon) => daemon.runContainer(request));
      output.out(`${created.id}\n`);
    });
  stopOptionsAtFirstOperand(run);

  program
    .command('ps')
    .description('List the containers on this node (running ones unless -a)')
    .option('-a, --all', 'show all containers, not only running ones')
    .option('-q, --quiet', 'only display container IDs')
    .option('--no-trunc', 'do not truncate IDs and commands')
    .addOption(
      new Option('--format <format>', 'table, or json for one JSON object per line').choices(['table', 'json']),
    )
    .action(async (opts: ListOptions, cmd: Command) => {
      const containers = await withDaemon(ctx, cmd, (daemon) => daemon.listContainers(opts.all === true));
      const entries = containerListEntries(containers, opts.trunc, Date.now());
      // As in docker, --format json wins over -q, which only changes the table.
      if (opts.format === 'json') {
        output.out(formatContainerJsonLines(entries));
      } else if (opts.quiet) {
        output.out(formatContainerIds(entries));
      } else {
        output.out(formatContainerTable(entries));
      }
    });

  program
    .command('inspect')
    .description('Show details of one or more containers on this node (name, ID or ID prefix)')
    .addOption(new Option('-f, --format <format>', 'json: the array compact on one line').choices(['json']))
    .argument('<container...>', 'containers to inspect')
    .action(async (refs: string[], opts: InspectOptions, cmd: Command) => {
      await withDaemon(ctx, cmd, async (daemon) => {
        const found: Container[] = [];
        let failure: { readonly err: unknown } | undefined;
        try {
          await forEachRef(refs, CONTAINERS, async (ref) => {
            found.push(await daemon.inspectContainer(ref));
          });
        } catch (err) {
          failure = { err };
        }
        // Like docker's inspect: print what was found (even "[]" for unknown containers), then
        // fail; but print nothing when the daemon itself failed and nothing was found.
        if (failure === undefined || found.length > 0 || onlyNotFound(failure.err)) {
          output.out(formatContainerInspect(found.map(dockerContainerJson), opts.format === 'json'));
        }
        if (failure !== undefined) {
          throw failure.err;
        }
      });
    });

  const exec = program
    .command('exec')
    .usage('[options] CONTAINER [--] CMD [ARG...]')
    .summary("Run a command in a running container's network namespace")
    .description(
      "Run a command in a running container's network namespace (ip netns exec), with this " +
        "terminal's stdin, stdout and stderr, and exit with its status. Needs root.",
    )
    .option('-i, --interactive', 'accepted for docker compatibility: stdin is always passed on')
    .option('-t, --tty', 'accepted for docker compatibility: the command uses this terminal as it is')
    .argument('<container>', 'container name, ID or ID prefix')
    .argument('[command...]', 'command and arguments; options end at the container, as in docker')
    .action(async (ref: string, operands: string[], _opts: unknown, cmd: Command) => {
      const command = execCommand(operands);
      const container = await withDaemon(ctx, cmd, (daemon) => daemon.inspectContainer(ref));
      if (container.state !== ContainerState.CONTAINER_STATE_RUNNING) {
        throw new VxmeshError('FAILED_PRECONDITION', `container ${container.name} is not running`);
      }
      const status = await runInNamespace(container.namespace, command);
      if (status !== 0) {
        throw new ExitStatus(status);
      }
    });
  stopOptionsAtFirstOperand(exec);

  program
    .command('start')
    .description('Start one or more stopped containers (re-attaching them to their networks)')
    .argument('<container...>', 'containers to start')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withDaemon(ctx, cmd, (daemon) =>
        forEachRef(refs, CONTAINERS, async (ref) => {
          await daemon.startContainer(ref);
          output.out(`${ref}\n`);
        }),
      );
    });

  program
    .command('stop')
    .description('Stop one or more running containers: SIGTERM, then SIGKILL after the timeout')
    .option('-t, --timeout <seconds>', 'seconds to wait before killing (default 10)', parseStopTimeout)
    .argument('<container...>', 'containers to stop')
    .action(async (refs: string[], opts: StopOptions, cmd: Command) => {
      await withDaemon(ctx, cmd, (daemon) =>
        forEachRef(refs, CONTAINERS, async (ref) => {
          // 0 asks for the daemon's default.
          await daemon.stopContainer(ref, opts.timeout ?? 0);
          output.out(`${ref}\n`);
        }),
      );
    });

  program
    .command('rm')
    .description('Remove one or more containers')
    .option('-f, --force', 'stop running containers first (SIGKILL), and report missing ones without failing')
    .argument('<container...>', 'containers to remove')
    .action(async (refs: string[], opts: ForceOptions, cmd: Command) => {
      const force = opts.force === true;
      await withDaemon(ctx, cmd, (daemon) =>
        forEachRef(refs, CONTAINERS, async (ref) => {
          try {
            const { warnings } = await daemon.removeContainer(ref, force);
            // Removed all the same (as docker's rm); the daemon keeps releasing what it names.
            for (const warning of warnings) {
              output.err(`WARNING: ${warning}\n`);
            }
          } catch (err) {
            // docker's rm -f reports a missing container on stderr but does not fail for it.
            if (force && isNotFound(err)) {
              output.err(errorLine(err));
              return;
            }
            throw err;
          }
          output.out(`${ref}\n`);
        }),
      );
    });
}
