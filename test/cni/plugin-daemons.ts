/**
 * vxmeshd processes that also serve the Docker plugin API (`--docker-plugin-socket`), in test
 * host namespaces, formed into a cluster: host 0 inits, the others join as workers. Like
 * vxmeshd-harness.ts (same watchdog, same directory layout and sweeping), plus the flag.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { LocalControlClient } from '../../src/gen/vxmesh/v1/control.js';
import { WATCHDOG } from '../support/etcd-server.js';
import type { TestHosts } from '../support/test-hosts.js';
import { VXMESHD_JS, runVxmesh, waitFor } from '../support/vxmeshd-harness.js';

export interface PluginDaemon {
  readonly index: number;
  readonly dir: string;
  readonly socketPath: string;
  /** The Docker plugin socket (`<dir>/plugins/vxmesh.sock`). */
  readonly pluginSocket: string;
  readonly address: string;
  cliOk(args: readonly string[]): Promise<string>;
  logTail(lines?: number): Promise<string>;
  destroy(): Promise<void>;
}

async function startOne(hosts: TestHosts, index: number): Promise<PluginDaemon> {
  const host = hosts.host(index);
  const dir = await mkdtemp(join(tmpdir(), `vxmeshd-h${index}-`));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const dataRoot = join(dir, 'data');
  await mkdir(dataRoot, { mode: 0o700 });
  const socketPath = join(dir, 'vxmesh.sock');
  const pluginSocket = join(dir, 'plugins', 'vxmesh.sock');
  const logPath = join(dir, 'vxmeshd.log');
  const address = `unix://${socketPath}`;
  const fd = openSync(logPath, 'a');
  let child: ChildProcess;
  try {
    child = hosts.spawnNetOnly(
      host,
      'sh',
      [
        '-c',
        WATCHDOG,
        'vxmeshd-watchdog',
        process.execPath,
        VXMESHD_JS,
        '--data-root',
        dataRoot,
        '--socket',
        socketPath,
        '--hostname',
        `host${index}`,
        '--netns-prefix',
        `${host.netns}-`,
        '--docker-plugin-socket',
        pluginSocket,
      ],
      { stdio: ['pipe', fd, fd], env: { ...process.env, VXMESH_LOG: 'info' } },
    );
  } finally {
    closeSync(fd);
  }
  child.stdin?.on('error', () => undefined);
  const logTail = async (lines = 60): Promise<string> =>
    (await readFile(logPath, 'utf8').catch(() => '')).trimEnd().split('\n').slice(-lines).join('\n');
  const cliOk = async (args: readonly string[]): Promise<string> => {
    const res = await runVxmesh(address, args);
    if (res.code !== 0) {
      throw new Error(
        `vxmesh ${args.join(' ')} (host${index}) exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`,
      );
    }
    return res.stdout;
  };
  let destroyed: Promise<void> | undefined;
  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      child.stdin?.end('stop\n');
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        for (let i = 0; i < 100 && child.exitCode === null && child.signalCode === null; i++) {
          await sleep(100);
        }
        child.kill('SIGKILL');
      }
      await rm(dir, { recursive: true, force: true });
    })());
  try {
    const answers = async (): Promise<boolean> => {
      const client = new LocalControlClient(address, credentials.createInsecure());
      try {
        await callUnary(client.info.bind(client), {}, 'info', { timeoutMs: 2000 });
        return true;
      } finally {
        client.close();
      }
    };
    await waitFor(async () => existsSync(pluginSocket) && (await answers()), 20_000, {
      what: `vxmeshd host${index} with its plugin socket`,
    });
  } catch (err) {
    const tail = await logTail(40);
    await destroy();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tail}`);
  }
  return { index, dir, socketPath, pluginSocket, address, cliOk, logTail, destroy };
}

/** Starts a daemon per host and forms the cluster; all or nothing. */
export async function startPluginCluster(hosts: TestHosts, count: number): Promise<PluginDaemon[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startOne(hosts, i)));
  const daemons = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  try {
    if (failed) {
      throw failed.reason;
    }
    const [first, ...others] = daemons;
    if (!first) {
      throw new Error('no daemon');
    }
    const init = await first.cliOk(['swarm', 'init', '--advertise-addr', hosts.host(0).underlayIp]);
    const join = /vxmesh (swarm join --token \S+ \S+)/.exec(init)?.[1]?.split(' ') ?? [];
    for (const d of others) {
      await d.cliOk(join);
    }
    return daemons;
  } catch (err) {
    await Promise.allSettled(daemons.map((d) => d.destroy()));
    throw err;
  }
}
