/**
 * Real `vxmeshd` processes inside test hosts (test-hosts.ts), driven through the real `vxmesh`
 * CLI. Runs the compiled JavaScript in dist/ (`npm run build`; `npm test` builds first).
 *
 * Each daemon owns one temporary directory:
 *
 *   <tmp>/vxmeshd-h0-XXXXXX/
 *     owner.pid      pid of the test process, so a later run can sweep what a crashed one left
 *     data/          --data-root (kept across restart())
 *     vxmesh.sock    --socket; a filesystem object, so the CLI runs in the caller's namespace
 *     vxmeshd.log    stdout and stderr of every start, appended; read it with logTail()
 *
 * The daemon runs inside its host's namespace under the watchdog of etcd-server.ts: if the test
 * process dies, even by SIGKILL, the daemon is killed too. destroy() of the test hosts kills
 * anything left in the namespaces as well.
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { LocalControlClient } from '../../src/gen/vxmesh/v1/control.js';
import type { InfoResponse } from '../../src/gen/vxmesh/v1/control.js';
import { runCommand } from './command.js';
import { WATCHDOG } from './etcd-server.js';
import type { TestHost, TestHosts } from './test-hosts.js';
import { exited, waitExit } from './child-exit.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The compiled daemon and CLI this harness runs. */
export const VXMESHD_JS = join(REPO_ROOT, 'dist/daemon/vxmeshd.js');
export const VXMESH_CLI_JS = join(REPO_ROOT, 'dist/cli/vxmesh.bundle.js');

const DIR_PREFIX = 'vxmeshd-';
const DEFAULT_READY_TIMEOUT_MS = 20_000;
const DEFAULT_CLI_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const KILL_WAIT_MS = 5_000;

/** Outcome of one CLI run; `code` is null when the CLI was killed by a signal. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The CLI is SIGKILLed and the call rejects after this long; default 30 s. */
  readonly timeoutMs?: number;
}

export interface StartVxmeshdOptions {
  /** `--hostname`; default `host<index>`. */
  readonly hostname?: string;
  /** VXMESH_LOG of the daemon (the logger is silent under vitest otherwise); default `info`. */
  readonly logLevel?: string;
  /** How long start() and restart() wait for the socket to answer; default 20 s. */
  readonly readyTimeoutMs?: number;
  /** More vxmeshd flags (e.g. `--etcd-cacert`), after the harness's own. */
  readonly extraArgs?: readonly string[];
}

/** One vxmeshd in a test host's namespace. */
export interface Vxmeshd extends AsyncDisposable {
  readonly host: TestHost;
  readonly hostname: string;
  /** The temporary directory holding everything below. */
  readonly dir: string;
  readonly dataRoot: string;
  readonly socketPath: string;
  /** `-H` value for the CLI. */
  readonly address: string;
  readonly logPath: string;
  /** Pid of the current process; undefined when none is running. */
  readonly pid: number | undefined;
  /** Runs `vxmesh -H <address> args…` in the caller's namespace; never rejects on a non-zero exit. */
  cli(args: readonly string[], options?: CliOptions): Promise<CliResult>;
  /** Like {@link cli}, but rejects with the command, exit code and stderr unless it exits 0. */
  cliOk(args: readonly string[], options?: CliOptions): Promise<string>;
  /** The daemon's Info over its socket (what the CLI reads for `*` in `node ls`). */
  info(): Promise<InfoResponse>;
  /**
   * Sends `signal` to the daemon. For SIGKILL, resolves once the process is gone (the data root
   * and the stale socket file stay, as after a crash); for other signals, at once.
   */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** Stops a running daemon (SIGTERM, then SIGKILL), starts it again on the same data root and socket, and waits until it answers. */
  restart(): Promise<void>;
  /** Stops the daemon (SIGTERM, SIGKILL after 10 s). The directory stays until {@link destroy}. */
  stop(): Promise<void>;
  /** Stops the daemon and removes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** The last `lines` lines of the daemon's log (all starts), for failure output. */
  logTail(lines?: number): Promise<string>;
}

