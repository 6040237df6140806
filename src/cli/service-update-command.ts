import { Option } from 'commander';
import type { Command } from 'commander';
import { InvalidArgumentError } from '../common/errors.js';
import { withDaemon } from './cli-context.js';
import { parseNetworkFlag } from './container-flag-values.js';
import type { DaemonApi } from './daemon-api.js';
import { parseLabelFlag } from './network-flag-values.js';
import { serviceEnvironment } from './service-environment.js';
import type { ServiceCliContext } from './service-environment.js';
import {
  parseConstraintFlag,
  parseCountFlag,
  parseDelayFlag,
  parseParallelismFlag,
  parsePublishFlag,
  parsePublishRemoveFlag,
  parseRestartDelayFlag,
  parseServiceNetworkFlag,
} from './service-flag-values.js';
import { isNotFound, lookUpService } from './service-lookup.js';
import { ENDPOINT_MODE_NAMES, RESTART_CONDITION_NAMES } from './service-text.js';
import { updatedServiceSpec } from './service-update-spec.js';
import type { ResolvedNetworks, ServiceUpdateOptions } from './service-update-spec.js';
import { waitForService } from './service-wait.js';

/** `--label-rm` and `--constraint-rm`: any non-empty value; repeatable. Accumulates into `previous`. */
function collectNonEmpty(value: string, previous: readonly string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The ID of the network `ref` names; NOT_FOUND becomes an error naming `flag`. */
async function networkId(daemon: DaemonApi, ref: string, flag: string): Promise<string> {
  try {
    return (await daemon.getNetwork(ref)).network.id;
  } catch (err) {
    throw isNotFound(err) ? new InvalidArgumentError(flag, `network ${ref} not found`, { cause: err }) : err;
  }
}

/** Looks the `--network-add` and `--network-rm` networks up: spec networks are stored by ID. */
async function resolveNetworks(daemon: DaemonApi, opts: ServiceUpdateOptions): Promise<ResolvedNetworks> {
  const add: { id: string; ref: string; aliases: readonly string[] }[] = [];
  for (const { network, aliases } of opts.networkAdd ?? []) {
    add.push({ id: await networkId(daemon, network, '--network-add'), ref: network, aliases });
  }
  const removeIds = new Set<string>();
  for (const network of opts.networkRm ?? []) {
    removeIds.add(await networkId(daemon, network, '--network-rm'));
  }
  return { add, removeIds };
}

/** Adds `service update` to the `service` group. */
export function addServiceUpdateCommand(service: Command, ctx: ServiceCliContext): void {
  service
    .command('update')
    .summary('Update a service')
    .description(
      'Update a service: read its spec, edit it with the flags and send it back with the version read ' +
        '(so a concurrent change is refused rather than lost). Tasks are replaced by a rolling update ' +
        'when what they run changed (networks, ports, --force); the command follows them until they ' +
        'converge (unless -d).',
    )
    .option('--replicas <N>', 'number of tasks (replicated mode)', parseCountFlag)
    .option(
      '--network-add <NET>',
      'attach to one more network (name, ID, or name=NET,alias=ALIAS); repeatable',
      parseServiceNetworkFlag,
    )
    .option('--network-rm <NET>', 'detach from a network (name or ID); repeatable', parseNetworkFlag)
    .option(
      '--publish-add <spec>',
      'add or update a published port (as --publish of create); repeatable',
      parsePublishFlag,
    )
    .option(
      '--publish-rm <port>',
      'remove published ports: PORT[/PROTO] (target or published), PUBLISHED:TARGET[/PROTO] or published=P; repeatable',
      parsePublishRemoveFlag,
    )
    .option('--constraint-add <EXPR>', 'add a placement constraint; repeatable', parseConstraintFlag)
    .option('--constraint-rm <EXPR>', 'remove a placement constraint; repeatable', collectNonEmpty)
    .option('--label-add <K=V>', 'add or update a service label; repeatable', parseLabelFlag)
    .option('--label-rm <K>', 'remove a service label; repeatable', collectNonEmpty)
    .addOption(new Option('--endpoint-mode <mode>', 'vip or dnsrr').choices(ENDPOINT_MODE_NAMES))
    .addOption(
      new Option('--restart-condition <condition>', 'any, on-failure or none').choices(RESTART_CONDITION_NAMES),
    )
    .option('--restart-delay <duration>', 'delay before a task that ended is replaced', parseRestartDelayFlag)
    .option('--restart-max-attempts <N>', 'replacements of a task before giving up (0: unlimited)', parseCountFlag)
    .option('--update-parallelism <N>', 'tasks a rolling update replaces at once', parseParallelismFlag)
    .option('--update-delay <duration>', 'delay between rolling-update steps', parseDelayFlag)
    .option('--force', 'replace every task even if nothing requires it')
    .option('-d, --detach', 'exit at once instead of waiting for the service to converge')
    .option('-q, --quiet', 'suppress progress output')
    .argument('<service>', 'service name, ID or ID prefix')
    .action(async (ref: string, opts: ServiceUpdateOptions, cmd: Command) => {
      const env = serviceEnvironment(ctx);
      await withDaemon(ctx, cmd, async (daemon) => {
        const current = await lookUpService(daemon, ref);
        const spec = updatedServiceSpec(current.service.spec, opts, await resolveNetworks(daemon, opts));
        await daemon.updateService(current.service.id, spec, current.version);
        ctx.output.out(`${ref}\n`);
        if (opts.detach !== true) {
          await waitForService(env, ctx.output, daemon, ref, opts.quiet === true);
        }
      });
    });
}
