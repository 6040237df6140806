/**
 * Throwaway "hosts" for integration tests: one network namespace per host, all joined by an
 * underlay L2 segment (198.51.100.0/24, TEST-NET-2) through a bridge that lives in a namespace of
 * its own. Nothing is created in the caller's namespace, so parallel runs cannot collide on
 * interface names and no test traffic leaves the namespaces of its run.
 *
 * Layout of one run with prefix `vxt-k3x9qa-` and two hosts:
 *
 *   vxt-k3x9qa-ul:  br0 ── h0, h1            (bridge + underlay ends of the veths)
 *   vxt-k3x9qa-h0:  lo, eth0 198.51.100.10/24
 *   vxt-k3x9qa-h1:  lo, eth0 198.51.100.11/24
 *
 * Every run first writes a marker `/run/vxmesh-test/<prefix>.json` naming its creator process, so
 * {@link sweepStaleTestHosts} can tell the leftovers of a crashed run from a live one.
 * Requires root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and iproute2.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from './command.js';
import type { CommandResult, RunCommandOptions } from './command.js';

/** Where run markers live; on tmpfs, so a reboot clears markers and namespaces together. */
export const TEST_HOSTS_MARKER_DIR = '/run/vxmesh-test';

/** Default name prefix of every namespace created by {@link createTestHosts}. */
export const DEFAULT_TEST_HOSTS_PREFIX = 'vxt-';

/** First underlay address is `UNDERLAY_NET.(UNDERLAY_FIRST_HOST + 0)`. */
const UNDERLAY_NET = '198.51.100';
const UNDERLAY_FIRST_HOST = 10;
const UNDERLAY_PREFIX_LEN = 24;
const MAX_HOSTS = 254 - UNDERLAY_FIRST_HOST + 1;

/** One emulated host. */
export interface TestHost {
  /** Position in {@link TestHosts.hosts}, from 0. */
  readonly index: number;
  /** Network namespace name, usable with `ip -n` / `ip netns exec`. */
  readonly netns: string;
  /** Underlay interface inside the host namespace. */
  readonly ifname: string;
  /** Underlay IPv4 address without prefix length, `198.51.100.(10 + index)`. */
  readonly underlayIp: string;
  /** Name of this host's bridge port in the underlay namespace (see {@link TestHosts.setUnderlayLink}). */
  readonly underlayPort: string;
}

/** Options of {@link TestHosts.exec}. */
export type TestHostExecOptions = Pick<RunCommandOptions, 'input' | 'signal' | 'check'>;

