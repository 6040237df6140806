import { Option } from 'commander';
import type { Command } from 'commander';
import { VxmeshError } from '../common/errors.js';
import { withDaemon } from './cli-context.js';
import type { ServiceRecord, TaskRecord } from './daemon-api.js';
import { filterArgs, parseFilterFlag } from './filter-args.js';
import type { FilterPair } from './filter-args.js';
import { forEachRef } from './for-each-ref.js';
import { addServiceCreateCommand } from './service-create-command.js';
import { serviceEnvironment } from './service-environment.js';
import type { ServiceCliContext } from './service-environment.js';
import { dockerServiceJson, formatServiceInspect } from './service-inspect-json.js';
import { formatServicePretty } from './service-inspect-pretty.js';
import {
  formatServiceIds,
  formatServiceJsonLines,
  formatServiceTable,
  serviceListEntries,
} from './service-list-format.js';
import { addServiceLogsCommand } from './service-logs-command.js';
import { isNotFound, lookUpService, noSuchService, onlyNotFound } from './service-lookup.js';
import { addServiceScaleCommand } from './service-scale-command.js';
import { TASK_FILTERS, checkTaskFilters, filterTasks } from './service-task-filter.js';
import { formatTaskIds, formatTaskJsonLines, formatTaskTable, taskListEntries } from './service-task-list-format.js';
import { addServiceUpdateCommand } from './service-update-command.js';

const SERVICES = 'services';

interface ListOptions {
  readonly quiet?: boolean;
  readonly format?: 'table' | 'json';
}

interface PsOptions {
  readonly quiet?: boolean;
  /** false with --no-trunc (commander's negatable option). */
  readonly trunc: boolean;
  readonly filter?: FilterPair[];
  readonly format?: 'table' | 'json';
}

interface InspectOptions {
  readonly pretty?: boolean;
  readonly format?: 'json';
}

/** Throws `errors` as `runCli` reports them: one error as is, several as an AggregateError. */
function throwAll(errors: readonly unknown[], noun: string): void {
  if (errors.length === 1) {
    throw errors[0];
  }
  if (errors.length > 1) {
    throw new AggregateError(errors, `${errors.length} ${noun} failed`);
  }
}

/**
 * Adds `service create|inspect|logs|ls|ps|rm|scale|update` (docker's `docker service`, on a
 * manager). `ctx` may carry a clock, terminal and Ctrl-C source for the progress of create,
 * update and scale (see ServiceCliContext).
 */
