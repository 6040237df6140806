/**
 * Dispatcher fan-out benchmark (issue 5): one manager, N simulated agents, endpoint churn.
 *
 *   node --import tsx bench/dispatcher.ts [--agents 100,500,1000] [--seconds 10] [--rate 1000]
 *                                         [--children 2] [--pool 60] [--timeout-min 10]
 *                                         [--enrol-concurrency 4] [--cpu-profile PATH-PREFIX]
 *                                         [--heap-snapshot PATH-PREFIX]
 *
 * Per N, from scratch: an embedded store in a temporary directory, `initializeCluster`, and
 * `Manager.start` on 127.0.0.1 (real gRPC over mutual TLS), in this process. The agents run in
 * `--children` child processes (bench/dispatcher-agents.ts): each child enrols its nodes (one real
 * `joinCluster`, then the same CSR for the rest: see `enrol` there), then opens per node its own
 * mTLS channel with a Session stream, heartbeats and an Assignments stream applied with
 * `AssignmentState`.
 *
 * Workload: 50 overlay networks; agent i has its own endpoint on 1 + (i mod 3) networks picked at
 * random, so ~N/25 agents are interested in each network. 50 "remote" node records (no session)
 * own the churn endpoints: a pool of `--pool` per network is created first, then for `--seconds`
 * the driver commits `--rate` changes/s, alternating puts of new endpoints and deletes of a
 * network's oldest (at least 2 s old), on random networks. Each change is timestamped right before
 * its store call; an (agent, change) pair is received when the agent applies an assignments message
 * carrying that endpoint ID as present (put) or absent (delete). Records are written straight into
 * the store as protobuf, as the dispatcher tests do.
 *
 * Reported per N: commit → receipt delay over every interested (agent, change) pair (p50/p99/max,
 * and pairs never received), messages/s sent by the manager (counted by its outbound hook), manager
 * process CPU (process.cpuUsage delta / wall) and RSS during the churn, and manager memory per
 * idle session: (RSS with N idle sessions - RSS with none) / N after a forced GC, plus the same
 * for V8 heap + external. The manager's process also holds the store and this driver. The RSS
 * figure is only meaningful with hundreds of sessions: at small N, pages the allocator returns to
 * the OS after enrolment swamp it (it can even come out negative); heap + external is steadier,
 * but misses OpenSSL's native memory per connection.
 *
 * The manager's own node runs no agent here, so ~30 s in the manager logs a warning that it missed
 * its heartbeats and marks it Down; that is expected and changes nothing the agents receive.
 *
 * Only 127.0.0.1 is used. A hard time limit (--timeout-min) kills the children, removes the
 * temporary directories and exits with the rows finished so far.
 */
import './dispatcher-env.js';
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Session as InspectorSession } from 'node:inspector/promises';
import { writeFile } from 'node:fs/promises';
import { systemClock } from '../src/common/clock.js';
import { parseHostPort } from '../src/common/net/host-port.js';
import { EmbeddedKvStore } from '../src/kvstore/index.js';
import type { KvStore, TxnOp } from '../src/kvstore/index.js';
import { AssignmentsKind } from '../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint, EndpointKind } from '../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../src/gen/vxmesh/v1/network.js';
import { Node, NodeRole } from '../src/gen/vxmesh/v1/node.js';
import { initializeCluster } from '../src/manager/cluster-init.js';
import { Manager } from '../src/manager/manager.js';
import { encodeMessage } from '../src/manager/store/message-codec.js';
import { storeKeys } from '../src/manager/store/store-keys.js';
import { freePort } from '../test/support/etcd-server.js';
import { benchLogLevel } from './dispatcher-env.js';
import { AGENTS_CHILD_FLAG, CHURN_PREFIX, benchNodeAddr, receiptKey, wallMs } from './dispatcher-agents.js';
import type { AgentsStatus, FromAgents, Receipts, ToAgents } from './dispatcher-agents.js';
import { seededRandom } from '../test/support/seeded-random.js';