/** A set of hosts built by {@link createTestHosts}; owns every namespace it lists. */
export interface TestHosts extends AsyncDisposable {
  /** Prefix shared by every namespace of this run, e.g. `vxt-k3x9qa-`. */
  readonly prefix: string;
  readonly hosts: readonly TestHost[];
  /** Namespace holding the underlay bridge `br0`. */
  readonly underlayNetns: string;
  /** MTU of every underlay link (host eth0, bridge ports, bridge). */
  readonly mtu: number;
  /** The host at `index`; throws RangeError when there is none. */
  host(index: number): TestHost;
  /**
   * Runs `cmd args…` inside the host's namespace (via `ip netns exec`, so /sys matches the
   * namespace) and buffers its output. Rejects with CommandError on a non-zero exit unless
   * `check` is false.
   */
  exec(
    host: TestHost | number,
    cmd: string,
    args?: readonly string[],
    options?: TestHostExecOptions,
  ): Promise<CommandResult>;
  /**
   * Starts a long-running process inside the host's namespace; the returned child's pid is the
   * command itself (ip execs it). The caller stops it; {@link destroy} SIGKILLs any survivor.
   */
  spawn(host: TestHost | number, cmd: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /**
   * Like `spawn`, but enters only the host's network namespace (`nsenter --net`), keeping this
   * machine's mount namespace. Needed for daemons that create named namespaces themselves:
   * `ip netns exec` gives its child a private (slave) mount namespace, so the /run/netns bind
   * mounts such a daemon makes would be invisible to everyone else.
   */
  spawnNetOnly(host: TestHost | number, cmd: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Cuts (`down`) or restores (`up`) the host's underlay link at the bridge, to simulate a partition. */
  setUnderlayLink(host: TestHost | number, state: 'up' | 'down'): Promise<void>;
  /**
   * SIGKILLs every process still inside the run's namespaces, deletes the namespaces (which
   * removes their links) and the marker. Idempotent and safe to call concurrently; never throws
   * for objects that are already gone.
   */
  destroy(): Promise<void>;
}

/** Options of {@link createTestHosts}. */
export interface CreateTestHostsOptions {
  /** Number of hosts, 1 to 245. */
  readonly count: number;
  /** MTU of the underlay links, 68 to 65535. Default 1500. */
  readonly mtu?: number;
  /** Namespace name prefix; the run appends 6 random characters and `-`. Default `vxt-`. */
  readonly prefix?: string;
}

/** Contents of a run marker. */
interface RunMarker {
  readonly prefix: string;
  readonly pid: number;
  /** Start time of `pid` in clock ticks since boot (/proc/<pid>/stat field 22); tells a reused pid apart. */
  readonly pidStartTicks: string;
  /** Inode of the creator's pid namespace; a pid from another pid namespace cannot be checked. */
  readonly pidNamespace: string;
  readonly namespaces: readonly string[];
  readonly createdAt: string;
}

/**
 * Builds `count` hosts on a shared underlay. On failure, removes whatever it had created and
 * rethrows. The caller must `destroy()` the result (or hold it with `await using`).
 */
export async function createTestHosts(options: CreateTestHostsOptions): Promise<TestHosts> {
  const { count, mtu = 1500, prefix: basePrefix = DEFAULT_TEST_HOSTS_PREFIX } = options;
  if (!Number.isInteger(count) || count < 1 || count > MAX_HOSTS) {
    throw new RangeError(`count must be an integer from 1 to ${MAX_HOSTS}, got ${count}`);
  }
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`mtu must be an integer from 68 to 65535, got ${mtu}`);
  }
  if (!/^[a-z0-9-]{1,32}$/.test(basePrefix)) {
    throw new RangeError(`prefix must match [a-z0-9-]{1,32}, got ${JSON.stringify(basePrefix)}`);
  }

  const self = await processIdentity(process.pid);
  if (self === undefined) {
    throw new Error('cannot read /proc/self; test hosts need Linux with procfs');
  }
  await mkdir(TEST_HOSTS_MARKER_DIR, { recursive: true });

  // The marker goes down before any namespace exists and is removed only after all are gone,
  // so the sweeper never sees a namespace of a live run without its marker. `wx` makes the
  // random prefix unique among concurrent runs.
  let prefix = '';
  let hosts: TestHost[] = [];
  let underlayNetns = '';
  for (let attempt = 0; ; attempt++) {
    prefix = `${basePrefix}${randomSuffix()}-`;
    underlayNetns = `${prefix}ul`;
    hosts = Array.from({ length: count }, (_, index) => ({
      index,
      netns: `${prefix}h${index}`,
      ifname: 'eth0',
      underlayIp: `${UNDERLAY_NET}.${UNDERLAY_FIRST_HOST + index}`,
      underlayPort: `h${index}`,
    }));
    const marker: RunMarker = {
      prefix,
      pid: process.pid,
      pidStartTicks: self.startTicks,
      pidNamespace: self.pidNamespace,
      namespaces: [underlayNetns, ...hosts.map((h) => h.netns)],
      createdAt: new Date().toISOString(),
    };
    try {
      await writeFile(markerPath(prefix), JSON.stringify(marker), { flag: 'wx' });
      break;
    } catch (err) {
      if (!isErrno(err, 'EEXIST') || attempt >= 5) {
        throw err;
      }
    }
  }

