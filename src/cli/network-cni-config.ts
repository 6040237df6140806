import { Option } from 'commander';
import type { Command } from 'commander';
import { VxmeshError } from '../common/errors.js';
import { SUPPORTED_VERSIONS, cniConflist } from '../cni/index.js';
import type { CliContext } from './cli-context.js';
import { withDaemon } from './cli-context.js';
import { DEFAULT_DAEMON_HOST, parseDaemonHost } from './daemon-address.js';

interface CniConfigOptions {
  readonly name?: string;
  readonly socket?: string;
  readonly cniVersion: string;
  /** false with --no-dns (commander's negatable option). */
  readonly dns: boolean;
}

/**
 * Adds `network cni-config NETWORK`: prints a CNI network configuration list for the vxmesh
 * plugin, ready for a runtime's configuration directory (Podman's `network_config_dir`,
 * /etc/cni/net.d). On a manager the network is looked up first (it must be attachable, and its
 * name is written); a worker cannot look networks up, so there the argument is written as given.
 */
export function addNetworkCniConfigCommand(network: Command, ctx: CliContext): void {
  network
    .command('cni-config')
    .description('Print a CNI network configuration list (conflist) that attaches containers to a network')
    .option('--name <name>', 'CNI network name runtimes use (default: the network name)')
    .option('--socket <path>', "vxmeshd's socket the plugin calls (default: the -H socket)")
    .addOption(
      new Option('--cni-version <version>', 'cniVersion of the configuration')
        .choices([...SUPPORTED_VERSIONS])
        .default('1.0.0'),
    )
    .option('--no-dns', 'do not serve the embedded resolver (127.0.0.11) in containers')
    .argument('<network>', 'network name, ID or ID prefix (attachable)')
    .action(async (ref: string, opts: CniConfigOptions, command: Command) => {
      const { host } = command.optsWithGlobals<{ host: string }>();
      const socket = opts.socket ?? parseDaemonHost(host || DEFAULT_DAEMON_HOST).socketPath;
      const found = await withDaemon(ctx, command, async (daemon) => {
        try {
          return (await daemon.getNetwork(ref)).network;
        } catch (err) {
          // A worker cannot look networks up; the plugin's ADD will tell.
          if (err instanceof VxmeshError && err.code === 'FAILED_PRECONDITION') {
            return undefined;
          }
          throw err;
        }
      });
      if (found && !found.attachable) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          `network ${found.name} is not attachable: create it with --attachable to use it from other runtimes`,
        );
      }
      const networkName = found?.name ?? ref;
      const conflist = cniConflist({
        network: networkName,
        name: opts.name ?? networkName,
        socket,
        cniVersion: opts.cniVersion,
        embeddedDns: opts.dns,
      });
      ctx.output.out(`${JSON.stringify(conflist, null, 2)}\n`);
    });
}
