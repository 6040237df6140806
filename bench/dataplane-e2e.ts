/**
 * End-to-end dataplane benchmark, parts (b) and (c) of issue 6 (part (a), programming speed, is
 * bench/dataplane.ts). Real vxmeshd processes (dist/, so `npm run build` first) in host network
 * namespaces on a 198.51.100.0/24 underlay: host0 is the manager, host1 is "A", host2 is "B",
 * host3-host4 (and host5-host6) carry hand-configured kernel VXLANs for comparison. Needs root,
 * iproute2, nftables and iperf3 (not in .ci/run's packages; Debian: `apt-get install -y iperf3`).
 *
 *   npm run build && node --import tsx bench/dataplane-e2e.ts [--only b|c] [--runs 50]
 *       [--arp-retrans-ms 10] [--probe-interval-ms 1] [--iperf-seconds 10] [--iperf-reps 5]
 *       [--streams 1,4] [--no-hand-nft] [--max-minutes 30]
 *
 * Takes about 10 minutes with the defaults (four minutes for (b)), plus set-up.
 *
 * (b) run → first ping. A long-lived container on B ("probe-b") hosts a prober: this file started
 * again with `--prober` inside probe-b's network namespace (nsenter --net), sending ICMP echo
 * requests over a raw socket every `--probe-interval-ms` to the address the next container will
 * get (`--ip`, a fresh address each run, so no state from an earlier run can answer) and reporting
 * the monotonic time of the first echo reply. Each run then starts the container on A, either
 * with the CLI (`vxmesh run -d --name … --network bench-net --ip … -- sleep infinity`; clock from
 * just before spawning it, and again from when it exits, i.e. the daemon's reply) or with the
 * daemon's RunContainer RPC straight on A's socket (what the CLI sends, without its ~150-200 ms
 * of Node start-up, which is measured on its own). Runs alternate CLI / RPC, in two blocks:
 * "A cold" (no other container of the network on A, so the run builds A's overlay namespace,
 * bridge, VXLAN device and FDB) and "A warm" (another container keeps it). Between runs the
 * container is removed over RPC and the bench waits until B has deleted its FDB entry (and, cold,
 * until A's overlay namespace is gone). Where the time goes comes from `bridge monitor fdb` /
 * `ip monitor neigh` in B's overlay namespace and the daemons' logs ("endpoint attached" on the
 * manager, "container started" on A; pino times, 1 ms resolution).
 *
 * The prober's namespace gets `net.ipv4.neigh.eth0.retrans_time_ms` = `--arp-retrans-ms` (the
 * kernel floors it at 10 ms): probing starts before the address exists, so probe-b's kernel keeps
 * re-asking ARP for it, and with the default 1 s retransmit timer the first ping would wait up to
 * a second for the next ARP retry after B's proxy-ARP entry appears, whatever the control plane
 * does. `--arp-retrans-ms 0` keeps the kernel default, to show that effect.
 *
 * (c) iperf3 TCP (`-t --iperf-seconds -P {--streams}`, `-J`) in the same run, rounds interleaved
 * and the path order rotated per round: container→container over the vxmesh overlay (A's
 * container to probe-b), host→host over the underlay (A to B), and container→container over a
 * hand-configured kernel VXLAN (shared/perf-baselines/vxlan-setup.sh's recipe: br0 + vx0 VNI 4097
 * port 4789 nolearning proxy, static FDB + neighbour entries, MTU 1450 veths) between host3 and
 * host4 on the same underlay bridge, and unless `--no-hand-nft` the same again between host5 and
 * host6 with a copy of the nftables table vxmesh keeps on its hosts (guard set, forward drop, NAT
 * masquerade; the NAT chain turns conntrack on for every packet in the host namespace), which
 * tells the firewall's share of any gap from the rest. Ratios are medians of per-round ratios;
 * goal: overlay ≥ 0.9× hand-configured VXLAN. Also ping RTT per path (500 pings, 5 ms apart,
 * after a warm-up).
 *
 * Everything lives in namespaces named `vxbe-XXXXXX-*` (hosts, and the `-c-*`/`-o-*` ones the
 * daemons create) and the daemons' temporary directories; all are removed at the end, on failure,
 * on SIGINT/SIGTERM and when `--max-minutes` runs out; leftovers of a killed run are swept at the
 * next start.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { readFile, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import { callUnary } from '../src/common/rpc/call-unary.js';
import type { Container } from '../src/gen/vxmesh/v1/container.js';
import { LocalControlClient } from '../src/gen/vxmesh/v1/control.js';
import type { RunContainerRequest } from '../src/gen/vxmesh/v1/control.js';
import { overlayNamespaceName } from '../src/vxlan/dataplane-names.js';
import { runCommand } from '../test/support/command.js';
import { createTestHosts, sweepStaleTestHosts } from '../test/support/test-hosts.js';
import type { TestHosts } from '../test/support/test-hosts.js';
import { VXMESH_CLI_JS, destroyAll, startVxmeshds } from '../test/support/vxmeshd-harness.js';
import type { Vxmeshd } from '../test/support/vxmeshd-harness.js';

const PREFIX = 'vxbe-';
const NETWORK = 'bench-net';
const SUBNET = '10.77.0.0/16';
const IPERF_PORT = 5201;
const RUN_TIMEOUT_MS = 15_000;
const SETTLE_MS = 150;
const HAND = { vni: 4097, port: 4789, subnet: '10.78.0', mtu: 1450 } as const;

// ---------------------------------------------------------------------------------------------
// Options and results

/** Options of {@link runDataplaneE2eBench}. */
export interface DataplaneE2eOptions {
  /** Which parts to run; default both. */
  readonly parts?: readonly ('b' | 'c')[];
  /** Runs per (CLI | RPC) × (A cold | A warm) case. Default 50. */
  readonly runs?: number;
  /** ARP retransmit timer of the prober's namespace; 0 keeps the kernel default. Default 10. */
  readonly arpRetransMs?: number;
  /** Echo request spacing of the prober. Default 1. */
  readonly probeIntervalMs?: number;
  /** Length of one iperf3 run. Default 10. */
  readonly iperfSeconds?: number;
  /** Rounds; each measures every path once per stream count. Default 5. */
  readonly iperfReps?: number;
  /** iperf3 -P values. Default 1 and 4. */
  readonly streams?: readonly number[];
  /** Also measure the hand-configured VXLAN with vxmesh's nftables table loaded. Default true. */
  readonly handWithNft?: boolean;
  /** Aborts (and cleans up) when exceeded. Default 30. */
  readonly maxMinutes?: number;
}