  const namespaces = [underlayNetns, ...hosts.map((h) => h.netns)];
  let destroying: Promise<void> | undefined;
  const destroy = (): Promise<void> => (destroying ??= removeRun(prefix, namespaces));

  try {
    await build(underlayNetns, hosts, mtu);
  } catch (err) {
    await destroy();
    throw err;
  }

  const resolveHost = (host: TestHost | number): TestHost => {
    if (typeof host !== 'number') {
      return host;
    }
    const found = hosts[host];
    if (found === undefined) {
      throw new RangeError(`no test host ${host}; this run has ${hosts.length}`);
    }
    return found;
  };

  return {
    prefix,
    hosts,
    underlayNetns,
    mtu,
    host: resolveHost,
    exec: (host, cmd, args = [], execOptions = {}) =>
      runCommand('ip', ['netns', 'exec', resolveHost(host).netns, cmd, ...args], execOptions),
    spawn: (host, cmd, args = [], spawnOptions = {}) =>
      spawn('ip', ['netns', 'exec', resolveHost(host).netns, cmd, ...args], spawnOptions),
    spawnNetOnly: (host, cmd, args = [], spawnOptions = {}) =>
      spawn('nsenter', [`--net=/run/netns/${resolveHost(host).netns}`, cmd, ...args], spawnOptions),
    setUnderlayLink: async (host, state) => {
      await runCommand('ip', ['-n', underlayNetns, 'link', 'set', resolveHost(host).underlayPort, state]);
    },
    destroy,
    [Symbol.asyncDispose]: destroy,
  };
}

/**
 * Creates the namespaces and links in one `ip -batch` in the caller's namespace, then configures
 * each namespace with one `ip -n <ns> -batch`, in parallel: iproute2 has no per-line namespace
 * switch, and addresses cannot be set before a link sits in its final namespace (moving a link
 * flushes them). Links are created directly inside their namespaces, never in the caller's.
 */
async function build(underlayNetns: string, hosts: readonly TestHost[], mtu: number): Promise<void> {
  const create = [
    `netns add ${underlayNetns}`,
    ...hosts.map((h) => `netns add ${h.netns}`),
    `link add br0 netns ${underlayNetns} mtu ${mtu} type bridge`,
    ...hosts.map(
      (h) =>
        `link add ${h.ifname} netns ${h.netns} mtu ${mtu} type veth peer name ${h.underlayPort} netns ${underlayNetns} mtu ${mtu}`,
    ),
  ];
  await runCommand('ip', ['-batch', '-'], { input: lines(create) });

  const underlay = [
    'link set lo up',
    // Learning bridge without STP: ports forward as soon as they are up.
    'link set br0 type bridge stp_state 0',
    ...hosts.flatMap((h) => [`link set ${h.underlayPort} master br0`, `link set ${h.underlayPort} up`]),
    'link set br0 up',
  ];
  await Promise.all([
    runCommand('ip', ['-n', underlayNetns, '-batch', '-'], { input: lines(underlay) }),
    ...hosts.map((h) =>
      runCommand('ip', ['-n', h.netns, '-batch', '-'], {
        input: lines([
          'link set lo up',
          `addr add ${h.underlayIp}/${UNDERLAY_PREFIX_LEN} dev ${h.ifname}`,
          `link set ${h.ifname} up`,
        ]),
      }),
    ),
  ]);
}

/**
 * Removes what crashed runs left behind: every namespace whose name starts with `prefix` and
 * whose run's creator process is gone (or that has no marker at all, since a live run writes
 * its marker before its first namespace and removes it after its last), plus their markers.
 * Never touches a run whose creator is alive, nor one created from another pid namespace.
 * Safe to run concurrently with live runs and with other sweepers.
 * @returns the namespaces it deleted.
 */
