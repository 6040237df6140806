import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './command.js';

/** Options of {@link startEtcd}; every field has a default fit for tests. */
export interface StartEtcdOptions {
  /** The etcd binary; default `ETCD_BIN` or `etcd` on the PATH. */
  readonly binary?: string;
  /** How long to wait for `/health` before giving up; default 20 s. */
  readonly startTimeoutMs?: number;
  /** Extra command-line flags, appended after ours (a later flag wins in etcd). */
  readonly extraArgs?: readonly string[];
  /**
   * Network namespace to run etcd in (through `ip netns exec`), e.g. a test host's `netns`
   * (test-hosts.ts); default: the caller's namespace. The caller's
   * namespace cannot reach an etcd in another one, so its health is then checked by `etcdctl` run
   * inside that namespace.
   */
  readonly netns?: string;
  /**
   * IPv4 address (or name) the client URL listens on and advertises; default 127.0.0.1. With
   * `netns`, usually that host's underlay address, so the other test hosts can reach it. Ports
   * are still picked by {@link freePort} in the caller's namespace: a fresh test namespace has
   * nothing listening, so they are free there too. Peers always listen on loopback.
   */
  readonly listenHost?: string;
  /** etcdctl binary for health checks inside `netns`; default `ETCDCTL_BIN` or `etcdctl` on the PATH. */
  readonly etcdctlBinary?: string;
}

/** A running etcd owned by the test process. */
export interface EtcdServer {
  /** Client URL, e.g. `http://127.0.0.1:40123` (or `http://<listenHost>:<port>`). */
  readonly endpoint: string;
  /** etcd's data directory, inside a temporary directory that `stop()` removes. */
  readonly dataDir: string;
  /** Pid of the current etcd process (changes after `restart()`). */
  readonly pid: number;
  /**
   * Stops etcd (SIGTERM, then SIGKILL after 5 s) and removes the data directory.
   * Idempotent; never rejects because etcd was already dead.
   */
  stop(): Promise<void>;
  /**
   * Sends `signal` to etcd and returns at once, for fault injection: SIGKILL to crash it,
   * SIGSTOP / SIGCONT to freeze it. After a crash, `restart()` brings it back on the same
   * data directory and ports.
   */
  kill(signal: NodeJS.Signals): void;
  /**
   * Freezes etcd (SIGSTOP) and resolves once every etcd thread has actually stopped, so a
   * request sent afterwards is guaranteed to hang: the signal alone takes effect asynchronously
   * and a thread already running may still answer. Undo with `thaw()`.
   */
  freeze(): Promise<void>;
  /** Resumes a frozen etcd (SIGCONT). */
  thaw(): void;
  /** Starts etcd again on the same ports and data directory (kills the old process first). */
  restart(): Promise<void>;
}

const LOG_TAIL_LINES = 40;

/** Every etcd started by this process, so an abrupt exit can still kill them and drop their data. */
const live = new Set<{ child: ChildProcess; workDir: string }>();
let exitHooksInstalled = false;

function installExitHooks(): void {
  if (exitHooksInstalled) {
    return;
  }
  exitHooksInstalled = true;
  const reap = (): void => {
    for (const entry of live) {
      entry.child.kill('SIGKILL');
      rmSync(entry.workDir, { recursive: true, force: true });
    }
    live.clear();
  };
  process.once('exit', reap);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      reap();
      process.removeListener(signal, onSignal);
      // Only re-raise when nobody else handles the signal; otherwise we would deliver it twice.
      if (process.listenerCount(signal) === 0) {
        process.kill(process.pid, signal);
      }
    };
    process.on(signal, onSignal);
  }
}

const DIR_PREFIX = 'vxmesh-etcd-';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp directories left by test processes that died without cleaning up (SIGKILL, OOM).
 * Each directory records its owner's pid; a directory whose owner is gone is garbage.
 */
async function sweepStaleDirs(): Promise<void> {
  const root = tmpdir();
  const names = await readdir(root).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith(DIR_PREFIX))
      .map(async (name) => {
        const dir = join(root, name);
        const owner = Number.parseInt(await readFile(join(dir, 'owner.pid'), 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) {
          await rm(dir, { recursive: true, force: true });
        }
      }),
  );
}