/** One run of part (b); times in ms after the command was spawned or the RPC sent. */
export interface RunToPingSample {
  readonly via: 'cli' | 'rpc';
  readonly aState: 'cold' | 'warm';
  readonly ip: string;
  /** First echo reply seen by the prober; undefined when none came within the run timeout. */
  readonly pingMs: number | undefined;
  /** The CLI exited / the RPC answered. */
  readonly replyMs: number;
  /** The manager logged "endpoint attached". */
  readonly attachedMs: number | undefined;
  /** B's overlay namespace showed the FDB entry / the neighbour (proxy ARP) entry. */
  readonly bFdbMs: number | undefined;
  readonly bNeighMs: number | undefined;
  /** A's daemon logged "container started". */
  readonly startedMs: number | undefined;
  /** Echo requests sent before the first reply. */
  readonly probesSent: number;
}

/** Percentiles (nearest rank) in ms; a failed run counts as +∞. */
export interface LatencyStats {
  readonly n: number;
  readonly failures: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** One iperf3 measurement. */
export interface IperfResult {
  readonly path: IperfPath;
  readonly streams: number;
  readonly round: number;
  readonly gbps: number;
  readonly retransmits: number;
  readonly senderCpu: number;
  readonly receiverCpu: number;
}

/**
 * `hand-vxlan-nft`: the hand-configured VXLAN again, on two more hosts that also carry a copy of
 * the nftables table vxmesh installs on its hosts (its NAT chain turns conntrack on), to tell the
 * firewall's cost from the rest of the overlay's.
 */
export type IperfPath = 'overlay' | 'hand-vxlan' | 'hand-vxlan-nft' | 'underlay';

const PATH_LABELS: Record<IperfPath, string> = {
  overlay: 'overlay (vxmesh)',
  'hand-vxlan': 'hand-configured VXLAN',
  'hand-vxlan-nft': "hand VXLAN + vxmesh's nft",
  underlay: 'underlay (host→host)',
};

/** Everything the bench measured. */
export interface DataplaneE2eReport {
  readonly cliStartupMs?: { readonly help: number; readonly ps: number };
  readonly runToPing?: readonly RunToPingSample[];
  readonly iperf?: readonly IperfResult[];
  readonly rttMs?: Readonly<Partial<Record<IperfPath, number>>>;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Monotonic milliseconds, comparable across processes (CLOCK_MONOTONIC). */
function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Nearest-rank statistics; undefined samples (failed runs) count as +∞. */
export function latencyStats(samples: readonly (number | undefined)[]): LatencyStats {
  const sorted = samples.map((s) => s ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
  return {
    n: sorted.length,
    failures: samples.filter((s) => s === undefined).length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

/** Races `promise` against a timeout and an abort signal. */
async function bounded<T>(promise: Promise<T>, ms: number, what: string, signal: AbortSignal): Promise<T> {
  signal.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
        onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
        signal.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** The MAC vxmesh derives from an IPv4 address (docker's 02:42 + the address). */
function macOf(ip: string): string {
  return ['02', '42', ...ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0'))].join(':');
}

/** The k-th run address: 10.77.1.10, 10.77.1.11, … (200 per /24, never the probe's 10.77.0.x). */
function runAddress(k: number): string {
  return `10.77.${1 + Math.floor(k / 200)}.${10 + (k % 200)}`;
}

/** Every child this process started, killed on the way out (namespace removal kills the rest). */
const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function killChildren(): void {
  for (const child of children) {
    child.kill('SIGKILL');
  }
  children.clear();
}

// ---------------------------------------------------------------------------------------------
// Line-oriented helpers processes: monitors and the prober

interface TimedLine {
  readonly t: number;
  readonly text: string;
}

/** A long-running command whose stdout lines are timestamped on arrival. */
class LineSource {
  readonly lines: TimedLine[] = [];
  readonly #waiters = new Set<{ match: (l: TimedLine) => boolean; resolve: (l: TimedLine) => void }>();
  readonly child: ChildProcess;

  constructor(cmd: string, args: readonly string[]) {
    this.child = track(spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
    this.child.stdin?.on('error', () => undefined);
    const rl = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    rl.on('line', (text) => {
      const line = { t: nowMs(), text };
      this.lines.push(line);
      for (const w of this.#waiters) {
        if (w.match(line)) {
          this.#waiters.delete(w);
          w.resolve(line);
        }
      }
    });
  }

  /** The first line since `since` (ms) matching `match`, waiting for it if none has come yet. */
  async next(
    match: (l: TimedLine) => boolean,
    since: number,
    timeoutMs: number,
    what: string,
    signal: AbortSignal,
  ): Promise<TimedLine> {
    const seen = this.lines.find((l) => l.t >= since && match(l));
    if (seen) {
      return seen;
    }
    let waiter: { match: (l: TimedLine) => boolean; resolve: (l: TimedLine) => void } | undefined;
    try {
      return await bounded(
        new Promise<TimedLine>((resolve) => {
          waiter = { match: (l) => l.t >= since && match(l), resolve };
          this.#waiters.add(waiter);
        }),
        timeoutMs,
        what,
        signal,
      );
    } finally {
      if (waiter) {
        this.#waiters.delete(waiter);
      }
    }
  }

  /** Drops lines older than `before` (keeps memory flat over many runs). */
  trim(before: number): void {
    const keep = this.lines.filter((l) => l.t >= before);
    this.lines.splice(0, this.lines.length, ...keep);
  }

  send(text: string): void {
    this.child.stdin?.write(`${text}\n`);
  }

  close(): void {
    this.child.stdin?.end();
    this.child.kill('SIGKILL');
  }
}

/** The prober (this file with --prober) inside a container's network namespace. */
class Prober {
  #seq = 0;

  private constructor(private readonly source: LineSource) {}

  static async start(namespace: string, arpRetransMs: number, signal: AbortSignal): Promise<Prober> {
    const self = fileURLToPath(import.meta.url);
    const source = new LineSource('nsenter', [
      `--net=/run/netns/${namespace}`,
      process.execPath,
      ...process.execArgv,
      self,
      '--prober',
      String(arpRetransMs),
    ]);
    await source.next((l) => l.text === 'ready', 0, 20_000, 'prober start', signal);
    return new Prober(source);
  }

  /**
   * Starts probing `ip`; resolves once probing has begun, with `done`: the first reply's time
   * (undefined on timeout) and the number of requests sent.
   */
  async begin(
    ip: string,
    intervalMs: number,
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ readonly done: Promise<{ replyAt: number | undefined; sent: number }> }> {
    const id = ++this.#seq;
    const since = nowMs();
    const done = this.source
      .next(
        (l) => l.text.startsWith(`reply ${id} `) || l.text.startsWith(`timeout ${id} `),
        since,
        timeoutMs + 5_000,
        `probe ${ip}`,
        signal,
      )
      .then((l) => {
        const [kind = '', , a = '', b = ''] = l.text.split(' ');
        return kind === 'reply'
          ? { replyAt: Number(BigInt(a)) / 1e6, sent: Number(b) }
          : { replyAt: undefined, sent: Number(a) };
      });
    // Awaited by the caller unless it fails first; never an unhandled rejection.
    done.catch(() => undefined);
    this.source.send(`probe ${id} ${ip} ${intervalMs} ${timeoutMs}`);
    await this.source.next((l) => l.text === `started ${id}`, since, 5_000, 'prober ack', signal);
    // Wrapped: an async function returning the bare promise would make the caller wait for it.
    return { done };
  }

  /** Checks that a known address answers (the prober works at all). */
  async check(ip: string, signal: AbortSignal): Promise<void> {
    const { replyAt } = await (await this.begin(ip, 10, 5_000, signal)).done;
    if (replyAt === undefined) {
      throw new Error(`prober got no echo reply from ${ip}`);
    }
  }

  close(): void {
    this.source.send('quit');
    this.source.close();
  }
}

/** Minimal typing of the raw-socket package (CommonJS, no types). */
interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  send(buffer: Buffer, offset: number, length: number, address: string, after: (err: Error | null) => void): this;
  close(): this;
}
interface RawSocketModule {
  createSocket(options: { protocol: number }): RawSocket;
  readonly Protocol: { readonly ICMP: number };
}

function icmpChecksum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) {
    sum += buf.readUInt16BE(i);
  }
  if (buf.length % 2 === 1) {
    sum += (buf[buf.length - 1] ?? 0) << 8;
  }
  while (sum > 0xffff) {
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  return ~sum & 0xffff;
}

/**
 * Prober mode (runs inside the container's namespace). stdin: `probe ID IP INTERVAL_MS TIMEOUT_MS`
 * (replacing any probe in progress) or `quit`; stdout: `ready`, `started ID`, then
 * `reply ID MONOTONIC_NS SENT` or `timeout ID SENT`.
 */
async function runProber(arpRetransMs: number): Promise<void> {
  if (arpRetransMs > 0) {
    // /proc/sys/net is this process's network namespace: probe-b's.
    writeFileSync('/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms', String(arpRetransMs));
  }
  const raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
  const socket = raw.createSocket({ protocol: raw.Protocol.ICMP });
  const ident = process.pid & 0xffff;
  let sendErrors = 0;
  let current: { id: string; ip: string; sent: number; timer: NodeJS.Timeout; deadline: NodeJS.Timeout } | undefined;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const finish = (line: string): void => {
    if (current) {
      clearInterval(current.timer);
      clearTimeout(current.deadline);
      current = undefined;
      out(line);
    }
  };
  socket.on('message', (buf, source) => {
    const at = process.hrtime.bigint();
    const ihl = ((buf[0] ?? 0) & 0x0f) * 4;
    if (
      !current ||
      source !== current.ip ||
      buf[ihl] !== 0 ||
      buf.length < ihl + 8 ||
      buf.readUInt16BE(ihl + 4) !== ident
    ) {
      return;
    }
    finish(`reply ${current.id} ${at} ${current.sent}`);
  });
  socket.on('error', (err) => process.stderr.write(`prober: ${err.message}\n`));
  const packet = Buffer.alloc(24);
  const sendOne = (): void => {
    if (!current) {
      return;
    }
    const seq = ++current.sent & 0xffff;
    packet.fill(0);
    packet.writeUInt8(8, 0); // echo request
    packet.writeUInt16BE(ident, 4);
    packet.writeUInt16BE(seq, 6);
    packet.writeBigUInt64BE(process.hrtime.bigint(), 8);
    packet.writeUInt16BE(icmpChecksum(packet), 2);
    socket.send(packet, 0, packet.length, current.ip, (err) => {
      if (err) {
        sendErrors++; // e.g. EHOSTUNREACH while ARP has failed; the next request retries
      }
    });
  };
  out('ready');
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, id = '', ip = '', interval = '1', timeout = '10000'] = line.trim().split(/\s+/);
    if (cmd === 'quit') {
      break;
    }
    if (cmd === 'probe') {
      if (current) {
        finish(`timeout ${current.id} ${current.sent}`);
      }
      const timer = setInterval(sendOne, Math.max(1, Number(interval)));
      const deadline = setTimeout(() => current && finish(`timeout ${current.id} ${current.sent}`), Number(timeout));
      current = { id, ip, sent: 0, timer, deadline };
      out(`started ${id}`);
      sendOne();
    }
  }
  if (current) {
    finish(`timeout ${current.id} ${current.sent}`);
  }
  if (sendErrors > 0) {
    process.stderr.write(`prober: ${sendErrors} send errors\n`);
  }
  socket.close();
}

// ---------------------------------------------------------------------------------------------
// The cluster

interface Cluster {
  readonly hosts: TestHosts;
  readonly daemons: readonly Vxmeshd[];
  readonly manager: Vxmeshd;
  readonly a: Vxmeshd;
  readonly b: Vxmeshd;
  readonly rpcA: LocalControlClient;
  readonly rpcB: LocalControlClient;
  readonly networkId: string;
}

function runRequest(name: string, ip: string): RunContainerRequest {
  return {
    name,
    hostname: '',
    command: ['sleep', 'infinity'],
    networks: [{ network: NETWORK, ipv4Address: ip, ipv6Address: '', aliases: [], links: [] }],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    autoRemove: false,
    createOnly: false,
  };
}

async function rpcRun(client: LocalControlClient, request: RunContainerRequest): Promise<Container> {
  const res = await callUnary(client.runContainer.bind(client), request, `run ${request.name}`, { timeoutMs: 30_000 });
  if (!res.container) {
    throw new Error(`run ${request.name}: no container in the answer`);
  }
  return res.container;
}

async function rpcRemove(client: LocalControlClient, name: string): Promise<void> {
  await callUnary(client.removeContainer.bind(client), { ref: name, force: true }, `rm ${name}`, { timeoutMs: 30_000 });
}

async function buildCluster(hosts: TestHosts, daemons: Vxmeshd[]): Promise<Cluster> {
  daemons.push(...(await startVxmeshds(hosts, [0, 1, 2])));
  const [manager, a, b] = daemons;
  if (!manager || !a || !b) {
    throw new Error('daemons did not start');
  }
  const init = await manager.cliOk(['swarm', 'init', '--advertise-addr', hosts.host(0).underlayIp]);
  const join = /vxmesh (swarm join --token \S+ \S+)/.exec(init)?.[1]?.split(' ') ?? [];
  await a.cliOk(join);
  await b.cliOk(join);
  await manager.cliOk(['network', 'create', '-d', 'overlay', '--attachable', '--subnet', SUBNET, NETWORK]);
  const rpcA = new LocalControlClient(a.address, credentials.createInsecure());
  const rpcB = new LocalControlClient(b.address, credentials.createInsecure());
  const probe = await rpcRun(rpcB, runRequest('probe-b', ''));
  const networkId = probe.networks[0]?.networkId ?? '';
  return { hosts, daemons, manager, a, b, rpcA, rpcB, networkId };
}

/** Overlay namespace of `networkId` on a daemon's host (the daemon's --netns-prefix is `<host ns>-`). */
function overlayNs(d: Vxmeshd, networkId: string): string {
  return overlayNamespaceName(`${d.host.netns}-`, networkId);
}

async function untilGone(path: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const deadline = nowMs() + timeoutMs;
  while (existsSync(path)) {
    signal.throwIfAborted();
    if (nowMs() > deadline) {
      throw new Error(`${path} still there after ${timeoutMs} ms`);
    }
    await sleep(10);
  }
}

// ---------------------------------------------------------------------------------------------
// (b) run → first ping

/** Node start-up of the CLI: `--help` (no daemon) and `ps` (one RPC), medians of 10. */
async function measureCliStartup(d: Vxmeshd): Promise<{ help: number; ps: number }> {
  const time = async (args: readonly string[]): Promise<number> => {
    const t0 = nowMs();
    await runCommand(process.execPath, [VXMESH_CLI_JS, ...args], { check: false });
    return nowMs() - t0;
  };
  const help: number[] = [];
  const ps: number[] = [];
  for (let i = 0; i < 10; i++) {
    help.push(await time(['--help']));
    ps.push(await time(['-H', d.address, 'ps']));
  }
  return { help: median(help), ps: median(ps) };
}

/** Spawns the CLI's `run` on A; resolves at its exit. */
function cliRun(
  a: Vxmeshd,
  name: string,
  ip: string,
): Promise<{ exitAt: number; code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = track(
      spawn(
        process.execPath,
        [
          VXMESH_CLI_JS,
          '-H',
          a.address,
          'run',
          '-d',
          '--name',
          name,
          '--network',
          NETWORK,
          '--ip',
          ip,
          '--',
          'sleep',
          'infinity',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      ),
    );
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ exitAt: nowMs(), code, stderr }));
  });
}

interface LogEvent {
  readonly at: number;
  readonly msg: string;
  readonly fields: Record<string, unknown>;
}

/** The daemon's pino lines, times converted to this process's monotonic clock. */
async function readLog(d: Vxmeshd, epochMinusMono: number): Promise<LogEvent[]> {
  const text = await readFile(d.logPath, 'utf8').catch(() => '');
  const out: LogEvent[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) {
      continue;
    }
    try {
      const j = JSON.parse(line) as Record<string, unknown>;
      if (typeof j['time'] === 'number' && typeof j['msg'] === 'string') {
        out.push({ at: j['time'] - epochMinusMono, msg: j['msg'], fields: j });
      }
    } catch {
      // a torn line from a killed process; skip it
    }
  }
  return out;
}