export async function sweepStaleTestHosts(prefix: string = DEFAULT_TEST_HOSTS_PREFIX): Promise<string[]> {
  // Namespaces are listed before markers are read: any namespace seen here was created after
  // its marker was written, so a missing marker below really means the run is finished or dead.
  const namespaces = (await listNamespaces()).filter((ns) => ns.startsWith(prefix));
  const markers = await readMarkers(prefix);
  const selfPidNs = (await processIdentity(process.pid))?.pidNamespace;

  const deadRuns = new Set<string>();
  for (const [runPrefix, marker] of markers) {
    if (marker !== undefined && !(await isCreatorAlive(marker, selfPidNs))) {
      deadRuns.add(runPrefix);
    }
  }
  const runOf = (ns: string): string | undefined => [...markers.keys()].find((p) => ns.startsWith(p));

  const stale = namespaces.filter((ns) => {
    const run = runOf(ns);
    return run === undefined || deadRuns.has(run);
  });
  await removeNamespaces(stale);
  await Promise.all([...deadRuns].map((runPrefix) => rm(markerPath(runPrefix), { force: true })));
  return stale;
}

/**
 * A run prefix without hosts, for tests whose daemons create namespaces directly in this machine's
 * namespace (in-process daemons): its marker tells a concurrent run's sweeper that the
 * namespaces under it are alive. `release` removes every namespace carrying the prefix, the
 * processes in them, and the marker.
 */
export async function claimTestPrefix(
  basePrefix: string = DEFAULT_TEST_HOSTS_PREFIX,
): Promise<{ readonly prefix: string; release(): Promise<void> }> {
  const self = await processIdentity(process.pid);
  if (self === undefined) {
    throw new Error('cannot read /proc/self; test namespaces need Linux with procfs');
  }
  await mkdir(TEST_HOSTS_MARKER_DIR, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const prefix = `${basePrefix}${randomSuffix()}-`;
    const marker: RunMarker = {
      prefix,
      pid: process.pid,
      pidStartTicks: self.startTicks,
      pidNamespace: self.pidNamespace,
      namespaces: [],
      createdAt: new Date().toISOString(),
    };
    try {
      await writeFile(markerPath(prefix), JSON.stringify(marker), { flag: 'wx' });
      return { prefix, release: () => removeRun(prefix, []) };
    } catch (err) {
      if (!isErrno(err, 'EEXIST') || attempt >= 5) {
        throw err;
      }
    }
  }
}

/** Kills leftover processes, deletes the namespaces, then the marker; tolerates absent objects. */
async function removeRun(prefix: string, namespaces: readonly string[]): Promise<void> {
  // Daemons under test create namespaces of their own (containers, overlays) named after their
  // host, so everything carrying the run's prefix belongs to the run.
  const derived = (await listNamespaces()).filter((ns) => ns.startsWith(prefix) && !namespaces.includes(ns));
  await removeNamespaces([...derived, ...namespaces]);
  // Their per-namespace /etc files (resolv.conf, hosts) go with them.
  await Promise.all(derived.map((ns) => rm(join('/etc/netns', ns), { recursive: true, force: true })));
  await rm(markerPath(prefix), { force: true });
}

async function removeNamespaces(namespaces: readonly string[]): Promise<void> {
  if (namespaces.length === 0) {
    return;
  }
  // A process left inside a namespace would keep it, and the veths in it, alive after the name
  // is gone; these processes were started by the run that owns the namespace.
  await killProcessesIn(namespaces);
  // -force: keep going past namespaces that are already gone (a concurrent destroy or sweep).
  await runCommand('ip', ['-force', '-batch', '-'], {
    input: lines(namespaces.map((ns) => `netns del ${ns}`)),
    check: false,
  });
  const left = (await listNamespaces()).filter((ns) => namespaces.includes(ns));
  if (left.length > 0) {
    throw new Error(`could not delete network namespaces: ${left.join(', ')}`);
  }
}