interface LiveEntry {
  readonly child: ChildProcess;
  readonly dir: string;
}

/** Every daemon started by this process, so an abrupt exit still kills it and drops its directory. */
const live = new Set<LiveEntry>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) {
    return;
  }
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const entry of live) {
      entry.child.stdin?.end('stop\n');
      entry.child.kill('SIGKILL');
      rmSync(entry.dir, { recursive: true, force: true });
    }
    live.clear();
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes daemon directories whose owning test process is gone (killed before its cleanup ran). */
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


/** Runs the CLI against the daemon socket at `address` (`unix:///…`). */
export async function runVxmesh(
  address: string,
  args: readonly string[],
  options: CliOptions = {},
): Promise<CliResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CLI_TIMEOUT_MS;
  const res = await runCommand(process.execPath, [VXMESH_CLI_JS, '-H', address, ...args], {
    check: false,
    signal: AbortSignal.timeout(timeoutMs),
  }).catch((err: unknown) => {
    throw new Error(`vxmesh ${args.join(' ')} did not finish within ${timeoutMs} ms`, { cause: err });
  });
  return { code: res.exitCode, stdout: res.stdout, stderr: res.stderr };
}

/**
 * Starts `vxmeshd --hostname host<i>` inside `host`'s namespace with a fresh data root and waits
 * until its socket answers. On failure, removes what it created and rethrows with the log tail.
 */