async function runToPing(
  cluster: Cluster,
  opts: Required<Pick<DataplaneE2eOptions, 'runs' | 'arpRetransMs' | 'probeIntervalMs'>>,
  signal: AbortSignal,
): Promise<RunToPingSample[]> {
  const { a, b, rpcA, rpcB, manager, networkId } = cluster;
  const probeContainer = (
    await callUnary(rpcB.inspectContainer.bind(rpcB), { ref: 'probe-b' }, 'inspect probe-b', { timeoutMs: 10_000 })
  ).container;
  const probeNs = probeContainer?.namespace ?? '';
  const bOverlay = overlayNs(b, networkId);
  const aOverlay = `/run/netns/${overlayNs(a, networkId)}`;
  if (!existsSync(`/run/netns/${bOverlay}`)) {
    throw new Error(`B's overlay namespace ${bOverlay} is missing`);
  }
  const fdb = new LineSource('bridge', ['-n', bOverlay, 'monitor', 'fdb']);
  const neigh = new LineSource('ip', ['-n', bOverlay, 'monitor', 'neigh']);
  const prober = await Prober.start(probeNs, opts.arpRetransMs, signal);
  const epochMinusMono = Date.now() - nowMs();
  const samples: RunToPingSample[] = [];
  let k = 0;
  try {
    // The prober works: probe-b's own gateway answers.
    await prober.check(probeContainer?.networks[0]?.gateway ?? '10.77.0.1', signal);
    for (const aState of ['cold', 'warm'] as const) {
      if (aState === 'warm') {
        await rpcRun(rpcA, runRequest('anchor-a', ''));
      } else {
        await untilGone(aOverlay, 10_000, signal);
      }
      const raw: {
        via: 'cli' | 'rpc';
        ip: string;
        name: string;
        t0: number;
        reply: number;
        ping: number | undefined;
        sent: number;
      }[] = [];
      for (let i = 0; i < 2 * opts.runs; i++) {
        const via = i % 2 === 0 ? 'cli' : 'rpc';
        const ip = runAddress(k++);
        const name = `e2e-${aState}-${i}`;
        const reply = await prober.begin(ip, opts.probeIntervalMs, RUN_TIMEOUT_MS, signal);
        const t0 = nowMs();
        let replyAt: number;
        if (via === 'cli') {
          const r = await bounded(cliRun(a, name, ip), 30_000, `vxmesh run ${name}`, signal);
          if (r.code !== 0) {
            throw new Error(`vxmesh run ${name} exited ${r.code}: ${r.stderr.trim()}`);
          }
          replyAt = r.exitAt;
        } else {
          const c = await rpcRun(rpcA, runRequest(name, ip));
          replyAt = nowMs();
          if (c.networks[0]?.macAddress !== macOf(ip)) {
            throw new Error(`unexpected MAC ${c.networks[0]?.macAddress} for ${ip}`);
          }
        }
        const ping = await reply.done;
        raw.push({ via, ip, name, t0, reply: replyAt, ping: ping.replyAt, sent: ping.sent });
        if (ping.replyAt === undefined) {
          console.error(`  run ${name} (${via}, ${ip}): no echo reply within ${RUN_TIMEOUT_MS} ms`);
        }
        // Back to the quiet state: container gone, B's entry gone, (cold) A's overlay gone.
        const removedAt = nowMs();
        await rpcRemove(rpcA, name);
        const mac = macOf(ip);
        if (fdb.lines.some((l) => l.t >= t0 && l.text.startsWith(`${mac} dev vxlan0 dst`))) {
          await fdb.next(
            (l) => l.text.startsWith(`Deleted ${mac} dev vxlan0 dst`),
            removedAt,
            10_000,
            `B forgets ${mac}`,
            signal,
          );
        }
        if (aState === 'cold') {
          await untilGone(aOverlay, 10_000, signal);
        }
        await sleep(SETTLE_MS);
        if (i % 10 === 9) {
          process.stdout.write(`  ${aState}: ${i + 1}/${2 * opts.runs} runs\n`);
        }
      }
      // Where the time went: B's kernel events and the daemons' logs.
      const [mgrLog, aLog] = await Promise.all([readLog(manager, epochMinusMono), readLog(a, epochMinusMono)]);
      for (const r of raw) {
        const after = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - r.t0);
        const mac = macOf(r.ip);
        samples.push({
          via: r.via,
          aState,
          ip: r.ip,
          pingMs: after(r.ping),
          replyMs: r.reply - r.t0,
          attachedMs: after(
            mgrLog.find((e) => e.msg === 'endpoint attached' && String(e.fields['ipv4']).split('/')[0] === r.ip)?.at,
          ),
          bFdbMs: after(fdb.lines.find((l) => l.t >= r.t0 && l.text.startsWith(`${mac} dev vxlan0 dst`))?.t),
          bNeighMs: after(neigh.lines.find((l) => l.t >= r.t0 && l.text.startsWith(`${r.ip} dev vxlan0 lladdr`))?.t),
          startedMs: after(aLog.find((e) => e.msg === 'container started' && e.fields['name'] === r.name)?.at),
          probesSent: r.sent,
        });
      }
      fdb.trim(nowMs());
      neigh.trim(nowMs());
    }
  } finally {
    prober.close();
    fdb.close();
    neigh.close();
  }
  return samples;
}

