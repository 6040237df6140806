import type { Command } from 'commander';
import { withDaemon } from './cli-context.js';
import type { CliContext } from './cli-context.js';
import { parseAliasFlag, parseIpv4Flag, parseIpv6Flag, parseLinkFlag } from './container-flag-values.js';
import { containerNetworkRequest } from './container-requests.js';

interface ConnectOptions {
  readonly ip?: string;
  readonly ip6?: string;
  readonly alias?: string[];
  readonly link?: string[];
}

interface DisconnectOptions {
  readonly force?: boolean;
}

/**
 * Adds `network connect|disconnect` to the `network` group made by addNetworkCommands (which must
 * run first). They act on this node's containers, so they go to LocalControl like `run` does.
 * Both are silent on success, as in docker.
 */
export function addContainerNetworkCommands(program: Command, ctx: CliContext): void {
  const network = program.commands.find((c) => c.name() === 'network');
  if (network === undefined) {
    throw new Error('addContainerNetworkCommands: add the network commands first');
  }

  network
    .command('connect')
    .description('Connect a container on this node to an attachable network (one more interface)')
    .option('--ip <IP>', 'IPv4 address on the network', parseIpv4Flag)
    .option('--ip6 <IP>', 'IPv6 address on the network', parseIpv6Flag)
    .option('--alias <ALIAS>', 'network-scoped alias for the container; repeatable', parseAliasFlag)
    .option(
      '--link <NAME:ALIAS>',
      'name another container by ALIAS, for this container only, on this network; repeatable',
      parseLinkFlag,
    )
    .argument('<network>', 'network name, ID or ID prefix')
    .argument('<container>', 'container name, ID or ID prefix')
    .action(async (net: string, container: string, opts: ConnectOptions, cmd: Command) => {
      const request = containerNetworkRequest(net, {
        ip: opts.ip,
        ip6: opts.ip6,
        aliases: opts.alias,
        links: opts.link,
      });
      await withDaemon(ctx, cmd, (daemon) => daemon.connectNetwork(container, request));
    });

  network
    .command('disconnect')
    .description('Disconnect a container on this node from a network')
    .option('-f, --force', 'also remove the endpoint of a container that no longer exists')
    .argument('<network>', 'network name, ID or ID prefix')
    .argument('<container>', 'container name, ID or ID prefix')
    .action(async (net: string, container: string, opts: DisconnectOptions, cmd: Command) => {
      await withDaemon(ctx, cmd, (daemon) => daemon.disconnectNetwork(container, net, opts.force === true));
    });
}