export async function startVxmeshd(
  hosts: TestHosts,
  host: TestHost | number,
  options: StartVxmeshdOptions = {},
): Promise<Vxmeshd> {
  if (!existsSync(VXMESHD_JS) || !existsSync(VXMESH_CLI_JS)) {
    throw new Error(`${VXMESHD_JS} or ${VXMESH_CLI_JS} is missing: run \`npm run build\` first`);
  }
  installExitHook();
  await sweepStaleDirs();
  const testHost = hosts.host(typeof host === 'number' ? host : host.index);
  const hostname = options.hostname ?? `host${testHost.index}`;
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}h${testHost.index}-`));
  await writeFile(join(dir, 'owner.pid'), String(process.pid));
  const dataRoot = join(dir, 'data');
  await mkdir(dataRoot, { mode: 0o700 });
  const socketPath = join(dir, 'vxmesh.sock');
  const address = `unix://${socketPath}`;
  const logPath = join(dir, 'vxmeshd.log');
  // Namespaces the daemon creates carry its host's name, so destroy() and the sweeper remove them.
  const args = [
    VXMESHD_JS,
    '--data-root',
    dataRoot,
    '--socket',
    socketPath,
    '--hostname',
    hostname,
    '--netns-prefix',
    `${testHost.netns}-`,
    ...(options.extraArgs ?? []),
  ];

  let entry: LiveEntry | undefined;
  let destroyed: Promise<void> | undefined;

  const current = (): ChildProcess | undefined => (entry && !exited(entry.child) ? entry.child : undefined);

  const logTail = async (lines = 60): Promise<string> => {
    const text = await readFile(logPath, 'utf8').catch(() => '');
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  };

  /** Forgets an exited process and ends its watchdog, which would otherwise wait on our pipe. */
  const release = (): void => {
    if (entry && exited(entry.child)) {
      entry.child.stdin?.end('stop\n');
      live.delete(entry);
      entry = undefined;
    }
  };

  const spawnDaemon = async (): Promise<ChildProcess> => {
    release();
    await appendFile(logPath, `=== vxmeshd ${hostname} starting at ${new Date().toISOString()} ===\n`);
    const fd = openSync(logPath, 'a');
    try {
      const child = hosts.spawnNetOnly(testHost, 'sh', ['-c', WATCHDOG, 'vxmeshd-watchdog', process.execPath, ...args], {
        stdio: ['pipe', fd, fd],
        env: { ...process.env, VXMESH_LOG: options.logLevel ?? 'info' },
      });
      // The pipe breaks when the daemon dies first; expected, and must not crash the test process.
      child.stdin?.on('error', () => undefined);
      entry = { child, dir };
      live.add(entry);
      return child;
    } finally {
      closeSync(fd); // the child has its own copy
    }
  };

  const info = async (): Promise<InfoResponse> => {
    const client = new LocalControlClient(address, credentials.createInsecure());
    try {
      return await callUnary(client.info.bind(client), {}, `info from vxmeshd ${hostname}`, { timeoutMs: 2000 });
    } finally {
      client.close();
    }
  };

  const waitReady = async (child: ChildProcess): Promise<void> => {
    const deadline = Date.now() + readyTimeoutMs;
    let lastProblem = 'no answer yet';
    for (let attempt = 0; Date.now() < deadline && attempt < readyTimeoutMs / 50 + 1; attempt++) {
      if (exited(child)) {
        throw new Error(
          `vxmeshd ${hostname} exited during startup (code ${child.exitCode}, signal ${child.signalCode}); ` +
            `log tail:\n${await logTail(40)}`,
        );
      }
      if (existsSync(socketPath)) {
        try {
          await info();
          return;
        } catch (err) {
          lastProblem = err instanceof Error ? err.message : String(err);
        }
      }
      await sleep(50);
    }
    throw new Error(
      `vxmeshd ${hostname} did not answer on ${socketPath} within ${readyTimeoutMs} ms (${lastProblem}); ` +
        `log tail:\n${await logTail(40)}`,
    );
  };

  const kill = async (signal: NodeJS.Signals): Promise<void> => {
    const child = current();
    if (!child) {
      return;
    }
    if (signal === 'SIGKILL') {
      child.stdin?.end('stop\n');
    }
    child.kill(signal);
    if (signal === 'SIGKILL') {
      if (!(await waitExit(child, KILL_WAIT_MS))) {
        throw new Error(`vxmeshd ${hostname} (pid ${child.pid}) survived SIGKILL for ${KILL_WAIT_MS} ms`);
      }
      release();
    }
  };

  const stop = async (): Promise<void> => {
    const child = current();
    if (child) {
      // A planned stop: tell the watchdog, so it never kills a recycled pid later.
      child.stdin?.end('stop\n');
      child.kill('SIGCONT'); // a SIGSTOPped daemon would never act on SIGTERM
      child.kill('SIGTERM');
      if (!(await waitExit(child, STOP_GRACE_MS))) {
        await appendFile(logPath, `=== harness: no exit ${STOP_GRACE_MS} ms after SIGTERM; SIGKILL ===\n`);
        child.kill('SIGKILL');
        await waitExit(child, KILL_WAIT_MS);
      }
    }
    release();
  };

  const start = async (): Promise<void> => {
    const child = await spawnDaemon();
    try {
      await waitReady(child);
    } catch (err) {
      await kill('SIGKILL');
      throw err;
    }
  };

  const destroy = (): Promise<void> =>
    (destroyed ??= (async () => {
      try {
        await stop();
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })());

  try {
    await start();
  } catch (err) {
    await destroy();
    throw err;
  }

  const cli = (cliArgs: readonly string[], cliOptions?: CliOptions): Promise<CliResult> =>
    runVxmesh(address, cliArgs, cliOptions);

  return {
    host: testHost,
    hostname,
    dir,
    dataRoot,
    socketPath,
    address,
    logPath,
    get pid(): number | undefined {
      return current()?.pid;
    },
    cli,
    async cliOk(cliArgs, cliOptions) {
      const res = await cli(cliArgs, cliOptions);
      if (res.code !== 0) {
        throw new Error(
          `vxmesh ${cliArgs.join(' ')} (on ${hostname}) exited ${res.code}: ${res.stderr.trim() || res.stdout.trim()}`,
        );
      }
      return res.stdout;
    },
    info,
    kill,
    async restart() {
      if (destroyed) {
        throw new Error(`vxmeshd ${hostname} was destroyed; start a new one`);
      }
      await stop();
      await start();
    },
    stop,
    destroy,
    logTail,
    [Symbol.asyncDispose]: destroy,
  };
}