// ---------------------------------------------------------------------------------------------
// (c) iperf3

interface PathEnds {
  readonly clientNs: string;
  readonly serverNs: string;
  readonly serverIp: string;
}

/**
 * The hand-configured VXLAN of shared/perf-baselines/vxlan-setup.sh between two test hosts, each
 * with a "container" namespace `<prefix>hc<host index>` attached to its bridge.
 */
async function buildHandVxlan(hosts: TestHosts, hostIndices: readonly [number, number]): Promise<PathEnds> {
  const ends = hostIndices.map((index, i) => ({
    host: hosts.host(index),
    container: `${hosts.prefix}hc${index}`,
    ip: `${HAND.subnet}.${2 + i}`,
    mac: macOf(`${HAND.subnet}.${2 + i}`),
  }));
  await runCommand('ip', ['-batch', '-'], { input: `${ends.map((e) => `netns add ${e.container}`).join('\n')}\n` });
  for (const [i, e] of ends.entries()) {
    const peer = ends[1 - i];
    if (!peer) {
      throw new Error('unreachable');
    }
    await runCommand('ip', ['-n', e.host.netns, '-batch', '-'], {
      input: [
        `link add br0 mtu ${HAND.mtu} type bridge`,
        'link set br0 up',
        `link add vx0 type vxlan id ${HAND.vni} dstport ${HAND.port} local ${e.host.underlayIp} dev ${e.host.ifname} nolearning proxy`,
        `link set vx0 mtu ${HAND.mtu} master br0 up`,
        `link add veth0 mtu ${HAND.mtu} type veth peer name eth0 netns ${e.container}`,
        'link set veth0 master br0 up',
        `neigh add ${peer.ip} lladdr ${peer.mac} dev vx0 nud permanent`,
        '',
      ].join('\n'),
    });
    await runCommand('bridge', ['-n', e.host.netns, '-batch', '-'], {
      input: `fdb add ${peer.mac} dev vx0 dst ${peer.host.underlayIp} self permanent\nfdb add ${peer.mac} dev vx0 master static\n`,
    });
    await runCommand('ip', ['-n', e.container, '-batch', '-'], {
      input: `link set lo up\nlink set eth0 address ${e.mac} mtu ${HAND.mtu} up\naddr add ${e.ip}/24 dev eth0\n`,
    });
  }
  const [client, server] = ends;
  if (!client || !server) {
    throw new Error('unreachable');
  }
  return { clientNs: client.container, serverNs: server.container, serverIp: server.ip };
}

