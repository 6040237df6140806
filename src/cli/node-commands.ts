import { Option } from 'commander';
import { forEachRef } from './for-each-ref.js';
import type { Command } from 'commander';
import { VxmeshError } from '../common/errors.js';
import { NodeAvailability, NodeRole } from '../gen/vxmesh/v1/node.js';
import { withDaemon } from './cli-context.js';
import type { CliContext } from './cli-context.js';
import type { DaemonApi, NodeRecord } from './daemon-api.js';
import { dockerNodeJson, formatNodeInspect } from './node-inspect-json.js';
import { formatNodePretty } from './node-inspect-pretty.js';
import { formatNodeIds, formatNodeJsonLines, formatNodeTable, nodeListEntries } from './node-list-format.js';
import { AVAILABILITY_NAMES, ROLE_NAMES, availabilityFromText, roleFromText, roleText } from './node-text.js';
import type { AvailabilityName, RoleName } from './node-text.js';

/** The node ref docker resolves to the local node. */
const SELF_REF = 'self';

interface ListOptions {
  readonly quiet?: boolean;
  readonly format?: 'table' | 'json';
}

interface InspectOptions {
  readonly pretty?: boolean;
}

interface RemoveOptions {
  readonly force?: boolean;
}

interface UpdateOptions {
  readonly availability?: AvailabilityName;
  readonly role?: RoleName;
}

/** Resolves docker's `self` to the local node's ID; any other ref is left for the daemon to resolve. */
async function resolveRef(daemon: DaemonApi, ref: string): Promise<string> {
  if (ref !== SELF_REF) {
    return ref;
  }
  const { nodeId } = await daemon.info();
  if (nodeId === '') {
    throw new VxmeshError('FAILED_PRECONDITION', 'this node is not part of a swarm');
  }
  return nodeId;
}

/** Whether every failure in `err` (one error or an AggregateError) is a node that does not exist. */
function onlyNotFound(err: unknown): boolean {
  const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  return errors.every((e) => e instanceof VxmeshError && e.code === 'NOT_FOUND');
}

/** Adds `node ls|inspect|rm|promote|demote|update`. */
export function addNodeCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;
  const node = program.command('node').description('Manage cluster nodes (on a manager)');

  node
    .command('ls')
    .alias('list')
    .description('List the nodes of the cluster')
    .option('-q, --quiet', 'only print IDs')
    .addOption(
      new Option('--format <format>', 'table, or json for one JSON object per line').choices(['table', 'json']),
    )
    .action(async (opts: ListOptions, command: Command) => {
      const entries = await withDaemon(ctx, command, async (daemon) => {
        const views = await daemon.listNodes();
        const { nodeId } = await daemon.info();
        return nodeListEntries(views, nodeId);
      });
      if (opts.quiet) {
        output.out(formatNodeIds(entries));
      } else if (opts.format === 'json') {
        output.out(formatNodeJsonLines(entries));
      } else {
        output.out(formatNodeTable(entries));
      }
    });

  node
    .command('inspect')
    .description('Show details of one or more nodes (ID, ID prefix, hostname, or "self")')
    .option('--pretty', 'print a human-readable summary instead of JSON')
    .argument('<node...>', 'nodes to inspect')
    .action(async (refs: string[], opts: InspectOptions, command: Command) => {
      await withDaemon(ctx, command, async (daemon) => {
        const found: NodeRecord[] = [];
        let failure: { readonly err: unknown } | undefined;
        try {
          await forEachRef(refs, 'nodes', async (ref) => {
            found.push(await daemon.getNode(await resolveRef(daemon, ref)));
          });
        } catch (err) {
          failure = { err };
        }
        // Like `docker node inspect`: print what was found (even "[]" for unknown nodes), then
        // fail; but print nothing when the daemon itself failed and nothing was found.
        if (failure === undefined || found.length > 0 || onlyNotFound(failure.err)) {
          output.out(
            opts.pretty ? found.map(formatNodePretty).join('\n') : formatNodeInspect(found.map(dockerNodeJson)),
          );
        }
        if (failure !== undefined) {
          throw failure.err;
        }
      });
    });

  node
    .command('rm')
    .alias('remove')
    .description('Remove one or more nodes from the cluster')
    .option('-f, --force', 'remove a node even if it is not down')
    .argument('<node...>', 'nodes to remove')
    .action(async (refs: string[], opts: RemoveOptions, command: Command) => {
      await withDaemon(ctx, command, (daemon) =>
        forEachRef(refs, 'nodes', async (ref) => {
          await daemon.removeNode(await resolveRef(daemon, ref), opts.force === true);
          output.out(`${ref}\n`);
        }),
      );
    });

  const changeRole = (to: RoleName) => async (refs: string[], _opts: unknown, command: Command) => {
    await withDaemon(ctx, command, (daemon) =>
      forEachRef(refs, 'nodes', async (ref) => {
        const id = await resolveRef(daemon, ref);
        const shown = ref === SELF_REF ? id : ref;
        const current = await daemon.getNode(id);
        if (roleText(current.node.role) === to) {
          output.out(`Node ${shown} is already a ${to}.\n`);
          return;
        }
        await daemon.updateNode({
          ref: current.node.id,
          role: roleFromText(to),
          availability: NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED,
        });
        output.out(
          to === 'manager'
            ? `Node ${shown} promoted to a manager in the swarm.\n`
            : `Manager ${shown} demoted in the swarm.\n`,
        );
      }),
    );
  };

  node
    .command('promote')
    .description('Promote one or more workers to managers')
    .argument('<node...>', 'nodes to promote')
    .action(changeRole('manager'));

  node
    .command('demote')
    .description('Demote one or more managers to workers')
    .argument('<node...>', 'nodes to demote')
    .action(changeRole('worker'));

  node
    .command('update')
    .description("Change a node's availability or role")
    .addOption(new Option('--availability <state>', 'active, pause or drain').choices(AVAILABILITY_NAMES))
    .addOption(new Option('--role <role>', 'worker or manager').choices(ROLE_NAMES))
    .argument('<node>', 'node to update')
    .action(async (ref: string, opts: UpdateOptions, command: Command) => {
      if (opts.availability === undefined && opts.role === undefined) {
        throw new VxmeshError('INVALID_ARGUMENT', 'nothing to update: pass --availability or --role');
      }
      await withDaemon(ctx, command, async (daemon) =>
        daemon.updateNode({
          ref: await resolveRef(daemon, ref),
          role: opts.role === undefined ? NodeRole.NODE_ROLE_UNSPECIFIED : roleFromText(opts.role),
          availability:
            opts.availability === undefined
              ? NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED
              : availabilityFromText(opts.availability),
        }),
      );
      output.out(`${ref}\n`);
    });
}
