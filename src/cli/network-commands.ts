import { Option } from 'commander';
import { forEachRef } from './for-each-ref.js';
import type { Command } from 'commander';
import { VxmeshError } from '../common/errors.js';
import type { CreateNetworkRequest } from '../gen/vxmesh/v1/control.js';
import { withDaemon } from './cli-context.js';
import type { CliContext } from './cli-context.js';
import { confirm } from './confirm-prompt.js';
import type { DaemonApi, NetworkRecord } from './daemon-api.js';
import { filterArgs, parseFilterFlag } from './filter-args.js';
import type { FilterPair } from './filter-args.js';
import { parseCidrList } from './flag-values.js';
import {
  pairsToMap,
  parseAuxAddressFlag,
  parseIpListFlag,
  parseKeyValueFlag,
  parseLabelFlag,
} from './network-flag-values.js';
import type { KeyValuePairs } from './network-flag-values.js';
import { dockerNetworkJson, formatNetworkInspect } from './network-inspect-json.js';
import { NETWORK_LIST_FILTERS, filterNetworks } from './network-list-filter.js';
import {
  formatNetworkIds,
  formatNetworkJsonLines,
  formatNetworkTable,
  networkListEntries,
} from './network-list-format.js';
import { INGRESS_REMOVAL_WARNING, PRUNE_WARNING, formatPruneReport } from './network-messages.js';
import { pruneNetworksRequest } from './network-prune-request.js';
import { addNetworkCniConfigCommand } from './network-cni-config.js';

/** The cluster driver, and the default on a manager (docker's default there is the local "bridge"). */
const DEFAULT_DRIVER = 'overlay';
const DEFAULT_IPAM_DRIVER = 'default';

interface CreateOptions {
  readonly driver: string;
  readonly subnet?: string[];
  readonly gateway?: string[];
  readonly ipRange?: string[];
  readonly auxAddress?: KeyValuePairs;
  readonly ipv6?: boolean;
  readonly internal?: boolean;
  readonly attachable?: boolean;
  readonly ingress?: boolean;
  readonly label?: KeyValuePairs;
  readonly opt?: KeyValuePairs;
  readonly ipamDriver: string;
  readonly ipamOpt?: KeyValuePairs;
}

interface ListOptions {
  readonly quiet?: boolean;
  /** false with --no-trunc (commander's negatable option). */
  readonly trunc: boolean;
  readonly filter?: FilterPair[];
  readonly format?: 'table' | 'json';
}

interface InspectOptions {
  readonly format?: 'json';
}

interface ForceOptions {
  readonly force?: boolean;
}

interface PruneOptions extends ForceOptions {
  readonly filter?: FilterPair[];
}

/**
 * The manager's request for `network create`. The flags go through as given: pairing gateways,
 * ranges and aux addresses with subnets, and every semantic check, is the manager's (docker/cli
 * does part of it client-side; one place is easier to keep right).
 */
function createRequest(name: string, opts: CreateOptions): CreateNetworkRequest {
  return {
    name,
    driver: opts.driver,
    subnets: opts.subnet ?? [],
    gateways: opts.gateway ?? [],
    ipRanges: opts.ipRange ?? [],
    auxAddresses: pairsToMap(opts.auxAddress),
    enableIpv6: opts.ipv6 === true,
    internal: opts.internal === true,
    attachable: opts.attachable === true,
    ingress: opts.ingress === true,
    labels: pairsToMap(opts.label),
    options: pairsToMap(opts.opt),
    ipamDriver: opts.ipamDriver,
    ipamOptions: pairsToMap(opts.ipamOpt),
  };
}

function isNotFound(err: unknown): boolean {
  return err instanceof VxmeshError && err.code === 'NOT_FOUND';
}

/** Whether every failure in `err` (one error or an AggregateError) is a network that does not exist. */
function onlyNotFound(err: unknown): boolean {
  const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  return errors.every(isNotFound);
}

/**
 * `network rm` of one ref, as docker does it: look the network up first and, if it is the ingress
 * network, ask before removing it (a "no" skips it silently). --force skips the question, and, as
 * docker's --force does, a network that does not exist is not an error.
 */
async function removeOne(ctx: CliContext, daemon: DaemonApi, ref: string, force: boolean): Promise<void> {
  if (!force) {
    // A failed lookup is ignored, as docker ignores it: the removal reports the real error.
    const found = await daemon.getNetwork(ref).catch(() => undefined);
    if (found?.network.ingress === true && !(await confirm(ctx, INGRESS_REMOVAL_WARNING))) {
      return;
    }
  }
  try {
    await daemon.removeNetwork(ref);
  } catch (err) {
    if (force && isNotFound(err)) {
      return;
    }
    throw err;
  }
  ctx.output.out(`${ref}\n`);
}

