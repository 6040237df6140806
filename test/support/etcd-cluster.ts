/**
 * A multi-member etcd cluster for fault tests: each member is its own process (under the
 * watchdog of etcd-server.ts, so a dead test process never leaves one behind) that can be
 * killed, frozen and restarted on its data directory, and the cluster can say which member
 * leads right now.
 *
 * Placement: by default every member listens on loopback in the caller's namespace (fresh
 * ports); with `placement`, member i runs inside a test host's namespace (test-hosts.ts) and
 * listens on that host's underlay address, as one etcd next to each manager would. Probes then
 * run `etcdctl` inside the member's namespace.
 *
 * With `tls`, client and peer URLs are https and both require certificates signed by the given
 * CA (`--client-cert-auth`, `--peer-client-cert-auth`), as deploy/etcd/README.md sets them up.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCommand } from './command.js';
import { freePort, WATCHDOG } from './etcd-server.js';
import { exited, waitExit } from './child-exit.js';

/** Certificate files of one member (server and peer identity) plus the CA that signed all of them. */
export interface EtcdMemberTls {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface EtcdClusterOptions {
  /** Number of members; default 3. */
  readonly members?: number;
  /** Per member: the namespace to run in and the address to listen on (see the file comment). */
  readonly placement?: readonly { readonly netns: string; readonly host: string }[];
  /** Per member certificates; every URL becomes https. */
  readonly tls?: readonly EtcdMemberTls[];
  /** A client identity for probes (`etcdctl`) when `tls` is set or `memberEnv` uses https. */
  readonly clientTls?: EtcdMemberTls;
  /**
   * Per member, etcd's configuration as `ETCD_*` environment variables (e.g. parsed from the
   * /etc/default/etcd that deploy/etcd/etcd-member.sh prints) instead of the flags built here;
   * only the data directory, timing and logging are replaced (etcd refuses a flag and a
   * variable for the same setting). The client URL is the first of `ETCD_ADVERTISE_CLIENT_URLS`.
   */
  readonly memberEnv?: readonly Readonly<Record<string, string>>[];
  /**
   * Raft heartbeat in ms; the election timeout is ten times that. Default 50: elections take
   * well under a second, and two busy cores do not starve a 500 ms election timeout.
   */
  readonly heartbeatMs?: number;
  /** How long start-up waits for a healthy cluster; default 30 s. */
  readonly startTimeoutMs?: number;
  readonly binary?: string;
  readonly etcdctlBinary?: string;
}

/** One member process. */
export interface EtcdMember {
  readonly index: number;
  readonly name: string;
  /** Client URL. */
  readonly endpoint: string;
  readonly dataDir: string;
  /** Pid of the current process, undefined while it is not running. */
  readonly pid: number | undefined;
  /** Sends a signal and returns at once (SIGKILL: a crash; SIGSTOP/SIGCONT: a pause). */
  kill(signal: NodeJS.Signals): void;
  /** SIGKILL and wait until the process is gone. */
  crash(): Promise<void>;
  /** Starts the member again on its data directory (after a crash); resolves once it answers status. */
  restart(): Promise<void>;
  /** `etcdctl endpoint status` of this member: its raft ID and the leader's (0 without a leader). */
  status(): Promise<{ memberId: string; leaderId: string; raftTerm: number } | undefined>;
}

export interface EtcdCluster extends AsyncDisposable {
  readonly members: readonly EtcdMember[];
  readonly endpoints: readonly string[];
  /** Index of the member that leads according to a running member, undefined without a leader. */
  leaderIndex(): Promise<number | undefined>;
  /** Resolves once a quorum answers `endpoint health`; rejects after `timeoutMs`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Runs etcdctl against the cluster (inside member `via`'s namespace) and returns stdout. */
  etcdctl(args: readonly string[], via?: number): Promise<string>;
  /** Kills every member and removes every data directory. Idempotent. */
  stop(): Promise<void>;
}

const DIR_PREFIX = 'vxmesh-etcd-';
const LOG_TAIL_LINES = 40;

/** Every member process of this test process, so an abrupt exit still kills them. */
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) {
    return;
  }
  hookInstalled = true;
  process.once('exit', () => {
    for (const child of live) {
      child.kill('SIGKILL');
    }
    for (const dir of liveDirs) {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}


/**
 * Starts an etcd cluster and resolves once it is healthy (a leader elected, every member up).
 * @throws Error with the members' log tails when it does not become healthy in time; nothing is
 *   left running in that case.
 */
export async function startEtcdCluster(opts: EtcdClusterOptions = {}): Promise<EtcdCluster> {
  installExitHook();
  const count = opts.members ?? opts.placement?.length ?? 3;
  const binary = opts.binary ?? process.env['ETCD_BIN'] ?? 'etcd';
  const etcdctlBin = opts.etcdctlBinary ?? process.env['ETCDCTL_BIN'] ?? 'etcdctl';
  const heartbeat = opts.heartbeatMs ?? 50;
  const scheme = opts.tls ? 'https' : 'http';
  const workDir = await mkdtemp(join(tmpdir(), DIR_PREFIX));
  liveDirs.add(workDir);
  await writeFile(join(workDir, 'owner.pid'), String(process.pid));

  interface Slot {
    readonly index: number;
    readonly name: string;
    readonly netns: string | undefined;
    readonly endpoint: string;
    readonly peerUrl: string;
    readonly dataDir: string;
    readonly logTail: string[];
    readonly env: Readonly<Record<string, string>> | undefined;
    child: ChildProcess | undefined;
  }
  const slots: Slot[] = [];
  for (let i = 0; i < count; i++) {
    const place = opts.placement?.[i];
    const host = place?.host ?? '127.0.0.1';
    const dataDir = join(workDir, `m${i}`);
    await mkdir(dataDir, { mode: 0o700 });
    const env = opts.memberEnv?.[i];
    const advertised = env?.['ETCD_ADVERTISE_CLIENT_URLS']?.split(',')[0];
    slots.push({
      index: i,
      name: env?.['ETCD_NAME'] ?? `m${i}`,
      netns: place?.netns,
      // In a namespace of its own a member can use etcd's usual ports.
      endpoint: advertised ?? `${scheme}://${host}:${place ? 2379 : await freePort()}`,
      peerUrl: `${scheme}://${host}:${place ? 2380 : await freePort()}`,
      dataDir,
      logTail: [],
      env,
      child: undefined,
    });
  }
  const initialCluster = slots.map((s) => `${s.name}=${s.peerUrl}`).join(',');
  const token = randomUUID();

  const argsOf = (s: Slot): string[] => {
    const tls = opts.tls?.[s.index];
    if (s.env) {
      return [];
    }
    return [
      `--name=${s.name}`,
      `--data-dir=${s.dataDir}`,
      `--listen-client-urls=${s.endpoint}`,
      `--advertise-client-urls=${s.endpoint}`,
      `--listen-peer-urls=${s.peerUrl}`,
      `--initial-advertise-peer-urls=${s.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      `--heartbeat-interval=${heartbeat}`,
      `--election-timeout=${heartbeat * 10}`,
      '--snapshot-count=100000',
      '--logger=zap',
      '--log-outputs=stderr',
      '--log-level=warn',
      ...(tls
        ? [
            `--cert-file=${tls.certFile}`,
            `--key-file=${tls.keyFile}`,
            `--trusted-ca-file=${tls.caFile}`,
            '--client-cert-auth',
            `--peer-cert-file=${tls.certFile}`,
            `--peer-key-file=${tls.keyFile}`,
            `--peer-trusted-ca-file=${tls.caFile}`,
            '--peer-client-cert-auth',
          ]
        : []),
    ];
  };

  const spawnMember = (s: Slot): void => {
    const command = ['sh', '-c', WATCHDOG, 'etcd-watchdog', binary, ...argsOf(s)];
    const [file = 'sh', ...rest] = s.netns === undefined ? command : ['ip', 'netns', 'exec', s.netns, ...command];
    const child = spawn(file, rest, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(s.env
        ? {
            env: {
              ...process.env,
              ...s.env,
              ETCD_DATA_DIR: s.dataDir,
              ETCD_HEARTBEAT_INTERVAL: String(heartbeat),
              ETCD_ELECTION_TIMEOUT: String(heartbeat * 10),
              ETCD_LOGGER: 'zap',
              ETCD_LOG_OUTPUTS: 'stderr',
              ETCD_LOG_LEVEL: 'warn',
            },
          }
        : {}),
    });
    const append = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() !== '') {
          s.logTail.push(line);
        }
      }
      s.logTail.splice(0, Math.max(0, s.logTail.length - LOG_TAIL_LINES));
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    child.stdin?.on('error', () => undefined);
    child.once('exit', () => live.delete(child));
    live.add(child);
    s.child = child;
  };

  const clientFlags = (): string[] => {
    const c = opts.clientTls;
    return c ? [`--cacert=${c.caFile}`, `--cert=${c.certFile}`, `--key=${c.keyFile}`] : [];
  };

  /** etcdctl inside member `via`'s namespace (any running one when undefined). */
  const etcdctl = async (args: readonly string[], via?: number, timeoutMs = 5000): Promise<string> => {
    const s = slots[via ?? 0];
    const cmd = [etcdctlBin, '--dial-timeout=1s', '--command-timeout=2s', ...clientFlags(), ...args];
    const [file = etcdctlBin, ...rest] = s?.netns === undefined ? cmd : ['ip', 'netns', 'exec', s.netns, ...cmd];
    const res = await runCommand(file, rest, { signal: AbortSignal.timeout(timeoutMs) });
    return res.stdout;
  };

  const status = async (s: Slot): Promise<{ memberId: string; leaderId: string; raftTerm: number } | undefined> => {
    try {
      const out = await etcdctl(['--endpoints', s.endpoint, 'endpoint', 'status', '-w', 'json'], s.index, 3000);
      // etcdctl prints raft IDs as JSON numbers beyond 2^53: keep them as text.
      const quoted = out.replace(/"(member_id|leader|raft_term)":(\d+)/g, '"$1":"$2"');
      const [entry] = JSON.parse(quoted) as {
        Status?: { header?: { member_id?: string }; leader?: string; raft_term?: string };
      }[];
      const memberId = entry?.Status?.header?.member_id;
      return memberId === undefined
        ? undefined
        : { memberId, leaderId: entry?.Status?.leader ?? '0', raftTerm: Number(entry?.Status?.raft_term ?? 0) };
    } catch {
      return undefined;
    }
  };

  const waitAnswering = async (s: Slot, timeoutMs: number): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; attempt < timeoutMs / 100 + 1 && Date.now() < deadline; attempt++) {
      if (!s.child || exited(s.child)) {
        throw new Error(`etcd member ${s.name} exited; log tail:\n${s.logTail.join('\n')}`);
      }
      if ((await status(s)) !== undefined) {
        return;
      }
      await sleep(100);
    }
    throw new Error(`etcd member ${s.name} (${s.endpoint}) does not answer; log tail:\n${s.logTail.join('\n')}`);
  };

  const crash = async (s: Slot): Promise<void> => {
    const child = s.child;
    if (!child || exited(child)) {
      return;
    }
    child.stdin?.end('stop\n');
    child.kill('SIGCONT');
    child.kill('SIGKILL');
    await waitExit(child, 5000);
  };

  const endpoints = slots.map((s) => s.endpoint);

  const waitHealthy = async (timeoutMs = 20_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    for (let attempt = 0; attempt < timeoutMs / 100 + 1 && Date.now() < deadline; attempt++) {
      const up = slots.find((s) => s.child && !exited(s.child));
      if (up) {
        try {
          // A linearizable read needs a quorum and a leader.
          await etcdctl(['--endpoints', endpoints.join(','), 'get', '--consistency=l', 'health-probe'], up.index, 3000);
          return;
        } catch (err) {
          last = err instanceof Error ? err.message : String(err);
        }
      }
      await sleep(100);
    }
    throw new Error(
      `etcd cluster not healthy after ${timeoutMs} ms (${last}); logs:\n` +
        slots.map((s) => `--- ${s.name}\n${s.logTail.join('\n')}`).join('\n'),
    );
  };

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await Promise.all(slots.map((s) => crash(s)));
      await rm(workDir, { recursive: true, force: true });
      liveDirs.delete(workDir);
    })());

  try {
    for (const s of slots) {
      spawnMember(s);
    }
    await waitHealthy(opts.startTimeoutMs ?? 30_000);
  } catch (err) {
    await stop();
    throw err;
  }

  const members: EtcdMember[] = slots.map((s) => ({
    index: s.index,
    name: s.name,
    endpoint: s.endpoint,
    dataDir: s.dataDir,
    get pid(): number | undefined {
      return s.child && !exited(s.child) ? s.child.pid : undefined;
    },
    kill(signal: NodeJS.Signals): void {
      s.child?.kill(signal);
    },
    crash: () => crash(s),
    async restart(): Promise<void> {
      if (stopped) {
        throw new Error('the etcd cluster was stopped');
      }
      await crash(s);
      spawnMember(s);
      await waitAnswering(s, 20_000);
    },
    status: () => status(s),
  }));

  return {
    members,
    endpoints,
    async leaderIndex(): Promise<number | undefined> {
      const ids = new Map<string, number>();
      let leader: string | undefined;
      for (const s of slots) {
        if (!s.child || exited(s.child)) {
          continue;
        }
        const st = await status(s);
        if (st) {
          ids.set(st.memberId, s.index);
          if (st.leaderId !== '0') {
            leader ??= st.leaderId;
          }
        }
      }
      return leader === undefined ? undefined : ids.get(leader);
    },
    waitHealthy,
    etcdctl: (args, via) => etcdctl(args, via),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
