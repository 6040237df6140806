import { Argument, InvalidArgumentError as FlagValueError, Option } from 'commander';
import type { Command } from 'commander';
import { InvalidArgumentError, VxmeshError } from '../common/errors.js';
import { NodeAvailability } from '../gen/vxmesh/v1/node.js';
import { withDaemon } from './cli-context.js';
import { parseGoDuration } from './go-duration.js';
import type { CliContext } from './cli-context.js';
import {
  cidrPrefixLength,
  parseAddressWithoutPort,
  parseCertExpiry,
  parseCidrList,
  parseDataPathPort,
  parseEtcdEndpoints,
  parseHostPort,
  parsePoolMaskLength,
} from './flag-values.js';
import { AVAILABILITY_NAMES, ROLE_NAMES, availabilityFromText, roleFromText, roleText } from './node-text.js';
import type { AvailabilityName, RoleName } from './node-text.js';
import { LEFT_TEXT, joinTokenText, joinedText, rotatedTokenText, swarmInitText } from './swarm-messages.js';

interface SwarmInitOptions {
  readonly advertiseAddr?: string;
  readonly listenAddr?: string;
  readonly dataPathAddr?: string;
  readonly dataPathPort?: number;
  readonly defaultAddrPool?: string[];
  readonly defaultAddrPoolMaskLength?: number;
  readonly etcdEndpoints?: string[];
  readonly certExpiry?: number;
  readonly dispatcherHeartbeat?: number;
}

/** Shortest and longest `--dispatcher-heartbeat`: managers' leases last three periods. */
const MIN_HEARTBEAT_MS = 1000;
const MAX_HEARTBEAT_MS = 3_600_000;

/** `--dispatcher-heartbeat`: a Go duration (docker's default is 5s), in milliseconds. */
function parseHeartbeat(value: string): number {
  let ms: number;
  try {
    ms = parseGoDuration(value);
  } catch (err) {
    throw new FlagValueError(`${(err as Error).message}; expected a duration such as 5s.`);
  }
  if (ms < MIN_HEARTBEAT_MS || ms > MAX_HEARTBEAT_MS) {
    throw new FlagValueError('Must be between 1s and 1h.');
  }
  return Math.round(ms);
}

interface SwarmJoinOptions {
  readonly token: string;
  readonly advertiseAddr?: string;
  readonly dataPathAddr?: string;
  readonly listenAddr?: string;
  readonly availability?: AvailabilityName;
}

interface JoinTokenOptions {
  readonly quiet?: boolean;
  readonly rotate?: boolean;
}

interface LeaveOptions {
  readonly force?: boolean;
}

/** Cross-flag checks commander cannot express; per-value checks live in flag-values.ts. */
function checkPoolMaskLength(pools: readonly string[], maskLength: number | undefined): void {
  if (maskLength === undefined) {
    return;
  }
  for (const pool of pools) {
    if (maskLength < cidrPrefixLength(pool)) {
      throw new InvalidArgumentError(
        '--default-addr-pool-mask-length',
        `${maskLength} is shorter than the prefix of --default-addr-pool ${pool}`,
      );
    }
  }
}

