import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { systemClock } from '../../src/common/clock.js';
import type { Clock } from '../../src/common/clock.js';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import type { TlsIdentity } from '../../src/common/tls/mutable-certificate-provider.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { ClusterControlClient, LocalControlClient } from '../../src/gen/vxmesh/v1/control.js';
import { NodeAvailability } from '../../src/gen/vxmesh/v1/node.js';
import type { SwarmInitRequest } from '../../src/gen/vxmesh/v1/control.js';
import { freePort } from './etcd-server.js';
import { RecordingDriver } from './recording-driver.js';
import { claimTestPrefix } from './test-hosts.js';
import { waitFor } from './vxmeshd-harness.js';

/** A daemon running in the test process, with clients on its local socket. */
export interface LoopbackDaemon {
  readonly daemon: Daemon;
  readonly local: LocalControlClient;
  readonly cluster: ClusterControlClient;
  readonly dataRoot: string;
  /** Records the dataplane specs the daemon asks for (no kernel is programmed). */
  readonly driver: RecordingDriver;
  /** "127.0.0.1:port" this daemon's cluster API would listen on. */
  readonly addr: string;
  identity(): Promise<TlsIdentity>;
  /** Stops the daemon (keeping its data) and starts it again; `options` replace the first start's. */
  restart(clock?: Clock, options?: LoopbackDaemonOptions): Promise<LoopbackDaemon>;
  /** Stops the daemon and keeps its data (a manager that is down); `restart` brings it back. */
  stop(): Promise<void>;
}

/** Daemon options a test may change. */
export interface LoopbackDaemonOptions {
  /** DaemonOptions.orphanGraceMs: how long an endpoint with no local owner waits before release. */
  readonly orphanGraceMs?: number;
}

/**
 * Daemons in one process on 127.0.0.1: the whole control plane without namespaces, for tests
 * that need an injected clock or direct access to certificates. `dispose()` stops them all.
 */
export class LoopbackCluster implements AsyncDisposable {
  readonly #cleanups: (() => Promise<void>)[] = [];
  /** The run's namespace prefix, claimed with a marker so a concurrent run's sweeper leaves it alone. */
  #run: Promise<{ readonly prefix: string; release(): Promise<void> }> | undefined;

  async start(name: string, clock: Clock = systemClock, dir?: string, options: LoopbackDaemonOptions = {}): Promise<LoopbackDaemon> {
    this.#run ??= claimTestPrefix();
    const { prefix } = await this.#run;
    const root = dir ?? (await mkdtemp(join(tmpdir(), `vxmeshd-${name}-`)));
    const socketPath = join(root, 'vxmesh.sock');
    const dataRoot = join(root, 'data');
    const driver = new RecordingDriver();
    const daemon = await Daemon.start({
      dataRoot,
      socketPath,
      hostname: name,
      clock,
      // Under the test sweeper's prefix, so a crashed run's container namespaces get removed.
      namespacePrefix: `${prefix}${name}-`,
      driver,
      ...(options.orphanGraceMs === undefined ? {} : { orphanGraceMs: options.orphanGraceMs }),
    });
    const local = new LocalControlClient(`unix://${socketPath}`, credentials.createInsecure());
    const cluster = new ClusterControlClient(`unix://${socketPath}`, credentials.createInsecure());
    const port = await freePort();
    let stopped = false;
    const stop = async (removeData: boolean): Promise<void> => {
      if (!stopped) {
        stopped = true;
        if (removeData) {
          // Leaving removes the node's containers: their processes and namespaces.
          await daemon.swarmLeave(true).catch(() => undefined);
        }
        local.close();
        cluster.close();
        await daemon.close();
      }
      if (removeData) {
        await rm(root, { recursive: true, force: true });
      }
    };
    this.#cleanups.push(() => stop(true));
    return {
      daemon,
      local,
      cluster,
      dataRoot,
      driver,
      addr: `127.0.0.1:${port}`,
      identity: async () =>
        JSON.parse(await readFile(join(dataRoot, 'certificates/node-identity.json'), 'utf8')) as TlsIdentity,
      restart: async (nextClock = clock, nextOptions = options) => {
        await stop(false);
        return this.start(name, nextClock, root, nextOptions);
      },
      stop: () => stop(false),
    };
  }

  /** `swarm init` on 127.0.0.1 with defaults; returns the worker token. */
  async init(d: LoopbackDaemon, extra: Partial<SwarmInitRequest> = {}): Promise<string> {
    const res = await callUnary(
      d.local.swarmInit.bind(d.local),
      {
        advertiseAddr: d.addr,
        listenAddr: d.addr,
        dataPathAddr: '',
        dataPathPort: 0,
        defaultAddrPools: [],
        defaultAddrPoolMaskLength: 0,
        etcdEndpoints: [],
        certExpiryMs: 0n,
        dispatcherHeartbeatMs: 0,
        ...extra,
      },
      'init',
    );
    return res.workerJoinCommand.split(' ')[4] ?? '';
  }

  async join(d: LoopbackDaemon, token: string, manager: LoopbackDaemon): Promise<string> {
    const res = await callUnary(
      d.local.swarmJoin.bind(d.local),
      {
        token,
        remoteAddr: manager.addr,
        advertiseAddr: d.addr,
        dataPathAddr: '',
        listenAddr: '',
        availability: NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED,
      },
      'join',
    );
    return res.nodeId;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const c of this.#cleanups.splice(0).reverse()) {
      await c();
    }
    const run = this.#run;
    this.#run = undefined;
    await (await run)?.release();
  }
}

/** Polls `check` until it returns true, at most `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  await waitFor(check, timeoutMs, { what, intervalMs: 50 });
}
