import { Option } from 'commander';
import type { Command } from 'commander';
import { withDaemon } from './cli-context.js';
import { parseLabelFlag } from './network-flag-values.js';
import { stopOptionsAtFirstOperand } from './operand-separator.js';
import { serviceCreateSpec } from './service-create-spec.js';
import type { ServiceCreateOptions } from './service-create-spec.js';
import { serviceEnvironment } from './service-environment.js';
import type { ServiceCliContext } from './service-environment.js';
import {
  parseConstraintFlag,
  parseCountFlag,
  parseDelayFlag,
  parseParallelismFlag,
  parsePublishFlag,
  parseRestartDelayFlag,
  parseServiceName,
  parseServiceNetworkFlag,
} from './service-flag-values.js';
import { ENDPOINT_MODE_NAMES, RESTART_CONDITION_NAMES, SERVICE_MODE_NAMES } from './service-text.js';
import { waitForService } from './service-wait.js';

/** Adds `service create` to the `service` group. */
export function addServiceCreateCommand(service: Command, ctx: ServiceCliContext): void {
  const create = service
    .command('create')
    .usage('[options] --name NAME [--] CMD [ARG...]')
    .summary('Create a service and print its ID')
    .description(
      'Create a service whose tasks run CMD (vxmesh has no images: the command is what docker ' +
        'would take after the image), print its ID, and follow its tasks until they all run ' +
        '(unless -d).',
    )
    .requiredOption('--name <NAME>', 'service name', parseServiceName)
    .option('--replicas <N>', 'number of tasks (replicated mode; default 1)', parseCountFlag)
    .addOption(new Option('--mode <mode>', 'replicated or global (one task per node)').choices(SERVICE_MODE_NAMES))
    .option(
      '--network <NET>',
      'attach to this overlay network (name, ID, or name=NET,alias=ALIAS); repeatable',
      parseServiceNetworkFlag,
    )
    .option(
      '-p, --publish <spec>',
      'publish a port: published=P,target=T[,protocol=tcp|udp][,mode=ingress|host] or P:T[/PROTO]; repeatable',
      parsePublishFlag,
    )
    .addOption(new Option('--endpoint-mode <mode>', 'vip (default) or dnsrr').choices(ENDPOINT_MODE_NAMES))
    .option(
      '--constraint <EXPR>',
      'placement constraint: node.id, node.hostname or node.role, == or !=, value; repeatable',
      parseConstraintFlag,
    )
    .addOption(
      new Option(
        '--restart-condition <condition>',
        'restart when a task ends: any (default), on-failure or none',
      ).choices(RESTART_CONDITION_NAMES),
    )
    .option(
      '--restart-delay <duration>',
      'delay before a task that ended is replaced (default 5s)',
      parseRestartDelayFlag,
    )
    .option(
      '--restart-max-attempts <N>',
      'replacements of a task before giving up (default 0: unlimited)',
      parseCountFlag,
    )
    .option('--update-parallelism <N>', 'tasks a rolling update replaces at once (default 1)', parseParallelismFlag)
    .option('--update-delay <duration>', 'delay between rolling-update steps (default 0s)', parseDelayFlag)
    .option('--label <K=V>', 'set metadata on the service; repeatable', parseLabelFlag)
    .option('-d, --detach', 'exit at once instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .argument('[command...]', 'command and arguments the tasks run; options end at the first of them')
    .action(async (command: string[], opts: ServiceCreateOptions, cmd: Command) => {
      // Checked before connecting: a bad combination is a usage error, whatever the daemon's state.
      const spec = serviceCreateSpec(opts, command);
      const env = serviceEnvironment(ctx);
      await withDaemon(ctx, cmd, async (daemon) => {
        const created = await daemon.createService(spec);
        ctx.output.out(`${created.service.id}\n`);
        if (opts.detach !== true) {
          await waitForService(env, ctx.output, daemon, created.service.id, opts.quiet === true);
        }
      });
    });
  stopOptionsAtFirstOperand(create);
}