const NETWORKS = 50;
const REMOTE_NODES = 50;
/** A churn endpoint is deleted only once it is this old, so its put and delete never share a batch. */
const MIN_ENDPOINT_AGE_MS = 2000;
const IDLE_WINDOW_MS = 5000;
const DRAIN_TIMEOUT_MS = 30_000;
const TXN_BATCH = 100;
const AGENTS_CHILD = join(dirname(fileURLToPath(import.meta.url)), 'dispatcher-agents.ts');

interface Options {
  readonly agents: number[];
  readonly seconds: number;
  readonly rate: number;
  readonly children: number;
  readonly pool: number;
  readonly timeoutMin: number;
  readonly enrolConcurrency: number;
  /** Writes CPU profiles of this process (manager + store + driver): agents connecting, churn. */
  readonly cpuProfile: string | undefined;
  /** Writes heap snapshots of this process with no session and with N idle sessions (skews the RSS figures). */
  readonly heapSnapshot: string | undefined;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const int = (flag: string, fallback: number, min: number, max: number): number => {
    const raw = value(flag);
    const v = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new RangeError(`${flag} must be an integer from ${min} to ${max}`);
    }
    return v;
  };
  const agents = (value('--agents') ?? '100,500,1000').split(',').map(Number);
  if (agents.some((n) => !Number.isInteger(n) || n < 1 || n > 5000)) {
    throw new RangeError('--agents must be a comma-separated list of integers from 1 to 5000');
  }
  return {
    agents,
    seconds: int('--seconds', 10, 1, 300),
    rate: int('--rate', 1000, 1, 20_000),
    children: int('--children', 2, 1, 3),
    pool: int('--pool', 60, 1, 1000),
    timeoutMin: int('--timeout-min', 10, 1, 60),
    enrolConcurrency: int('--enrol-concurrency', 4, 1, 32),
    cpuProfile: value('--cpu-profile'),
    heapSnapshot: value('--heap-snapshot'),
  };
}