/**
 * Polls `probe` every `intervalMs` (default 200 ms) until it returns something other than
 * undefined or false, and returns that. Bounded in time and in number of attempts.
 * @throws Error naming `what`, with the last value seen or the last error thrown, after `timeoutMs`.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  options: { readonly intervalMs?: number; readonly what?: string } = {},
): Promise<T> {
  const intervalMs = options.intervalMs ?? 200;
  const what = options.what ?? 'condition';
  const deadline = Date.now() + timeoutMs;
  const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 1;
  let last = 'never checked';
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) {
        return value;
      }
      last = `last result ${String(value)}`;
    } catch (err) {
      last = `last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      break;
    }
    await sleep(Math.min(intervalMs, left));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${last})`);
}

/** One row of `vxmesh node ls` (the default table). */
export interface NodeLsRow {
  readonly id: string;
  /** The ID cell ends with ` *`: the node the CLI's daemon runs on. */
  readonly self: boolean;
  readonly hostname: string;
  readonly status: string;
  readonly availability: string;
  /** "Leader", "Reachable", "Unreachable", … or "" for a worker. */
  readonly managerStatus: string;
}

/**
 * Parses the `node ls` table by the header's column offsets (cells may be empty), so a test
 * reads exactly what an operator sees.
 * @throws Error when the header is not the `node ls` header.
 */
export function parseNodeLs(stdout: string): NodeLsRow[] {
  const [header = '', ...rows] = stdout.split('\n').filter((l) => l.trim() !== '');
  const columns = ['ID', 'HOSTNAME', 'STATUS', 'AVAILABILITY', 'MANAGER STATUS'];
  const starts = columns.map((c) => header.indexOf(c));
  if (starts.some((s, i) => s < 0 || (i > 0 && s <= (starts[i - 1] ?? 0)))) {
    throw new Error(`not a node ls table:\n${stdout}`);
  }
  return rows.map((line) => {
    const cell = (i: number): string => line.slice(starts[i], starts[i + 1]).trim();
    const idCell = cell(0);
    const self = idCell.endsWith(' *');
    return {
      id: self ? idCell.slice(0, -2).trim() : idCell,
      self,
      hostname: cell(1),
      status: cell(2),
      availability: cell(3),
      managerStatus: cell(4),
    };
  });
}

/**
 * Starts one daemon per host index, in parallel. All or nothing: when one fails, the others are
 * destroyed and the first failure is rethrown.
 */
export async function startVxmeshds(
  hosts: TestHosts,
  indices: readonly number[],
  options: StartVxmeshdOptions = {},
): Promise<Vxmeshd[]> {
  const started = await Promise.allSettled(indices.map((i) => startVxmeshd(hosts, i, options)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const daemons = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  if (failed) {
    await destroyAll(daemons).catch(() => undefined); // the start failure is the one to report
    throw failed.reason;
  }
  return daemons;
}

/** Destroys every daemon, in parallel, even when some fail; rethrows the first failure afterwards. */
export async function destroyAll(daemons: Iterable<Vxmeshd | undefined>): Promise<void> {
  const results = await Promise.allSettled([...daemons].map((d) => d?.destroy() ?? Promise.resolve()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    throw failed.reason;
  }
}

/** The last log lines of every daemon, headed by its hostname, for printing when a test fails. */
export async function logTails(daemons: Iterable<Vxmeshd | undefined>, lines = 40): Promise<string> {
  const parts = await Promise.all(
    [...daemons].map(async (d) => (d ? `--- vxmeshd ${d.hostname} (${d.logPath}) ---\n${await d.logTail(lines)}` : '')),
  );
  return parts.filter((p) => p !== '').join('\n');
}