/** Adds `network create|ls|inspect|rm|prune|cni-config`. */
export function addNetworkCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;
  const network = program.command('network').description('Manage cluster overlay networks (on a manager)');

  network
    .command('create')
    .description('Create an overlay network and print its ID')
    .option('-d, --driver <driver>', 'driver to manage the network', DEFAULT_DRIVER)
    .option('--subnet <CIDR>', 'subnet in CIDR format; repeatable', parseCidrList)
    .option('--gateway <IP>', 'gateway of a --subnet (at most one each); repeatable', parseIpListFlag)
    .option('--ip-range <CIDR>', 'allocate addresses from this range of a subnet; repeatable', parseCidrList)
    .option('--aux-address <NAME=IP>', 'address never handed out; repeatable', parseAuxAddressFlag)
    .option('--ipv6', 'enable IPv6 (needs an IPv6 --subnet)')
    .option('--internal', 'restrict external access to the network')
    .option('--attachable', 'let standalone containers attach')
    .option('--ingress', 'create the swarm routing-mesh network')
    .option('--label <K=V>', 'set metadata on the network; repeatable', parseLabelFlag)
    .option('-o, --opt <K=V>', 'set driver options (mtu, encrypted, vxlanid_list); repeatable', parseKeyValueFlag)
    .option('--ipam-driver <driver>', 'IP address management driver', DEFAULT_IPAM_DRIVER)
    .option('--ipam-opt <K=V>', 'set IPAM driver options; repeatable', parseKeyValueFlag)
    .argument('<name>', 'name of the network')
    .action(async (name: string, opts: CreateOptions, command: Command) => {
      const created = await withDaemon(ctx, command, (daemon) => daemon.createNetwork(createRequest(name, opts)));
      output.out(`${created.id}\n`);
    });

  network
    .command('ls')
    .alias('list')
    .description('List networks')
    .option('-q, --quiet', 'only display network IDs')
    .option('--no-trunc', 'do not truncate IDs')
    .option('-f, --filter <K=V>', 'filter: driver, id, label, name, scope or type; repeatable', parseFilterFlag)
    .addOption(
      new Option('--format <format>', 'table, or json for one JSON object per line').choices(['table', 'json']),
    )
    .action(async (opts: ListOptions, command: Command) => {
      // Checked before connecting: a bad filter is a usage error, whatever the daemon's state.
      const args = filterArgs(opts.filter ?? [], NETWORK_LIST_FILTERS);
      const records = await withDaemon(ctx, command, (daemon) => daemon.listNetworks());
      const entries = networkListEntries(
        filterNetworks(
          records.map((r) => r.network),
          args,
        ),
        opts.trunc,
      );
      // As in docker, --format json wins over -q, which only changes the table.
      if (opts.format === 'json') {
        output.out(formatNetworkJsonLines(entries));
      } else if (opts.quiet) {
        output.out(formatNetworkIds(entries));
      } else {
        output.out(formatNetworkTable(entries));
      }
    });

  network
    .command('inspect')
    .description('Show details of one or more networks (ID, ID prefix or name)')
    .addOption(new Option('-f, --format <format>', 'json: the array compact on one line').choices(['json']))
    .argument('<network...>', 'networks to inspect')
    .action(async (refs: string[], opts: InspectOptions, command: Command) => {
      await withDaemon(ctx, command, async (daemon) => {
        const found: NetworkRecord[] = [];
        let failure: { readonly err: unknown } | undefined;
        try {
          await forEachRef(refs, 'networks', async (ref) => {
            found.push(await daemon.getNetwork(ref));
          });
        } catch (err) {
          failure = { err };
        }
        // Like docker's inspect: print what was found (even "[]" for unknown networks), then
        // fail; but print nothing when the daemon itself failed and nothing was found.
        if (failure === undefined || found.length > 0 || onlyNotFound(failure.err)) {
          output.out(formatNetworkInspect(found.map(dockerNetworkJson), opts.format === 'json'));
        }
        if (failure !== undefined) {
          throw failure.err;
        }
      });
    });

  network
    .command('rm')
    .alias('remove')
    .description('Remove one or more networks')
    .option('-f, --force', 'do not ask before removing ingress, and do not fail for networks that do not exist')
    .argument('<network...>', 'networks to remove')
    .action(async (refs: string[], opts: ForceOptions, command: Command) => {
      await withDaemon(ctx, command, (daemon) =>
        forEachRef(refs, 'networks', (ref) => removeOne(ctx, daemon, ref, opts.force === true)),
      );
    });

  network
    .command('prune')
    .description('Remove all unused networks (never ingress)')
    .option('-f, --force', 'do not prompt for confirmation')
    .option('--filter <K=V>', 'label=K[=V], label!=K[=V] or until=<duration|timestamp>; repeatable', parseFilterFlag)
    .action(async (opts: PruneOptions, command: Command) => {
      const request = pruneNetworksRequest(opts.filter ?? [], Date.now());
      // Declining is not an error: docker exits 0 after "network prune has been cancelled".
      if (opts.force !== true && !(await confirm(ctx, PRUNE_WARNING))) {
        return;
      }
      if (request === undefined) {
        return; // The filters select nothing; docker's daemon would delete nothing either.
      }
      const deleted = await withDaemon(ctx, command, (daemon) => daemon.pruneNetworks(request));
      output.out(formatPruneReport(deleted));
    });

  addNetworkCniConfigCommand(network, ctx);
}