/** Whether every thread of `pid` is in the stopped state (Linux /proc). */
async function allThreadsStopped(pid: number): Promise<boolean> {
  const tasks = await readdir(`/proc/${pid}/task`);
  const states = await Promise.all(
    tasks.map(async (tid) => {
      const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
      // The state is the field after the parenthesised command name, which may contain spaces.
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }),
  );
  return states.every((state) => state === 'T' || state === 't' || state === '');
}

/** A loopback port nobody is listening on right now (the OS picks it; the socket is closed again). */
export async function freePort(): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') {
          reject(new Error('could not read the port of a loopback listener'));
        } else {
          resolve(address.port);
        }
      });
    });
  });
}

/**
 * The etcd process is started through `sh`, which first forks a watchdog and then `exec`s etcd,
 * so etcd keeps the pid we spawned. The watchdog reads the pipe on our stdin: EOF without a
 * preceding "stop" line means the test process died (even by SIGKILL), and it kills etcd.
 * Usage: `sh -c WATCHDOG <name> <cmd> <args…>` with stdin a pipe the test process keeps open;
 * write "stop\n" to it before a planned stop. Also used for vxmeshd (vxmeshd-harness.ts).
 */
export const WATCHDOG = [
  'exec 3<&0',
  '(while read -r line; do [ "$line" = stop ] && exit 0; done; kill -KILL $$ 2>/dev/null) <&3 &',
  'exec "$@"',
].join('\n');

/**
 * Starts a single-member etcd on free loopback ports (or, with `netns`, inside that namespace
 * on `listenHost`) with a throwaway data directory, and resolves once it reports healthy. Settings favour speed over durability: a short
 * heartbeat (so 1 s leases are granted as 1 s) and no snapshots. etcd 3.4 has no
 * `--unsafe-no-fsync`, so it is not used.
 *
 * @throws Error naming the endpoint and quoting the tail of etcd's log when etcd exits or is not
 *   healthy within `startTimeoutMs`; nothing is left behind in that case.
 */