/**
 * Loads into `netns` the nftables table vxmesh keeps on host `from`, with the member set holding
 * `peer` instead (the guard then accepts the hand-configured tunnel's packets).
 */
async function copyVxmeshNft(from: string, netns: string, peer: string): Promise<void> {
  const table = (await runCommand('ip', ['netns', 'exec', from, 'nft', 'list', 'table', 'inet', 'vxmesh'])).stdout;
  const patched = table.replace(/(set member_vteps4 \{[^}]*?)elements = \{[^}]*\}/, `$1elements = { ${peer} }`);
  if (!patched.includes(`elements = { ${peer} }`)) {
    throw new Error(`cannot find the member set in vxmesh's table:\n${table}`);
  }
  await runCommand('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: patched });
}

async function startIperfServer(ns: string, signal: AbortSignal): Promise<LineSource> {
  const server = new LineSource('ip', ['netns', 'exec', ns, 'iperf3', '-s', '--forceflush', '-p', String(IPERF_PORT)]);
  await server.next((l) => l.text.includes('Server listening'), 0, 10_000, `iperf3 server in ${ns}`, signal);
  return server;
}

interface IperfJson {
  readonly error?: string;
  readonly end?: {
    readonly sum_received?: { readonly bits_per_second?: number };
    readonly sum_sent?: { readonly retransmits?: number };
    readonly cpu_utilization_percent?: { readonly host_total?: number; readonly remote_total?: number };
  };
}