export function addServiceCommands(program: Command, ctx: ServiceCliContext): void {
  const { output } = ctx;
  const service = program.command('service').description('Manage services (on a manager)');

  addServiceCreateCommand(service, ctx);

  service
    .command('inspect')
    .description('Show details of one or more services (name, ID or ID prefix)')
    .option('--pretty', 'print a human-readable summary instead of JSON')
    .addOption(new Option('-f, --format <format>', 'json: the array compact on one line').choices(['json']))
    .argument('<service...>', 'services to inspect')
    .action(async (refs: string[], opts: InspectOptions, cmd: Command) => {
      if (opts.pretty === true && opts.format !== undefined) {
        throw new VxmeshError('INVALID_ARGUMENT', '--format is incompatible with human friendly format (--pretty)');
      }
      const { clock } = serviceEnvironment(ctx);
      await withDaemon(ctx, cmd, async (daemon) => {
        const found: ServiceRecord[] = [];
        let failure: { readonly err: unknown } | undefined;
        try {
          await forEachRef(refs, SERVICES, async (ref) => {
            found.push(await lookUpService(daemon, ref, 'lower'));
          });
        } catch (err) {
          failure = { err };
        }
        // Like docker's inspect: print what was found (even "[]" for unknown services), then
        // fail; but print nothing when the daemon itself failed and nothing was found.
        if (failure === undefined || found.length > 0 || onlyNotFound(failure.err)) {
          if (opts.pretty === true) {
            // Names only make `Networks:` friendlier; without them the IDs are shown.
            const networks = await daemon.listNetworks().catch(() => []);
            const names = new Map(networks.map((n) => [n.network.id, n.network.name]));
            output.out(found.map((s) => formatServicePretty(s, names, clock.now())).join(''));
          } else {
            output.out(formatServiceInspect(found.map(dockerServiceJson), opts.format === 'json'));
          }
        }
        if (failure !== undefined) {
          throw failure.err;
        }
      });
    });

  addServiceLogsCommand(service, ctx);

  service
    .command('ls')
    .alias('list')
    .description('List services')
    .option('-q, --quiet', 'only display IDs')
    .addOption(
      new Option('--format <format>', 'table, or json for one JSON object per line').choices(['table', 'json']),
    )
    .action(async (opts: ListOptions, cmd: Command) => {
      const records = await withDaemon(ctx, cmd, (daemon) => daemon.listServices());
      const entries = serviceListEntries(records);
      // As in docker, --format json wins over -q, which only changes the table.
      if (opts.format === 'json') {
        output.out(formatServiceJsonLines(entries));
      } else if (opts.quiet === true) {
        output.out(formatServiceIds(entries));
      } else {
        output.out(formatServiceTable(entries));
      }
    });

  service
    .command('ps')
    .description('List the tasks of one or more services, earlier tasks of each slot included')
    .option('-q, --quiet', 'only display task IDs (in full)')
    .option('--no-trunc', 'do not truncate output')
    .option('-f, --filter <K=V>', 'filter: desired-state, id, name or node; repeatable', parseFilterFlag)
    .addOption(
      new Option('--format <format>', 'table, or json for one JSON object per line').choices(['table', 'json']),
    )
    .argument('<service...>', 'services whose tasks to list (name, ID or ID prefix)')
    .action(async (refs: string[], opts: PsOptions, cmd: Command) => {
      // Checked before connecting: a bad filter is a usage error, whatever the daemon's state.
      const args = filterArgs(opts.filter ?? [], TASK_FILTERS);
      checkTaskFilters(args);
      const { clock } = serviceEnvironment(ctx);
      const { tasks, missing } = await withDaemon(ctx, cmd, async (daemon) => {
        const listed: TaskRecord[] = [];
        const notFound: unknown[] = [];
        const seen = new Set<string>();
        for (const ref of refs) {
          let record: ServiceRecord;
          try {
            record = await lookUpService(daemon, ref, 'lower');
          } catch (err) {
            if (!isNotFound(err)) {
              throw err;
            }
            notFound.push(err);
            continue;
          }
          if (!seen.has(record.service.id)) {
            seen.add(record.service.id);
            listed.push(...(await daemon.listTasks({ service: record.service.id, node: '' })));
          }
        }
        return { tasks: listed, missing: notFound };
      });
      // As docker: nothing found is only an error; otherwise the table, then the missing ones.
      if (missing.length === refs.length) {
        throwAll(missing, SERVICES);
      }
      // docker shows full IDs with -q.
      const entries = taskListEntries(filterTasks(tasks, args), opts.trunc && opts.quiet !== true, clock.now());
      if (opts.format === 'json') {
        output.out(formatTaskJsonLines(entries));
      } else if (opts.quiet === true) {
        output.out(formatTaskIds(entries));
      } else {
        output.out(formatTaskTable(entries));
      }
      throwAll(missing, SERVICES);
    });

  service
    .command('rm')
    .alias('remove')
    .description('Remove one or more services (their tasks are stopped in the background)')
    .argument('<service...>', 'services to remove')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      await withDaemon(ctx, cmd, (daemon) =>
        forEachRef(refs, SERVICES, async (ref) => {
          try {
            await daemon.removeService(ref);
          } catch (err) {
            throw isNotFound(err) ? noSuchService(ref, 'capitalized', err) : err;
          }
          output.out(`${ref}\n`);
        }),
      );
    });

  addServiceScaleCommand(service, ctx);
  addServiceUpdateCommand(service, ctx);
}