export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdServer> {
  installExitHooks();
  const binary = opts.binary ?? process.env['ETCD_BIN'] ?? 'etcd';
  const startTimeoutMs = opts.startTimeoutMs ?? 20_000;
  await sweepStaleDirs();
  // <tmp>/vxmesh-etcd-XXXXXX/{owner.pid,data}: etcd wants its data dir to itself.
  const workDir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  await writeFile(join(workDir, 'owner.pid'), String(process.pid));
  const dataDir = join(workDir, 'data');
  await mkdir(dataDir, { mode: 0o700 });
  const name = 'vxmesh-test';
  const clientPort = await freePort();
  const peerPort = await freePort();
  const listenHost = opts.listenHost ?? '127.0.0.1';
  const endpoint = `http://${listenHost}:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const args = [
    `--name=${name}`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${endpoint}`,
    `--advertise-client-urls=${endpoint}`,
    `--listen-peer-urls=${peerUrl}`,
    `--initial-advertise-peer-urls=${peerUrl}`,
    `--initial-cluster=${name}=${peerUrl}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${randomUUID()}`,
    // etcd's minimum lease TTL is 1.5 election timeouts; 250 ms keeps a 1 s lease at 1 s.
    '--heartbeat-interval=25',
    '--election-timeout=250',
    '--snapshot-count=100000',
    '--logger=zap',
    '--log-outputs=stderr',
    '--log-level=warn',
    ...(opts.extraArgs ?? []),
  ];

  const logTail: string[] = [];
  const appendLog = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() !== '') {
        logTail.push(line);
      }
    }
    logTail.splice(0, Math.max(0, logTail.length - LOG_TAIL_LINES));
  };

  let entry: { child: ChildProcess; workDir: string } | undefined;
  let stopped = false;

  const spawnEtcd = (): ChildProcess => {
    const command = ['sh', '-c', WATCHDOG, 'etcd-watchdog', binary, ...args];
    // `ip netns exec` execs its command, so the pid is still etcd's after sh execs it.
    const [file = 'sh', ...rest] = opts.netns === undefined ? command : ['ip', 'netns', 'exec', opts.netns, ...command];
    const child = spawn(file, rest, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout?.on('data', appendLog);
    child.stderr?.on('data', appendLog);
    // The pipe breaks when etcd dies first; that is expected and must not crash the test process.
    child.stdin?.on('error', () => undefined);
    entry = { child, workDir };
    live.add(entry);
    return child;
  };

  const waitExit = async (child: ChildProcess, timeoutMs: number): Promise<boolean> => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return true;
    }
    return await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        child.removeListener('exit', onExit);
        resolve(false);
      }, timeoutMs);
      const onExit = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      child.once('exit', onExit);
    });
  };

  const terminate = async (child: ChildProcess): Promise<void> => {
    // Tell the watchdog this is a planned stop, so it does not SIGKILL a recycled pid later.
    child.stdin?.end('stop\n');
    child.kill('SIGCONT'); // a SIGSTOPped etcd would otherwise never act on SIGTERM
    child.kill('SIGTERM');
    if (!(await waitExit(child, 5000))) {
      child.kill('SIGKILL');
      await waitExit(child, 5000);
    }
  };

  const etcdctl = opts.etcdctlBinary ?? process.env['ETCDCTL_BIN'] ?? 'etcdctl';
  /** Undefined when healthy, otherwise what is wrong. */
  const checkHealth = async (): Promise<string | undefined> => {
    if (opts.netns === undefined) {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: unknown };
      return body.health === 'true' ? undefined : `health ${JSON.stringify(body)}`;
    }
    const probe = ['--endpoints', endpoint, '--dial-timeout=1s', '--command-timeout=1s', 'endpoint', 'health'];
    const res = await runCommand('ip', ['netns', 'exec', opts.netns, etcdctl, ...probe], {
      check: false,
      signal: AbortSignal.timeout(3000),
    });
    return res.exitCode === 0 ? undefined : res.stderr.trim() || res.stdout.trim() || `etcdctl exited ${res.exitCode}`;
  };

  const waitHealthy = async (child: ChildProcess): Promise<void> => {
    const deadline = Date.now() + startTimeoutMs;
    let lastProblem = 'no answer yet';
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `etcd at ${endpoint} exited during startup (code ${child.exitCode}, signal ${child.signalCode}); ` +
            `log tail:\n${logTail.join('\n')}`,
        );
      }
      try {
        const problem = await checkHealth();
        if (problem === undefined) {
          return;
        }
        lastProblem = problem;
      } catch (err) {
        lastProblem = err instanceof Error ? err.message : String(err);
      }
      await sleep(50);
    }
    throw new Error(
      `etcd at ${endpoint} not healthy after ${startTimeoutMs} ms (${lastProblem}); log tail:\n${logTail.join('\n')}`,
    );
  };

  const cleanup = async (): Promise<void> => {
    if (entry) {
      await terminate(entry.child);
      live.delete(entry);
    }
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    await waitHealthy(spawnEtcd());
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    endpoint,
    dataDir,
    get pid(): number {
      return entry?.child.pid ?? -1;
    },
    async stop(): Promise<void> {
      if (stopped) {
        return;
      }
      stopped = true;
      await cleanup();
    },
    kill(signal: NodeJS.Signals): void {
      entry?.child.kill(signal);
    },
    async freeze(): Promise<void> {
      const pid = entry?.child.pid;
      if (pid === undefined || !entry?.child.kill('SIGSTOP')) {
        throw new Error(`etcd at ${endpoint} is not running`);
      }
      const deadline = Date.now() + 5000;
      while (!(await allThreadsStopped(pid))) {
        if (Date.now() > deadline) {
          throw new Error(`etcd at ${endpoint} (pid ${pid}) did not stop within 5 s of SIGSTOP`);
        }
        await sleep(5);
      }
    },
    thaw(): void {
      entry?.child.kill('SIGCONT');
    },
    async restart(): Promise<void> {
      if (stopped) {
        throw new Error(`etcd at ${endpoint} was stopped; start a new one`);
      }
      if (entry) {
        // Fault injection: a restart should look like a crash, not a graceful shutdown.
        entry.child.stdin?.end('stop\n');
        entry.child.kill('SIGCONT');
        entry.child.kill('SIGKILL');
        await waitExit(entry.child, 5000);
        live.delete(entry);
      }
      try {
        await waitHealthy(spawnEtcd());
      } catch (err) {
        stopped = true;
        await cleanup();
        throw err;
      }
    },
  };
}