/** Forced GC: `--expose-gc` when given, else switched on at run time. */
const gc: () => void = (() => {
  if (typeof globalThis.gc === 'function') {
    const g = globalThis.gc;
    return () => void g();
  }
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();


/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) {
    return Number.NaN;
  }
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

// ---- child processes ------------------------------------------------------------------------

/** Every child started, so the hard stop can kill exactly those. */
const liveChildren = new Set<ChildProcess>();
/** Every temporary directory created, removed at the end or on the hard stop. */
const tempDirs = new Set<string>();

class AgentProcess {
  readonly #child: ChildProcess;
  readonly #waiters: { type: FromAgents['type']; resolve: (m: FromAgents) => void; reject: (e: Error) => void }[] = [];
  #exited = false;

  constructor() {
    this.#child = fork(AGENTS_CHILD, [AGENTS_CHILD_FLAG], {
      execArgv: ['--import', 'tsx'],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, VXMESH_LOG: benchLogLevel ?? 'warn' },
    });
    liveChildren.add(this.#child);
    this.#child.on('message', (raw: unknown) => {
      const m = raw as FromAgents;
      if (m.type === 'failed') {
        this.#waiters.splice(0).forEach((w) => w.reject(new Error(`agent process ${this.#child.pid}: ${m.error}`)));
        return;
      }
      const i = this.#waiters.findIndex((w) => w.type === m.type);
      if (i >= 0) {
        const [w] = this.#waiters.splice(i, 1);
        w?.resolve(m);
      }
    });
    this.#child.on('exit', (code, signal) => {
      this.#exited = true;
      liveChildren.delete(this.#child);
      this.#waiters
        .splice(0)
        .forEach((w) => w.reject(new Error(`agent process ${this.#child.pid} exited (${code ?? signal ?? '?'})`)));
    });
  }

  request<T extends FromAgents['type']>(
    message: ToAgents,
    reply: T,
    timeoutMs: number,
  ): Promise<Extract<FromAgents, { type: T }>> {
    return new Promise((resolve, reject) => {
      if (this.#exited) {
        reject(new Error(`agent process ${this.#child.pid} has exited`));
        return;
      }
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) {
          this.#waiters.splice(i, 1);
        }
        reject(new Error(`agent process ${this.#child.pid}: no '${reply}' reply within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        type: reply,
        resolve: (m: FromAgents) => {
          clearTimeout(timer);
          resolve(m as Extract<FromAgents, { type: T }>);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#waiters.push(waiter);
      this.#child.send(message);
    });
  }

  status(): Promise<AgentsStatus> {
    return this.request({ type: 'status' }, 'status', 30_000).then((m) => m.status);
  }

  /** Asks the child to close its agents and exit; kills it if it does not within 5 s. */
  async stop(): Promise<void> {
    if (this.#exited) {
      return;
    }
    const exited = new Promise<void>((resolve) => this.#child.once('exit', () => resolve()));
    await this.request({ type: 'stop' }, 'stopped', 5000).catch(() => undefined);
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function sumStatus(all: readonly AgentsStatus[]): AgentsStatus {
  return all.reduce(
    (a, s) => ({
      agents: a.agents + s.agents,
      sessions: a.sessions + s.sessions,
      synced: a.synced + s.synced,
      messages: a.messages + s.messages,
      completes: a.completes + s.completes,
      changes: a.changes + s.changes,
      gaps: a.gaps + s.gaps,
      errors: a.errors + s.errors,
      lastError: s.lastError || a.lastError,
      receipts: a.receipts + s.receipts,
      cpuUs: a.cpuUs + s.cpuUs,
      rssBytes: a.rssBytes + s.rssBytes,
    }),
    {
      agents: 0,
      sessions: 0,
      synced: 0,
      messages: 0,
      completes: 0,
      changes: 0,
      gaps: 0,
      errors: 0,
      lastError: '',
      receipts: 0,
      cpuUs: 0,
      rssBytes: 0,
    },
  );
}

async function statusOf(procs: readonly AgentProcess[]): Promise<AgentsStatus> {
  return sumStatus(await Promise.all(procs.map((p) => p.status())));
}

/** Polls the children until `done(status)` or `timeoutMs`; also gives up after `stallMs` without progress. */
async function waitForAgents(
  procs: readonly AgentProcess[],
  done: (s: AgentsStatus) => boolean,
  progress: (s: AgentsStatus) => number,
  timeoutMs: number,
  stallMs = Number.POSITIVE_INFINITY,
): Promise<{ status: AgentsStatus; reached: boolean }> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  let lastMoved = Date.now();
  for (;;) {
    const status = await statusOf(procs);
    if (done(status)) {
      return { status, reached: true };
    }
    const p = progress(status);
    if (p !== last) {
      last = p;
      lastMoved = Date.now();
    }
    if (Date.now() > deadline || Date.now() - lastMoved > stallMs) {
      return { status, reached: false };
    }
    await sleep(250);
  }
}

// ---- store records --------------------------------------------------------------------------

async function putAll(store: KvStore, ops: TxnOp[]): Promise<void> {
  for (let i = 0; i < ops.length; i += TXN_BATCH) {
    await store.txn({ compare: [], success: ops.slice(i, i + TXN_BATCH) });
  }
}

const networkId = (j: number): string => `bench-net-${j}`;
const remoteNodeId = (r: number): string => `bench-remote-${r}`;

function networkOp(j: number): TxnOp {
  const network = Network.fromPartial({
    id: networkId(j),
    name: networkId(j),
    driver: 'overlay',
    attachable: true,
    subnets: [{ subnet: `10.${j}.0.0/16`, gateway: `10.${j}.0.1`, vni: 4096 + j }],
  });
  return { type: 'put', key: storeKeys.network(network.id), value: encodeMessage(Network, network) };
}

function remoteNodeOp(r: number): TxnOp {
  // Status left unspecified: never Ready, so the liveness check never touches these records.
  const node = Node.fromPartial({
    id: remoteNodeId(r),
    hostname: remoteNodeId(r),
    role: NodeRole.NODE_ROLE_WORKER,
    advertiseAddr: `${benchNodeAddr(r, 2)}:2377`,
    dataPathAddr: benchNodeAddr(r, 2),
  });
  return { type: 'put', key: storeKeys.node(node.id), value: encodeMessage(Node, node) };
}

function endpointValue(id: string, j: number, nodeId: string, host: number): Uint8Array {
  const endpoint = Endpoint.fromPartial({
    id,
    networkId: networkId(j),
    nodeId,
    kind: EndpointKind.ENDPOINT_KIND_CONTAINER,
    ownerId: `c-${id}`,
    ownerName: id,
    ipv4Address: `10.${j}.${(host >> 8) & 255}.${host & 255}/16`,
    macAddress: `02:42:0a:${j.toString(16).padStart(2, '0')}:${((host >> 8) & 255).toString(16).padStart(2, '0')}:${(host & 255).toString(16).padStart(2, '0')}`,
  });
  return encodeMessage(Endpoint, endpoint);
}

// ---- one run --------------------------------------------------------------------------------

/** Starts a CPU profile of this process when `prefix` is set; the returned function writes it. */
async function startProfile(
  prefix: string | undefined,
  phase: string,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  if (prefix === undefined) {
    return () => Promise.resolve();
  }
  const session = new InspectorSession();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    const file = `${prefix}.${phase}.cpuprofile`;
    await writeFile(file, JSON.stringify(profile));
    session.disconnect();
    log(`  CPU profile of ${phase} written to ${file}`);
  };
}

interface MemorySample {
  readonly rss: number;
  readonly heap: number;
}

async function settledMemory(): Promise<MemorySample> {
  gc();
  await sleep(300);
  gc();
  await sleep(300);
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed + m.external };
}

export interface RunResult {
  readonly agents: number;
  readonly synced: number;
  readonly enrolS: number;
  readonly connectS: number;
  readonly changes: number;
  readonly changesPerSec: number;
  readonly windowMs: number;
  /** Largest delay of the driver's 5 ms timer: how busy the manager's event loop was. */
  readonly driverLagMaxMs: number;
  readonly pairs: number;
  readonly received: number;
  readonly lost: number;
  readonly unexpected: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly messagesPerSec: number;
  readonly changesPerMessage: number;
  readonly managerCpuPct: number;
  readonly idleCpuPct: number;
  readonly agentsCpuPct: number;
  readonly managerRssMiB: number;
  readonly managerPeakRssMiB: number;
  readonly idleSessionRssKiB: number;
  readonly idleSessionHeapKiB: number;
  readonly itemsPerSession: number;
  readonly gaps: number;
  readonly completes: number;
  readonly errors: number;
  readonly lastError: string;
  readonly note: string;
}

const MiB = 1024 * 1024;

async function runOne(n: number, opts: Options, log: (line: string) => void): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-bench-dispatcher-'));
  tempDirs.add(dir);
  const store = await EmbeddedKvStore.open({ path: join(dir, 'store.db') });
  let manager: Manager | undefined;
  const procs: AgentProcess[] = [];
  try {
    const addr = `127.0.0.1:${await freePort()}`;
    const init = await initializeCluster(
      store,
      { hostname: 'bench-manager', advertiseAddr: addr, dataPathAddr: '127.0.0.1' },
      systemClock,
    );
    const sent = { messages: 0, changes: 0, completes: 0, completeItems: 0 };
    manager = await Manager.start({
      store,
      nodeId: init.nodeId,
      identity: init.identity,
      listen: parseHostPort(addr, 2377, 'listen'),
      advertiseAddr: addr,
      clock: systemClock,
      dispatcherTuning: {
        // Counts only; never drops.
        outboundFilter: (_node, m) => {
          sent.messages++;
          sent.changes += m.changes.length;
          if (m.kind === AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE) {
            sent.completes++;
            sent.completeItems += m.changes.length;
          }
          return true;
        },
      },
    });
    const view = manager.view;
    await putAll(store, [
      ...Array.from({ length: NETWORKS }, (_, j) => networkOp(j)),
      ...Array.from({ length: REMOTE_NODES }, (_, r) => remoteNodeOp(r)),
    ]);

    // Enrol: agents split evenly over the children.
    const childCount = Math.min(opts.children, n);
    const enrolStart = wallMs();
    const ranges: { first: number; count: number }[] = [];
    for (let c = 0, first = 0; c < childCount; c++) {
      const count = Math.floor(n / childCount) + (c < n % childCount ? 1 : 0);
      ranges.push({ first, count });
      first += count;
    }
    for (let c = 0; c < childCount; c++) {
      procs.push(new AgentProcess());
    }
    const enrolled = await Promise.all(
      procs.map((p, c) =>
        p.request(
          {
            type: 'enrol',
            managerAddr: addr,
            token: init.tokens.worker,
            first: ranges[c]?.first ?? 0,
            count: ranges[c]?.count ?? 0,
            concurrency: opts.enrolConcurrency,
          },
          'enrolled',
          Math.max(120_000, n * 500),
        ),
      ),
    );
    const nodeIds = enrolled.flatMap((e) => e.nodeIds);
    const enrolS = (wallMs() - enrolStart) / 1000;
    log(`  N=${n}: enrolled ${nodeIds.length} nodes in ${enrolS.toFixed(1)} s`);

    // Layout: agent i on 1 + (i mod 3) distinct random networks.
    const rng = seededRandom(0x5eed + n);
    const members: number[][] = Array.from({ length: NETWORKS }, () => []);
    const memberOf = new Uint8Array(n * NETWORKS);
    const ownOps: TxnOp[] = [];
    for (let i = 0; i < n; i++) {
      const picked = new Set<number>();
      while (picked.size < 1 + (i % 3)) {
        picked.add(Math.floor(rng() * NETWORKS));
      }
      for (const j of picked) {
        members[j]?.push(i);
        memberOf[i * NETWORKS + j] = 1;
        const id = `own-${i}-${j}`;
        ownOps.push({
          type: 'put',
          key: storeKeys.endpoint(id),
          value: endpointValue(id, j, nodeIds[i] ?? '', 256 + i),
        });
      }
    }
    await putAll(store, ownOps);
    while (view.endpoints.size < ownOps.length) {
      await sleep(20);
    }

    // Memory with no session, then with N idle sessions.
    const before = await settledMemory();
    const snapshot = (phase: string): void => {
      if (opts.heapSnapshot !== undefined) {
        log(
          `  N=${n}: heap snapshot written to ${writeHeapSnapshot(`${opts.heapSnapshot}.n${n}.${phase}.heapsnapshot`)}`,
        );
      }
    };
    snapshot('no-sessions');
    const connectProfile = await startProfile(opts.cpuProfile, `n${n}.connect`, log);
    const connectStart = wallMs();
    await Promise.all(procs.map((p) => p.request({ type: 'connect' }, 'status', 30_000)));
    const connected = await waitForAgents(
      procs,
      (s) => s.synced >= n,
      (s) => s.synced,
      Math.max(60_000, n * 200),
      30_000,
    );
    const connectS = (wallMs() - connectStart) / 1000;
    await connectProfile();
    log(`  N=${n}: ${connected.status.synced}/${n} agents synced in ${connectS.toFixed(1)} s`);
    if (!connected.reached) {
      throw new Error(
        `only ${connected.status.synced} of ${n} agents got their COMPLETE (${connected.status.lastError})`,
      );
    }
    const idleCpu0 = process.cpuUsage();
    const idleT0 = wallMs();
    await sleep(IDLE_WINDOW_MS);
    const idleCpu = process.cpuUsage(idleCpu0);
    const idleCpuPct = ((idleCpu.user + idleCpu.system) / 1000 / (wallMs() - idleT0)) * 100;
    const idle = await settledMemory();
    snapshot('idle-sessions');
    const idleSessionRssKiB = (idle.rss - before.rss) / n / 1024;
    const idleSessionHeapKiB = (idle.heap - before.heap) / n / 1024;
    // What the idle sessions' COMPLETEs carried: the per-session "sent" state grows with it.
    const itemsPerSession = sent.completes > 0 ? sent.completeItems / sent.completes : 0;
    log(
      `  N=${n}: idle sessions: ${idleSessionRssKiB.toFixed(1)} KiB RSS, ${idleSessionHeapKiB.toFixed(1)} KiB heap+external each (${itemsPerSession.toFixed(0)} assignment items per session); idle CPU ${idleCpuPct.toFixed(1)}%`,
    );

    // Churn endpoints: seq numbers every put; its network and put time are kept by seq.
    const capacity = NETWORKS * opts.pool + opts.rate * opts.seconds + 16;
    const seqNetwork = new Int32Array(capacity);
    const seqPutAt = new Float64Array(capacity);
    const pools: number[][] = Array.from({ length: NETWORKS }, () => []);
    let nextSeq = 0;
    let expectedReceipts = 0;
    const churnOp = (j: number): TxnOp => {
      const seq = nextSeq++;
      seqNetwork[seq] = j;
      pools[j]?.push(seq);
      expectedReceipts += members[j]?.length ?? 0;
      const id = `${CHURN_PREFIX}${seq}`;
      return {
        type: 'put',
        key: storeKeys.endpoint(id),
        value: endpointValue(id, j, remoteNodeId(seq % REMOTE_NODES), 10_000 + seq),
      };
    };
    const prefill: TxnOp[] = [];
    for (let k = 0; k < opts.pool; k++) {
      for (let j = 0; j < NETWORKS; j++) {
        prefill.push(churnOp(j));
      }
    }
    await putAll(store, prefill);
    seqPutAt.fill(wallMs() - MIN_ENDPOINT_AGE_MS, 0, nextSeq);
    const prefilled = await waitForAgents(
      procs,
      (s) => s.receipts >= expectedReceipts,
      (s) => s.receipts,
      60_000,
      10_000,
    );
    if (!prefilled.reached) {
      log(`  N=${n}: prefill: ${prefilled.status.receipts}/${expectedReceipts} receipts; going on`);
    }
    await sleep(1000);

    // Churn.
    const changeCap = opts.rate * opts.seconds + 16;
    const changeSeq = new Int32Array(changeCap);
    const changePresent = new Uint8Array(changeCap);
    const changeAt = new Float64Array(changeCap);
    let issued = 0;
    let pendingWrites = 0;
    let writeErrors = 0;
    let lastWriteError = '';
    const settle = (p: Promise<unknown>): void => {
      pendingWrites++;
      p.then(
        () => pendingWrites--,
        (err: unknown) => {
          pendingWrites--;
          writeErrors++;
          lastWriteError = err instanceof Error ? err.message : String(err);
        },
      );
    };
    const change = (): void => {
      const j = Math.floor(rng() * NETWORKS);
      const pool = pools[j] ?? [];
      const oldest = pool[0];
      const now = wallMs();
      if (issued % 2 === 1 && oldest !== undefined && now - (seqPutAt[oldest] ?? now) >= MIN_ENDPOINT_AGE_MS) {
        pool.shift();
        expectedReceipts += members[j]?.length ?? 0;
        changeSeq[issued] = oldest;
        changePresent[issued] = 0;
        changeAt[issued] = wallMs();
        settle(store.delete(storeKeys.endpoint(`${CHURN_PREFIX}${oldest}`)));
      } else {
        const op = churnOp(j);
        const seq = nextSeq - 1;
        changeSeq[issued] = seq;
        changePresent[issued] = 1;
        const at = wallMs();
        seqPutAt[seq] = at;
        changeAt[issued] = at;
        if (op.type === 'put') {
          settle(store.put(op.key, op.value));
        }
      }
      issued++;
    };
    const churnProfile = await startProfile(opts.cpuProfile, `n${n}.churn`, log);
    const agentsBefore = await statusOf(procs);
    const sent0 = { ...sent };
    let peakRss = process.memoryUsage.rss();
    const cpu0 = process.cpuUsage();
    const start = wallMs();
    const end = start + opts.seconds * 1000;
    let lagMaxMs = 0;
    await new Promise<void>((resolve) => {
      let ticks = 0;
      let lastTick = start;
      const timer = setInterval(() => {
        const now = wallMs();
        // How late this 5 ms tick is: the event loop of the manager's process at work.
        lagMaxMs = Math.max(lagMaxMs, now - lastTick - 5);
        lastTick = now;
        const due = Math.min(changeCap - 16, Math.floor(((Math.min(now, end) - start) * opts.rate) / 1000));
        while (issued < due) {
          change();
        }
        if (++ticks % 20 === 0) {
          peakRss = Math.max(peakRss, process.memoryUsage.rss());
        }
        if (now >= end) {
          clearInterval(timer);
          resolve();
        }
      }, 5);
    });
    const wall = wallMs() - start;
    const cpu = process.cpuUsage(cpu0);
    const sentDuring = { messages: sent.messages - sent0.messages, changes: sent.changes - sent0.changes };
    const agentsAfter = await statusOf(procs);
    await churnProfile();
    while (pendingWrites > 0) {
      await sleep(10);
    }
    if (writeErrors > 0) {
      throw new Error(`${writeErrors} store writes failed: ${lastWriteError}`);
    }
    const drained = await waitForAgents(
      procs,
      (s) => s.receipts >= expectedReceipts,
      (s) => s.receipts,
      DRAIN_TIMEOUT_MS,
      5000,
    );
    peakRss = Math.max(peakRss, process.memoryUsage.rss());

    // Match receipts: first receipt per (agent, change).
    const reports = await Promise.all(procs.map((p) => p.request({ type: 'report' }, 'report', 60_000)));
    const final = sumStatus(reports.map((r) => r.status));
    const KEYSPACE = 2 ** 24;
    const firstAt = new Map<number, number>();
    let unexpected = 0;
    const scan = (r: Receipts): void => {
      for (let k = 0; k < r.agent.length; k++) {
        const agent = r.agent[k] ?? 0;
        const key = r.key[k] ?? 0;
        const at = r.at[k] ?? 0;
        if (memberOf[agent * NETWORKS + (seqNetwork[Math.floor(key / 2)] ?? 0)] !== 1) {
          unexpected++;
        }
        const id = agent * KEYSPACE + key;
        const prev = firstAt.get(id);
        if (prev === undefined || at < prev) {
          firstAt.set(id, at);
        }
      }
    };
    reports.forEach((r) => scan(r.receipts));
    let pairs = 0;
    for (let c = 0; c < issued; c++) {
      pairs += members[seqNetwork[changeSeq[c] ?? 0] ?? 0]?.length ?? 0;
    }
    const delays = new Float64Array(pairs);
    let received = 0;
    for (let c = 0; c < issued; c++) {
      const seq = changeSeq[c] ?? 0;
      const key = receiptKey(seq, changePresent[c] === 1);
      const at0 = changeAt[c] ?? 0;
      for (const agent of members[seqNetwork[seq] ?? 0] ?? []) {
        const at = firstAt.get(agent * KEYSPACE + key);
        if (at !== undefined) {
          delays[received++] = at - at0;
        }
      }
    }
    const sorted = delays.subarray(0, received).sort();
    return {
      agents: n,
      synced: connected.status.synced,
      enrolS,
      connectS,
      changes: issued,
      // All changes due in the window are issued (late ticks catch up), so this is the offered rate.
      changesPerSec: issued / opts.seconds,
      windowMs: wall,
      driverLagMaxMs: lagMaxMs,
      pairs,
      received,
      lost: pairs - received,
      unexpected,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      maxMs: sorted.length > 0 ? (sorted[sorted.length - 1] ?? NaN) : NaN,
      messagesPerSec: (sentDuring.messages / wall) * 1000,
      changesPerMessage: sentDuring.messages > 0 ? sentDuring.changes / sentDuring.messages : 0,
      managerCpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
      idleCpuPct,
      agentsCpuPct: ((agentsAfter.cpuUs - agentsBefore.cpuUs) / 1000 / wall) * 100,
      managerRssMiB: process.memoryUsage.rss() / MiB,
      managerPeakRssMiB: peakRss / MiB,
      idleSessionRssKiB,
      idleSessionHeapKiB,
      itemsPerSession,
      gaps: final.gaps,
      completes: final.completes,
      errors: final.errors,
      lastError: final.lastError,
      note: drained.reached ? '' : `drain stopped at ${drained.status.receipts}/${expectedReceipts} receipts`,
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await manager?.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
}

// ---- report ---------------------------------------------------------------------------------

function table(rows: readonly RunResult[]): string {
  const head = [
    'N',
    'changes/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'lost',
    'msgs/s',
    'chg/msg',
    'mgr CPU',
    'idle CPU',
    'agents CPU',
    'mgr RSS MiB',
    'KiB/idle sess RSS',
    'KiB/idle sess heap',
    'items/sess',
    'loop lag ms',
    'connect s',
  ];
  const cells = rows.map((r) => [
    String(r.agents),
    r.changesPerSec.toFixed(0),
    r.p50Ms.toFixed(0),
    r.p99Ms.toFixed(0),
    r.maxMs.toFixed(0),
    `${r.lost}/${r.pairs}`,
    r.messagesPerSec.toFixed(0),
    r.changesPerMessage.toFixed(1),
    `${r.managerCpuPct.toFixed(0)}%`,
    `${r.idleCpuPct.toFixed(1)}%`,
    `${r.agentsCpuPct.toFixed(0)}%`,
    `${r.managerRssMiB.toFixed(0)} (peak ${r.managerPeakRssMiB.toFixed(0)})`,
    r.idleSessionRssKiB.toFixed(1),
    r.idleSessionHeapKiB.toFixed(1),
    r.itemsPerSession.toFixed(0),
    r.driverLagMaxMs.toFixed(0),
    r.connectS.toFixed(1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]): string => c.map((v, i) => v.padStart(widths[i] ?? 0)).join('  ');
  return [line(head), ...cells.map(line)].join('\n');
}

function cleanupNow(): void {
  for (const child of liveChildren) {
    child.kill('SIGKILL');
  }
  for (const dir of tempDirs) {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const rows: RunResult[] = [];
  const failures: string[] = [];
  const log = (line: string): void => console.error(line);
  const finish = (reason: string): void => {
    console.log(table(rows));
    console.log(`largest N reached: ${rows.at(-1)?.agents ?? 'none'}${reason ? ` (${reason})` : ''}`);
  };
  const hardStop = setTimeout(() => {
    log(`hard time limit of ${opts.timeoutMin} min reached; stopping`);
    cleanupNow();
    finish(`stopped by the ${opts.timeoutMin}-minute limit during the next N`);
    process.exit(2);
  }, opts.timeoutMin * 60_000);
  // A crash of the manager (it runs in this process) still kills the children and removes the files.
  const crash = (err: unknown): void => {
    console.error('benchmark process crashed:', err);
    cleanupNow();
    finish('crashed; see the error above');
    process.exit(1);
  };
  process.once('uncaughtException', crash);
  process.once('unhandledRejection', crash);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      cleanupNow();
      finish(`interrupted by ${signal}`);
      process.exit(130);
    });
  }
  console.log(
    `vxmesh dispatcher benchmark ${new Date().toISOString()}: agents ${opts.agents.join(',')}, ${opts.rate} changes/s for ${opts.seconds} s, ` +
      `${NETWORKS} networks, ${opts.pool} churn endpoints per network, ${opts.children} agent processes, load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  try {
    for (const n of opts.agents) {
      try {
        const r = await runOne(n, opts, log);
        rows.push(r);
        log(
          `  N=${n}: p50 ${r.p50Ms.toFixed(0)} ms p99 ${r.p99Ms.toFixed(0)} ms max ${r.maxMs.toFixed(0)} ms, lost ${r.lost}/${r.pairs}, ` +
            `unexpected ${r.unexpected}, gaps ${r.gaps}, COMPLETEs ${r.completes}, agent errors ${r.errors}${r.lastError ? ` (${r.lastError})` : ''}${r.note ? `; ${r.note}` : ''}`,
        );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        failures.push(`N=${n}: ${message}`);
        log(`  N=${n} failed: ${message}`);
        break;
      }
    }
  } finally {
    clearTimeout(hardStop);
    cleanupNow();
  }
  finish(failures.join('; '));
  console.log(JSON.stringify({ options: opts, results: rows, failures }));
}

await main();