/** Adds `swarm init|join|join-token|leave`. */
export function addSwarmCommands(program: Command, ctx: CliContext): void {
  const { output } = ctx;
  const swarm = program.command('swarm').description('Manage the cluster (swarm)');

  swarm
    .command('init')
    .description('Initialize a cluster with this node as its first manager')
    .option('--advertise-addr <addr[:port]>', 'address other nodes reach this manager on', parseHostPort)
    .option('--listen-addr <addr[:port]>', 'address the cluster API listens on (default 0.0.0.0:2377)', parseHostPort)
    .option(
      '--data-path-addr <addr>',
      'address advertised for VXLAN traffic (default: the advertise address)',
      parseAddressWithoutPort,
    )
    .option(
      '--data-path-port <port>',
      'VXLAN UDP port for the whole cluster, 1024-49151 (default 4789)',
      parseDataPathPort,
    )
    .option(
      '--default-addr-pool <cidr>',
      'pool overlay subnets are taken from; repeatable (default 10.0.0.0/8)',
      parseCidrList,
    )
    .option(
      '--default-addr-pool-mask-length <n>',
      'prefix length of each subnet taken from the pools, 8-29 (default 24)',
      parsePoolMaskLength,
    )
    .option(
      '--etcd-endpoints <url[,url...]>',
      'etcd cluster to keep state in (default: an embedded store)',
      parseEtcdEndpoints,
    )
    .option('--cert-expiry <duration>', 'lifetime of node certificates, e.g. 720h (default 2160h)', parseCertExpiry)
    .option(
      '--dispatcher-heartbeat <duration>',
      'heartbeat period of the nodes; managers are replaced after three (default 5s)',
      parseHeartbeat,
    )
    .action(async (opts: SwarmInitOptions, command: Command) => {
      const pools = opts.defaultAddrPool ?? [];
      checkPoolMaskLength(pools, opts.defaultAddrPoolMaskLength);
      const res = await withDaemon(ctx, command, (daemon) =>
        daemon.swarmInit({
          advertiseAddr: opts.advertiseAddr ?? '',
          listenAddr: opts.listenAddr ?? '',
          dataPathAddr: opts.dataPathAddr ?? '',
          dataPathPort: opts.dataPathPort ?? 0,
          defaultAddrPools: pools,
          defaultAddrPoolMaskLength: opts.defaultAddrPoolMaskLength ?? 0,
          etcdEndpoints: opts.etcdEndpoints ?? [],
          certExpiryMs: BigInt(opts.certExpiry ?? 0),
          dispatcherHeartbeatMs: opts.dispatcherHeartbeat ?? 0,
        }),
      );
      output.out(swarmInitText(res.nodeId, res.workerJoinCommand));
    });

  swarm
    .command('join')
    .description('Join a cluster as a worker or manager, as the token says')
    .requiredOption('--token <token>', 'join token from `vxmesh swarm join-token`')
    .option('--advertise-addr <addr[:port]>', 'address other nodes reach this node on', parseHostPort)
    .option(
      '--data-path-addr <addr>',
      'address advertised for VXLAN traffic (default: the advertise address)',
      parseAddressWithoutPort,
    )
    .option(
      '--listen-addr <addr[:port]>',
      'address to listen on if this node becomes a manager (default 0.0.0.0:2377)',
      parseHostPort,
    )
    .addOption(
      new Option('--availability <state>', 'availability of this node (default active)').choices(AVAILABILITY_NAMES),
    )
    .addArgument(
      new Argument('<manager-addr>', 'address of a manager, host[:port] (default port 2377)').argParser(parseHostPort),
    )
    .action(async (managerAddr: string, opts: SwarmJoinOptions, command: Command) => {
      const res = await withDaemon(ctx, command, (daemon) =>
        daemon.swarmJoin({
          token: opts.token,
          remoteAddr: managerAddr,
          advertiseAddr: opts.advertiseAddr ?? '',
          dataPathAddr: opts.dataPathAddr ?? '',
          listenAddr: opts.listenAddr ?? '',
          availability:
            opts.availability === undefined
              ? NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED
              : availabilityFromText(opts.availability),
        }),
      );
      output.out(joinedText(roleText(res.role) === 'manager' ? 'manager' : 'worker'));
    });

  swarm
    .command('join-token')
    .description('Print (or rotate) the join token for workers or managers')
    .option('-q, --quiet', 'only print the token')
    .option('--rotate', 'replace the token; the old one stops working at once')
    .addArgument(new Argument('<role>', 'worker or manager').choices(ROLE_NAMES))
    .action(async (role: RoleName, opts: JoinTokenOptions, command: Command) => {
      const text = await withDaemon(ctx, command, async (daemon) => {
        let prefix = '';
        let tokens;
        if (opts.rotate) {
          tokens = await daemon.rotateJoinToken(roleFromText(role));
          prefix = opts.quiet ? '' : rotatedTokenText(role);
        } else {
          tokens = await daemon.getJoinTokens();
        }
        const token = role === 'manager' ? tokens.manager : tokens.worker;
        if (opts.quiet) {
          return `${token}\n`;
        }
        const managerAddr = (await daemon.info()).managerAddrs[0];
        if (managerAddr === undefined) {
          throw new VxmeshError('FAILED_PRECONDITION', 'the daemon reports no manager address to join through');
        }
        return prefix + joinTokenText(role, token, managerAddr);
      });
      output.out(text);
    });

  swarm
    .command('leave')
    .description('Leave the cluster')
    .option('-f, --force', 'leave even if this is a manager whose leaving may break the cluster')
    .action(async (opts: LeaveOptions, command: Command) => {
      await withDaemon(ctx, command, (daemon) => daemon.swarmLeave(opts.force === true));
      output.out(LEFT_TEXT);
    });
}