async function iperfOnce(
  ends: PathEnds,
  seconds: number,
  streams: number,
  signal: AbortSignal,
): Promise<Omit<IperfResult, 'path' | 'streams' | 'round'>> {
  const timeout = AbortSignal.any([signal, AbortSignal.timeout((seconds + 30) * 1000)]);
  const res = await runCommand(
    'ip',
    [
      'netns',
      'exec',
      ends.clientNs,
      'iperf3',
      '-c',
      ends.serverIp,
      '-p',
      String(IPERF_PORT),
      '-t',
      String(seconds),
      '-P',
      String(streams),
      '-J',
    ],
    { check: false, signal: timeout },
  );
  let j: IperfJson;
  try {
    j = JSON.parse(res.stdout) as IperfJson;
  } catch {
    throw new Error(
      `iperf3 to ${ends.serverIp}: exit ${res.exitCode}, ${res.stderr.trim() || res.stdout.slice(0, 300)}`,
    );
  }
  const bps = j.end?.sum_received?.bits_per_second;
  if (j.error || bps === undefined) {
    throw new Error(`iperf3 to ${ends.serverIp}: ${j.error ?? 'no result'}`);
  }
  return {
    gbps: bps / 1e9,
    retransmits: j.end?.sum_sent?.retransmits ?? 0,
    senderCpu: j.end?.cpu_utilization_percent?.host_total ?? Number.NaN,
    receiverCpu: j.end?.cpu_utilization_percent?.remote_total ?? Number.NaN,
  };
}

/** Average RTT of 500 pings 5 ms apart, after 3 warm-up pings. */
async function rttMs(ends: PathEnds, signal: AbortSignal): Promise<number> {
  const ping = (args: readonly string[]): Promise<string> =>
    runCommand('ip', ['netns', 'exec', ends.clientNs, 'ping', '-q', ...args, ends.serverIp], {
      signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]),
    }).then((r) => r.stdout);
  await ping(['-c', '3', '-i', '0.2', '-W', '2']);
  const out = await ping(['-c', '500', '-i', '0.005', '-W', '2']);
  const avg = /= [\d.]+\/([\d.]+)\//.exec(out)?.[1];
  if (avg === undefined) {
    throw new Error(`no RTT in ping output: ${out}`);
  }
  return Number(avg);
}

