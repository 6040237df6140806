import { Option } from 'commander';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../common/errors.js';
import type { ServiceTaskLog } from '../gen/vxmesh/v1/control.js';
import { withDaemon } from './cli-context.js';
import type { CliContext } from './cli-context.js';
import { SHORT_ID_LENGTH } from './container-list-format.js';
import { lookUpService } from './service-lookup.js';

interface LogsOptions {
  readonly tail: string;
  readonly trunc: boolean;
  readonly taskIds: boolean;
}

/** docker's `--tail`: "all" or a number of lines. */
function parseTail(value: string): number {
  if (value === 'all') {
    return 0;
  }
  if (!/^\d+$/.test(value)) {
    throw new InvalidArgumentError('tail', `${JSON.stringify(value)} is not a number of lines or "all"`);
  }
  return Number(value);
}

/**
 * The prefix docker puts before each line: `<task name>.<task ID>@<node>` padded to the widest,
 * then `| `.
 */
export function formatServiceLogs(
  logs: readonly ServiceTaskLog[],
  opts: { readonly trunc: boolean; readonly taskIds: boolean },
): { readonly out: string; readonly err: string } {
  const prefixOf = (l: ServiceTaskLog): string => {
    const id = opts.trunc ? l.taskId.slice(0, SHORT_ID_LENGTH) : l.taskId;
    return `${opts.taskIds ? `${l.taskName}.${id}` : l.taskName}@${l.nodeHostname}`;
  };
  const width = Math.max(0, ...logs.map((l) => prefixOf(l).length));
  let out = '';
  let err = '';
  for (const l of logs) {
    const prefix = prefixOf(l).padEnd(width);
    for (const line of l.lines) {
      out += `${prefix}    | ${line}\n`;
    }
    if (l.err !== '') {
      err += `${prefix}    | error: ${l.err}\n`;
    }
  }
  return { out, err };
}

/**
 * Adds `service logs`: the managers ask the nodes that ran the tasks for their output. Not
 * offered: `--follow` and `--since` (each answer is a snapshot of the containers' log files).
 */
export function addServiceLogsCommand(service: Command, ctx: CliContext): void {
  service
    .command('logs')
    .description("Fetch the output of a service's tasks")
    .argument('<service>', 'service name, ID or ID prefix')
    .addOption(new Option('-n, --tail <lines>', 'number of lines from the end of each task\'s output, or "all"').default('all'))
    .option('--no-trunc', 'do not truncate task IDs')
    .option('--no-task-ids', 'do not include task IDs in the output')
    .action(async (ref: string, opts: LogsOptions, cmd: Command) => {
      const tail = parseTail(opts.tail);
      const logs = await withDaemon(ctx, cmd, async (daemon) => {
        // Resolved first for docker's "No such service" wording.
        const { service: found } = await lookUpService(daemon, ref);
        return daemon.serviceLogs(found.id, tail);
      });
      const { out, err } = formatServiceLogs(logs, { trunc: opts.trunc, taskIds: opts.taskIds });
      ctx.output.out(out);
      if (err !== '') {
        ctx.output.err(err);
      }
    });
}