/** SIGKILLs every process whose network namespace is one of `namespaces` (matched by nsfs inode). */
async function killProcessesIn(namespaces: readonly string[]): Promise<void> {
  const inodes = new Set<bigint>();
  for (const ns of namespaces) {
    const st = await stat(join('/run/netns', ns), { bigint: true }).catch(() => undefined);
    if (st !== undefined) {
      inodes.add(st.ino);
    }
  }
  if (inodes.size === 0) {
    return;
  }
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
  const victims: number[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      if (pid === process.pid) {
        return;
      }
      // Processes exit or belong to other users while we scan; those are simply skipped.
      const st = await stat(`/proc/${pid}/ns/net`, { bigint: true }).catch(() => undefined);
      if (st !== undefined && inodes.has(st.ino)) {
        victims.push(pid);
      }
    }),
  );
  for (const pid of victims) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch (err) {
      if (!isErrno(err, 'ESRCH')) {
        throw err;
      }
    }
  }
}

async function isCreatorAlive(marker: RunMarker, selfPidNs: string | undefined): Promise<boolean> {
  if (selfPidNs === undefined || marker.pidNamespace !== selfPidNs) {
    return true; // its pid means nothing here, so assume alive rather than delete a live run
  }
  const current = await processIdentity(marker.pid);
  return current !== undefined && current.startTicks === marker.pidStartTicks;
}

/** Markers whose run prefix starts with `prefix`; a marker that cannot be parsed maps to undefined (treated as live). */
async function readMarkers(prefix: string): Promise<Map<string, RunMarker | undefined>> {
  const files = await readdir(TEST_HOSTS_MARKER_DIR).catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) {
      return [];
    }
    throw err;
  });
  const markers = new Map<string, RunMarker | undefined>();
  for (const file of files) {
    if (!file.endsWith('.json') || !file.startsWith(prefix)) {
      continue;
    }
    const runPrefix = file.slice(0, -'.json'.length);
    try {
      markers.set(runPrefix, parseMarker(await readFile(join(TEST_HOSTS_MARKER_DIR, file), 'utf8')));
    } catch (err) {
      if (isErrno(err, 'ENOENT')) {
        continue; // removed by its run or another sweeper since readdir
      }
      markers.set(runPrefix, undefined);
    }
  }
  return markers;
}

function parseMarker(text: string): RunMarker | undefined {
  const value: unknown = JSON.parse(text);
  if (
    typeof value === 'object' &&
    value !== null &&
    'pid' in value &&
    typeof value.pid === 'number' &&
    'pidStartTicks' in value &&
    typeof value.pidStartTicks === 'string' &&
    'pidNamespace' in value &&
    typeof value.pidNamespace === 'string'
  ) {
    return value as RunMarker;
  }
  return undefined;
}

/** Identity of a live process that survives pid reuse, or undefined when `pid` does not exist. */
async function processIdentity(pid: number): Promise<{ startTicks: string; pidNamespace: string } | undefined> {
  try {
    const statLine = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses; fields after the last ')' are plain.
    const fields = statLine.slice(statLine.lastIndexOf(')') + 2).split(' ');
    const startTicks = fields[19]; // field 22 overall; this slice starts at field 3
    const pidNamespace = await readlink(`/proc/${pid}/ns/pid`);
    if (startTicks === undefined) {
      return undefined;
    }
    return { startTicks, pidNamespace };
  } catch (err) {
    if (isErrno(err, 'ENOENT') || isErrno(err, 'ESRCH')) {
      return undefined;
    }
    throw err;
  }
}

async function listNamespaces(): Promise<string[]> {
  // /run/netns is what `ip netns list` reads; readdir avoids a process per call.
  return readdir('/run/netns').catch((err: unknown) => {
    if (isErrno(err, 'ENOENT')) {
      return [];
    }
    throw err;
  });
}

function markerPath(runPrefix: string): string {
  return join(TEST_HOSTS_MARKER_DIR, `${runPrefix}.json`);
}

function randomSuffix(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(6), (b) => alphabet[b % alphabet.length]).join('');
}

function lines(commands: readonly string[]): string {
  return `${commands.join('\n')}\n`;
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && 'code' in err && err.code === code;
}