async function iperfPaths(
  cluster: Cluster,
  opts: Required<Pick<DataplaneE2eOptions, 'iperfSeconds' | 'iperfReps' | 'streams' | 'handWithNft'>>,
  signal: AbortSignal,
): Promise<{ results: IperfResult[]; rtt: Partial<Record<IperfPath, number>> }> {
  const { hosts, rpcA, rpcB } = cluster;
  const which = await runCommand('iperf3', ['--version'], { check: false }).catch(() => undefined);
  if (which?.exitCode !== 0) {
    throw new Error('iperf3 is missing: apt-get install -y iperf3');
  }
  const inspect = async (client: LocalControlClient, ref: string): Promise<Container> => {
    const c = (await callUnary(client.inspectContainer.bind(client), { ref }, `inspect ${ref}`, { timeoutMs: 10_000 }))
      .container;
    if (!c) {
      throw new Error(`no container ${ref}`);
    }
    return c;
  };
  const aContainer = await inspect(rpcA, 'anchor-a').catch(async () => await rpcRun(rpcA, runRequest('anchor-a', '')));
  const bContainer = await inspect(rpcB, 'probe-b');
  const paths: Partial<Record<IperfPath, PathEnds>> = {
    overlay: {
      clientNs: aContainer.namespace,
      serverNs: bContainer.namespace,
      serverIp: (bContainer.networks[0]?.ipv4Address ?? '').split('/')[0] ?? '',
    },
    'hand-vxlan': await buildHandVxlan(hosts, [3, 4]),
    underlay: { clientNs: hosts.host(1).netns, serverNs: hosts.host(2).netns, serverIp: hosts.host(2).underlayIp },
  };
  if (opts.handWithNft) {
    paths['hand-vxlan-nft'] = await buildHandVxlan(hosts, [5, 6]);
    await copyVxmeshNft(hosts.host(2).netns, hosts.host(5).netns, hosts.host(6).underlayIp);
    await copyVxmeshNft(hosts.host(2).netns, hosts.host(6).netns, hosts.host(5).underlayIp);
  }
  const names = (Object.keys(PATH_LABELS) as IperfPath[]).filter((p) => paths[p] !== undefined);
  const ends = (p: IperfPath): PathEnds => {
    const e = paths[p];
    if (!e) {
      throw new Error(`no path ${p}`);
    }
    return e;
  };
  const servers: LineSource[] = [];
  try {
    for (const p of names) {
      servers.push(await startIperfServer(ends(p).serverNs, signal));
    }
    const rtt: Partial<Record<IperfPath, number>> = {};
    for (const p of names) {
      rtt[p] = await rttMs(ends(p), signal);
    }
    const results: IperfResult[] = [];
    for (let round = 0; round < opts.iperfReps; round++) {
      for (const streams of opts.streams) {
        // Rotate the order so no path always runs first (or right after another's load).
        const order = names.map((_, i) => names[(i + round) % names.length] as IperfPath);
        for (const path of order) {
          const r = await iperfOnce(ends(path), opts.iperfSeconds, streams, signal);
          results.push({ path, streams, round, ...r });
          process.stdout.write(
            `  round ${round + 1} P=${streams} ${path.padEnd(14)} ${r.gbps.toFixed(2)} Gbit/s retr ${r.retransmits} cpu snd/rcv ${r.senderCpu.toFixed(0)}/${r.receiverCpu.toFixed(0)} %\n`,
          );
        }
      }
    }
    return { results, rtt };
  } finally {
    for (const s of servers) {
      s.close();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function fmt(ms: number): string {
  return Number.isFinite(ms) ? ms.toFixed(0) : `>${RUN_TIMEOUT_MS}`;
}

function printRunToPing(
  samples: readonly RunToPingSample[],
  cliStartup: { help: number; ps: number } | undefined,
): void {
  console.log(
    '\n(b) vxmesh run on host A → first echo reply from a container on host B (ms; nearest rank, p99 of 50 = max)',
  );
  console.log('case                                   n  fail   min   p50   p90   p99   max');
  const row = (label: string, values: readonly (number | undefined)[]): void => {
    const s = latencyStats(values);
    console.log(
      `${label.padEnd(36)} ${String(s.n).padStart(3)} ${String(s.failures).padStart(5)} ${[s.min, s.p50, s.p90, s.p99, s.max].map((v) => fmt(v).padStart(5)).join(' ')}`,
    );
  };
  for (const aState of ['cold', 'warm'] as const) {
    const cli = samples.filter((s) => s.aState === aState && s.via === 'cli');
    const rpc = samples.filter((s) => s.aState === aState && s.via === 'rpc');
    row(
      `A ${aState}, CLI: from command`,
      cli.map((s) => s.pingMs),
    );
    row(
      `A ${aState}, CLI: from CLI exit (reply)`,
      cli.map((s) => (s.pingMs === undefined ? undefined : s.pingMs - s.replyMs)),
    );
    row(
      `A ${aState}, CLI: command duration`,
      cli.map((s) => s.replyMs),
    );
    row(
      `A ${aState}, RPC: from request`,
      rpc.map((s) => s.pingMs),
    );
    row(
      `A ${aState}, RPC: request → reply`,
      rpc.map((s) => s.replyMs),
    );
  }
  if (cliStartup) {
    console.log(
      `CLI start-up alone (median of 10): \`vxmesh --help\` ${cliStartup.help.toFixed(0)} ms, \`vxmesh ps\` ${cliStartup.ps.toFixed(0)} ms`,
    );
  }
  console.log('\nwhere the time goes (medians, ms after the command / request; n/a = not seen):');
  console.log('case             mgr attached  B fdb  B neigh  A started  reply  first ping  probes sent');
  for (const aState of ['cold', 'warm'] as const) {
    for (const via of ['cli', 'rpc'] as const) {
      const s = samples.filter((x) => x.aState === aState && x.via === via);
      const med = (f: (x: RunToPingSample) => number | undefined): string => {
        const v = s.map(f).filter((x): x is number => x !== undefined);
        return v.length === 0 ? 'n/a' : median(v).toFixed(0);
      };
      console.log(
        `A ${aState}, ${via.toUpperCase()}`.padEnd(17) +
          [
            med((x) => x.attachedMs).padStart(12),
            med((x) => x.bFdbMs).padStart(6),
            med((x) => x.bNeighMs).padStart(8),
            med((x) => x.startedMs).padStart(10),
            med((x) => x.replyMs).padStart(6),
            med((x) => x.pingMs).padStart(11),
            med((x) => x.probesSent).padStart(12),
          ].join(' '),
      );
    }
  }
}

/** Per case: latency statistics of "from command / request" and "from reply". */
export function summariseRunToPing(
  samples: readonly RunToPingSample[],
): Record<string, { fromStart: LatencyStats; fromReply: LatencyStats }> {
  const out: Record<string, { fromStart: LatencyStats; fromReply: LatencyStats }> = {};
  for (const aState of ['cold', 'warm'] as const) {
    for (const via of ['cli', 'rpc'] as const) {
      const s = samples.filter((x) => x.aState === aState && x.via === via);
      out[`${via}-${aState}`] = {
        fromStart: latencyStats(s.map((x) => x.pingMs)),
        fromReply: latencyStats(s.map((x) => (x.pingMs === undefined ? undefined : x.pingMs - x.replyMs))),
      };
    }
  }
  return out;
}

function printIperf(results: readonly IperfResult[], rtt: Partial<Record<IperfPath, number>>): void {
  console.log('\n(c) iperf3 TCP container→container / host→host; Gbit/s median [min–max] over rounds;');
  console.log('    ratios = median [min–max] of per-round ratios (same round, same P); goal overlay ÷ hand ≥ 0.9');
  console.log(
    'P  path                         Gbit/s               ÷ hand VXLAN        ÷ underlay          retr  snd/rcv CPU %  RTT ms',
  );
  const paths = (Object.keys(PATH_LABELS) as IperfPath[]).filter((p) => results.some((r) => r.path === p));
  const rounds = [...new Set(results.map((r) => r.round))];
  const range = (v: readonly number[], digits: number, unit = ''): string =>
    v.length === 0
      ? 'n/a'
      : `${median(v).toFixed(digits)}${unit} [${Math.min(...v).toFixed(digits)}–${Math.max(...v).toFixed(digits)}]`;
  for (const streams of [...new Set(results.map((r) => r.streams))]) {
    for (const path of paths) {
      const mine = results.filter((r) => r.streams === streams && r.path === path);
      const ratio = (other: IperfPath): string => {
        if (other === path) {
          return '—';
        }
        const rs = rounds.flatMap((round) => {
          const x = mine.find((r) => r.round === round)?.gbps;
          const y = results.find((r) => r.round === round && r.streams === streams && r.path === other)?.gbps;
          return x !== undefined && y !== undefined && y > 0 ? [x / y] : [];
        });
        return range(rs, 2, 'x');
      };
      console.log(
        [
          String(streams).padEnd(2),
          PATH_LABELS[path].padEnd(28),
          range(
            mine.map((r) => r.gbps),
            2,
          ).padEnd(20),
          ratio('hand-vxlan').padEnd(19),
          ratio('underlay').padEnd(19),
          median(mine.map((r) => r.retransmits))
            .toFixed(0)
            .padStart(5),
          `${median(mine.map((r) => r.senderCpu)).toFixed(0)}/${median(mine.map((r) => r.receiverCpu)).toFixed(0)}`.padStart(
            14,
          ),
          (rtt[path]?.toFixed(3) ?? 'n/a').padStart(7),
        ].join(' '),
      );
    }
  }
  console.log('RTT: average of 500 pings 5 ms apart after a warm-up, measured once before the rounds.');
}

// ---------------------------------------------------------------------------------------------
// Entry points

/** Builds the cluster, runs the selected parts, prints the tables and a JSON summary, cleans up. */
export async function runDataplaneE2eBench(options: DataplaneE2eOptions = {}): Promise<DataplaneE2eReport> {
  const parts = options.parts ?? ['b', 'c'];
  const runs = options.runs ?? 50;
  const arpRetransMs = options.arpRetransMs ?? 10;
  const probeIntervalMs = options.probeIntervalMs ?? 1;
  const iperfSeconds = options.iperfSeconds ?? 10;
  const iperfReps = options.iperfReps ?? 5;
  const streams = options.streams ?? [1, 4];
  const handWithNft = options.handWithNft ?? true;
  const maxMinutes = options.maxMinutes ?? 30;

  const abort = new AbortController();
  const deadline = setTimeout(
    () => abort.abort(new Error(`--max-minutes ${maxMinutes} exceeded`)),
    maxMinutes * 60_000,
  );
  const onSignal = (sig: NodeJS.Signals): void => abort.abort(new Error(`interrupted by ${sig}`));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const swept = await sweepStaleTestHosts(PREFIX);
  if (swept.length > 0) {
    console.log(`removed ${swept.length} namespaces left by a killed run`);
  }
  // The sweeper leaves the daemons' per-namespace /etc/netns files of those runs behind.
  const liveNs = new Set(await readdir('/run/netns').catch(() => [] as string[]));
  for (const name of await readdir('/etc/netns').catch(() => [] as string[])) {
    if (name.startsWith(PREFIX) && !liveNs.has(name)) {
      await rm(join('/etc/netns', name), { recursive: true, force: true });
    }
  }
  // host0 manager, host1 A, host2 B, host3-4 hand-configured VXLAN, host5-6 the same + nft.
  const hosts = await createTestHosts({ count: parts.includes('c') && handWithNft ? 7 : 5, prefix: PREFIX });
  const daemons: Vxmeshd[] = [];
  let cluster: Cluster | undefined;
  const report: { -readonly [K in keyof DataplaneE2eReport]: DataplaneE2eReport[K] } = {};
  try {
    cluster = await bounded(buildCluster(hosts, daemons), 120_000, 'cluster set-up', abort.signal);
    console.log(`cluster up: manager ${hosts.host(0).netns}, A ${hosts.host(1).netns}, B ${hosts.host(2).netns}`);
    if (parts.includes('b')) {
      report.cliStartupMs = await measureCliStartup(cluster.a);
      report.runToPing = await runToPing(cluster, { runs, arpRetransMs, probeIntervalMs }, abort.signal);
      printRunToPing(report.runToPing, report.cliStartupMs);
    }
    if (parts.includes('c')) {
      console.log(
        `\n(c) iperf3, ${iperfReps} rounds × P=${streams.join(',')} × ${handWithNft ? 4 : 3} paths × ${iperfSeconds} s`,
      );
      const { results, rtt } = await iperfPaths(
        cluster,
        { iperfSeconds, iperfReps, streams, handWithNft },
        abort.signal,
      );
      report.iperf = results;
      report.rttMs = rtt;
      printIperf(results, rtt);
    }
    console.log(
      JSON.stringify({
        options: { runs, arpRetransMs, probeIntervalMs, iperfSeconds, iperfReps, streams, handWithNft },
        cliStartupMs: report.cliStartupMs,
        runToPing: report.runToPing && summariseRunToPing(report.runToPing),
        iperf: report.iperf,
        rttMs: report.rttMs,
      }),
    );
    return report;
  } finally {
    clearTimeout(deadline);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    killChildren();
    cluster?.rpcA.close();
    cluster?.rpcB.close();
    try {
      await destroyAll(daemons);
    } finally {
      await hosts.destroy();
    }
    const left = (await readdir('/run/netns').catch(() => [] as string[])).filter((n) => n.startsWith(hosts.prefix));
    if (left.length > 0) {
      console.error(`namespaces left behind: ${left.join(', ')}`);
    }
  }
}

function parseArgs(argv: readonly string[]): DataplaneE2eOptions {
  const out: { -readonly [K in keyof DataplaneE2eOptions]: DataplaneE2eOptions[K] } = {};
  const num = (i: number, flag: string): number => {
    const v = Number(argv[i]);
    if (!Number.isFinite(v) || v < 0) {
      throw new RangeError(`${flag} needs a non-negative number`);
    }
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] ?? '';
    switch (flag) {
      case '--only':
        out.parts = (argv[++i] ?? '').split(',').filter((p): p is 'b' | 'c' => p === 'b' || p === 'c');
        break;
      case '--runs':
        out.runs = num(++i, flag);
        break;
      case '--arp-retrans-ms':
        out.arpRetransMs = num(++i, flag);
        break;
      case '--probe-interval-ms':
        out.probeIntervalMs = num(++i, flag);
        break;
      case '--iperf-seconds':
        out.iperfSeconds = num(++i, flag);
        break;
      case '--iperf-reps':
        out.iperfReps = num(++i, flag);
        break;
      case '--streams':
        out.streams = (argv[++i] ?? '').split(',').map(Number);
        break;
      case '--no-hand-nft':
        out.handWithNft = false;
        break;
      case '--max-minutes':
        out.maxMinutes = num(++i, flag);
        break;
      default:
        throw new RangeError(`unknown option ${flag}`);
    }
  }
  if (out.runs !== undefined && (!Number.isInteger(out.runs) || out.runs < 1 || out.runs > 200)) {
    throw new RangeError('--runs must be an integer from 1 to 200');
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  if (process.argv[2] === '--prober') {
    await runProber(Number(process.argv[3] ?? '0'));
  } else {
    console.log(`vxmesh dataplane bench (b) + (c): ${new Date().toISOString()}`);
    await runDataplaneE2eBench(parseArgs(process.argv.slice(2)));
  }
}
