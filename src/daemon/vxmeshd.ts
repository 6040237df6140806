import { hostname } from 'node:os';
import { Command } from 'commander';
import { VxmeshError } from '../common/errors.js';
import { systemClock } from '../common/clock.js';
import { createLogger } from '../common/logger.js';
import { Daemon } from './daemon.js';
import { createKernelDriver } from './kernel-driver.js';

const log = createLogger('vxmeshd');

const program = new Command('vxmeshd')
  .description('vxmesh per-host daemon: node agent, and manager once this node manages the cluster')
  .option('--data-root <dir>', 'directory for node state, certificates and the embedded store', '/var/lib/vxmesh')
  .option('--socket <path>', 'local control socket (root only)', '/run/vxmesh/vxmesh.sock')
  .option('--hostname <name>', 'name this node reports to the cluster', hostname())
  .option('--netns-prefix <prefix>', 'prefix of the network namespaces this daemon creates (unique per daemon)', 'vx-')
  .option(
    '--docker-plugin-socket <path>',
    'serve the Docker network/IPAM plugin API here (e.g. /run/docker/plugins/vxmesh.sock)',
    '',
  )
  .option('--etcd-cacert <file>', "CA bundle that signed the etcd servers' certificates (https:// endpoints)")
  .option('--etcd-cert <file>', "this host's client certificate for etcd's --client-cert-auth")
  .option('--etcd-key <file>', 'private key of --etcd-cert')
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const opts = program.opts<{
    dataRoot: string;
    socket: string;
    hostname: string;
    netnsPrefix: string;
    dockerPluginSocket: string;
    etcdCacert?: string;
    etcdCert?: string;
    etcdKey?: string;
  }>();
  if ((opts.etcdCert === undefined) !== (opts.etcdKey === undefined)) {
    throw new VxmeshError('INVALID_ARGUMENT', '--etcd-cert and --etcd-key must be given together');
  }
  if (opts.etcdCert !== undefined && opts.etcdCacert === undefined) {
    throw new VxmeshError('INVALID_ARGUMENT', '--etcd-cert needs --etcd-cacert');
  }
  const daemon = await Daemon.start({
    dataRoot: opts.dataRoot,
    socketPath: opts.socket,
    hostname: opts.hostname,
    clock: systemClock,
    namespacePrefix: opts.netnsPrefix,
    driver: await createKernelDriver(),
    ...(opts.dockerPluginSocket ? { dockerPluginSocket: opts.dockerPluginSocket } : {}),
    ...(opts.etcdCacert === undefined
      ? {}
      : {
          etcdTls: {
            caFile: opts.etcdCacert,
            ...(opts.etcdCert === undefined ? {} : { certFile: opts.etcdCert }),
            ...(opts.etcdKey === undefined ? {} : { keyFile: opts.etcdKey }),
          },
        }),
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    log.info({ signal }, 'shutting down');
    daemon.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const message = err instanceof VxmeshError ? err.message : err instanceof Error ? err.message : String(err);
  log.error({ err }, 'vxmeshd failed to start');
  process.stderr.write(`vxmeshd: ${message}\n`);
  process.exit(1);
});
