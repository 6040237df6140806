/**
 * The faults of issue 10 and the driver that injects one at a time while the workload runs,
 * measures what users see, waits for the cluster to recover, and prints one summary line.
 *
 * Times are measured from the test process by polling through the CLI (every 250-500 ms), so
 * they carry that much resolution plus a CLI start-up (~150 ms).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { EtcdMember } from '../support/etcd-cluster.js';
import type { FaultCluster } from './fault-cluster.js';
import { MANAGERS, WORKERS } from './fault-cluster.js';
import { BASE_NETWORK, SERVICE } from './workload.js';
import type { Workload } from './workload.js';

export type FaultName =
  'leader-kill' | 'leader-pause' | 'etcd-member-kill' | 'etcd-leader-kill' | 'quorum-loss' | 'partition' | 'agent-kill';

export const ALL_FAULTS: readonly FaultName[] = [
  'leader-kill',
  'leader-pause',
  'etcd-member-kill',
  'etcd-leader-kill',
  'quorum-loss',
  'partition',
  'agent-kill',
];

/** What one fault measured. */
export interface FaultResult {
  readonly fault: FaultName;
  /** From injection to heal (restart, SIGCONT, rule removed). */
  readonly durationMs: number;
  /** Longest run of failed probe writes through live managers, from its first failure to the next success. */
  readonly writeGapMs: number;
  /** Injection to the first probe write that succeeded after the last failure (0: none failed). */
  readonly writesBackMs: number;
  /** Heal to every node Ready, one Leader, every manager Reachable. */
  readonly recoveryMs: number;
  /** Leader faults: injection to a new leader in `node ls`. */
  readonly newLeaderMs?: number;
  /** Nodes seen Down during the fault (hostnames), besides an expected victim. */
  readonly downSeen: readonly string[];
  /** Leader faults: tasks of the service replaced meanwhile (must be none). */
  readonly rescheduled?: number;
  /** Workload operations during the fault: acknowledged / issued. */
  readonly ops: { readonly acked: number; readonly total: number };
  /** Fault-specific observations (errors users saw, dataplane checks). */
  readonly notes: readonly string[];
  readonly line: string;
}

interface Probe {
  stop(): Promise<void>;
  /** Longest failure streak so far, and when writes came back after the last failure. */
  readonly gapMs: number;
  readonly backAt: number | undefined;
  readonly lastError: string;
  readonly downSeen: Set<string>;
}

export class FaultDriver {
  readonly #c: FaultCluster;
  readonly #w: Workload;
  readonly #random: () => number;
  #probeSeq = 0;

  constructor(cluster: FaultCluster, workload: Workload, random: () => number) {
    this.#c = cluster;
    this.#w = workload;
    this.#random = random;
  }

  #liveManager(except?: number): number {
    const m = MANAGERS.find((i) => i !== except && this.#w.live.has(i));
    if (m === undefined) {
      throw new Error('no live manager');
    }
    return m;
  }

  #member(index: number): EtcdMember {
    const m = this.#c.etcd.members[index];
    if (!m) {
      throw new Error(`no etcd member ${index}`);
    }
    return m;
  }

  async #leader(except?: number): Promise<number> {
    const via = this.#liveManager(except);
    const leader = await this.#c.leaderOf(via);
    if (leader === undefined) {
      throw new Error(`manager host${via} reports no leader`);
    }
    return leader;
  }

  /** Running task IDs of the service (via a live manager). */
  async #runningTasks(): Promise<Set<string>> {
    const out = await this.#c
      .daemon(this.#liveManager())
      .cliOk(['service', 'ps', SERVICE, '--filter', 'desired-state=running', '-q', '--no-trunc']);
    return new Set(out.split('\n').filter((l) => l.trim() !== ''));
  }

  /**
   * Writes through a live manager every `intervalMs` (toggling a worker's availability between
   * active and pause does not move tasks) and watches `node ls` for nodes that turn Down.
   */
  #probe(victim: number | undefined, intervalMs = 400): Probe {
    const state = {
      gapMs: 0,
      backAt: undefined as number | undefined,
      lastError: '',
      downSeen: new Set<string>(),
      failingSince: undefined as number | undefined,
    };
    const abort = new AbortController();
    const loop = (async () => {
      for (let i = 0; i < 1000 && !abort.signal.aborted; i++) {
        const via = MANAGERS.find((m) => m !== victim && this.#w.live.has(m)) ?? 0;
        const availability = this.#probeSeq++ % 2 === 0 ? 'pause' : 'active';
        const started = Date.now();
        const res = await this.#c
          .daemon(via)
          .cli(['node', 'update', '--availability', availability, `host${WORKERS[0]}`], { timeoutMs: 15_000 })
          .catch((err: unknown) => ({ code: null, stdout: '', stderr: String(err) }));
        const now = Date.now();
        if (res.code === 0) {
          if (state.failingSince !== undefined) {
            state.gapMs = Math.max(state.gapMs, now - state.failingSince);
            state.backAt = now;
            state.failingSince = undefined;
          }
        } else {
          // Unavailable since the failed call was sent: a call may hang for etcd's request timeout.
          state.failingSince ??= started;
          state.lastError = res.stderr.trim().split('\n')[0] ?? '';
        }
        if (i % 3 === 0) {
          const rows = await this.#c.nodeLs(via);
          for (const r of rows ?? []) {
            if (r.status === 'Down' && r.hostname !== `host${victim ?? -1}`) {
              state.downSeen.add(r.hostname);
            }
          }
        }
        await sleep(intervalMs, undefined, { signal: abort.signal }).catch(() => undefined);
      }
    })();
    return {
      async stop() {
        abort.abort();
        await loop;
        if (state.failingSince !== undefined) {
          state.gapMs = Math.max(state.gapMs, Date.now() - state.failingSince);
        }
      },
      get gapMs() {
        return state.gapMs;
      },
      get backAt() {
        return state.backAt;
      },
      get lastError() {
        return state.lastError;
      },
      downSeen: state.downSeen,
    };
  }

  async #restoreProbeNode(): Promise<void> {
    await this.#c
      .daemon(this.#liveManager())
      .cli(['node', 'update', '--availability', 'active', `host${WORKERS[0]}`])
      .catch(() => undefined);
  }

  /** Ping and DNS between two base-network containers on different hosts; a note line. */
  async #dataplaneCheck(): Promise<string> {
    const running = [...this.#w.containers.values()].filter(
      (c) => c.state === 'running' && c.pinned && c.network === BASE_NETWORK && this.#w.live.has(c.host),
    );
    const a = running[0];
    const b = running.find((c) => c.host !== a?.host);
    if (!a || !b) {
      return 'dataplane: no pair to check';
    }
    const dig = await this.#c
      .daemon(a.host)
      .cli(['exec', a.name, '--', 'dig', '+short', '+tries=1', '+time=1', b.name]);
    const ip = dig.stdout.trim();
    const ping = ip
      ? await this.#c.daemon(a.host).cli(['exec', a.name, '--', 'ping', '-c', '1', '-W', '1', ip])
      : { code: 1 };
    return `dataplane ${a.name}@host${a.host} -> ${b.name}@host${b.host}: dns ${ip ? 'ok' : 'FAILED'}, ping ${ping.code === 0 ? 'ok' : 'FAILED'}`;
  }

  async run(fault: FaultName): Promise<FaultResult> {
    const notes: string[] = [];
    const opsBefore = this.#w.ops.length;
    // Leader faults check that no task moves: the workload must not scale meanwhile.
    const leaderFault = fault === 'leader-kill' || fault === 'leader-pause';
    const workloadAbort = new AbortController();
    const before = leaderFault ? await this.#runningTasks() : undefined;
    let victim: number | undefined;
    let newLeaderMs: number | undefined;
    let t0 = Date.now();
    let healedAt = t0;
    let probe: Probe | undefined;
    const startWorkload = (): Promise<void> =>
      this.#w.runUntil(workloadAbort.signal, 300, 500, { scale: !leaderFault });
    let workload: Promise<void> | undefined;
    try {
      switch (fault) {
        case 'leader-kill':
        case 'leader-pause': {
          victim = await this.#leader();
          const v = victim;
          workload = startWorkload();
          t0 = Date.now();
          probe = this.#probe(v);
          this.#w.live.delete(v);
          if (fault === 'leader-kill') {
            await this.#c.daemon(v).kill('SIGKILL');
          } else {
            await this.#c.daemon(v).kill('SIGSTOP');
          }
          const other = this.#liveManager(v);
          const next = await waitUntil(
            async () => {
              const l = await this.#c.leaderOf(other);
              return l !== undefined && l !== v ? l : undefined;
            },
            4 * this.#c.leaseMs,
            200,
          );
          newLeaderMs = Date.now() - t0;
          notes.push(`leader host${v} -> host${next}`);
          if (fault === 'leader-pause') {
            // Paused well past its lease, as a long GC pause or a frozen VM would be.
            await sleep(Math.max(0, this.#c.leaseMs + 2 * this.#c.heartbeatMs - (Date.now() - t0)));
            healedAt = Date.now();
            await this.#c.daemon(v).kill('SIGCONT');
          } else {
            // As systemd's Restart=on-failure would, once the failover has happened.
            healedAt = Date.now();
            await this.#c.daemon(v).restart();
          }
          this.#w.live.add(v);
          break;
        }
        case 'etcd-member-kill':
        case 'etcd-leader-kill': {
          const leader = await this.#c.etcd.leaderIndex();
          const followers = MANAGERS.filter((m) => m !== leader);
          const member =
            fault === 'etcd-leader-kill' ? leader : followers[Math.floor(this.#random() * followers.length)];
          if (member === undefined) {
            throw new Error('etcd has no leader before the fault');
          }
          workload = startWorkload();
          t0 = Date.now();
          probe = this.#probe(undefined);
          await this.#member(member).crash();
          notes.push(`killed etcd m${member}${fault === 'etcd-leader-kill' ? ' (leader)' : ''}`);
          await sleep(4000);
          healedAt = Date.now();
          await this.#member(member).restart();
          break;
        }
        case 'quorum-loss': {
          const leader = (await this.#c.etcd.leaderIndex()) ?? 0;
          const down = [leader, (leader + 1) % 3];
          workload = startWorkload();
          t0 = Date.now();
          probe = this.#probe(undefined);
          await Promise.all(down.map((m) => this.#member(m).crash()));
          notes.push(`killed etcd m${down.join(' and m')}`);
          const p = probe;
          await waitUntil(() => Promise.resolve(p.lastError === '' ? undefined : true), 15_000, 200);
          notes.push(`writes refused with: "${p.lastError}" after ${((Date.now() - t0) / 1000).toFixed(1)}s`);
          notes.push(await this.#dataplaneCheck());
          await sleep(Math.max(0, 6000 - (Date.now() - t0)));
          healedAt = Date.now();
          await Promise.all(down.map((m) => this.#member(m).restart()));
          break;
        }
        case 'partition': {
          victim = WORKERS[Math.floor(this.#random() * WORKERS.length)] ?? 3;
          const v = victim;
          // A container to remove while the node cannot reach the managers (below).
          await this.#w.runContainer(v, BASE_NETWORK);
          workload = startWorkload();
          t0 = Date.now();
          probe = this.#probe(v);
          const managers = MANAGERS.map((m) => this.#c.hosts.host(m).underlayIp).join(', ');
          const rules =
            'table inet vxt_partition {\n' +
            `  chain in { type filter hook input priority -10; ip saddr { ${managers} } tcp sport 2377 drop; }\n` +
            `  chain out { type filter hook output priority -10; ip daddr { ${managers} } tcp dport 2377 drop; }\n` +
            '}\n';
          await this.#c.hosts.exec(v, 'nft', ['-f', '-'], { input: rules });
          // Longer than the heartbeat timeout: the managers mark the node Down meanwhile.
          await sleep(3 * this.#c.heartbeatMs + 2000);
          notes.push(`partitioned host${v} from the managers; ${await this.#dataplaneCheck()}`);
          // rm succeeds; the endpoint becomes a pending detach, released after the heal (the end
          // check fails while the endpoint of an acknowledged removal is still in the store).
          const removal = await this.#w.removeContainerOn(v);
          notes.push(
            removal === undefined
              ? 'no container to remove during the partition'
              : `rm during the partition: ${removal.ok ? (removal.warning === '' ? 'acked' : 'acked with a pending detach') : `failed (${removal.detail})`}`,
          );
          await sleep(Math.max(0, 3 * this.#c.heartbeatMs + 4000 - (Date.now() - t0)));
          healedAt = Date.now();
          await this.#c.hosts.exec(v, 'nft', ['delete', 'table', 'inet', 'vxt_partition']);
          break;
        }
        case 'agent-kill': {
          victim = WORKERS[Math.floor(this.#random() * WORKERS.length)] ?? 3;
          const v = victim;
          workload = startWorkload();
          t0 = Date.now();
          probe = this.#probe(v);
          this.#w.live.delete(v);
          // Mid-reconcile: the scale sends it work, the kill lands while it applies it.
          await this.#w.scaleService();
          await sleep(Math.floor(this.#random() * 300));
          await this.#c.daemon(v).kill('SIGKILL');
          await sleep(500);
          healedAt = Date.now();
          await this.#c.daemon(v).restart();
          this.#w.live.add(v);
          notes.push(`killed the daemon of host${v} mid-reconcile`);
          break;
        }
      }
      await this.#c.waitSettled(60_000);
    } finally {
      workloadAbort.abort();
      await workload;
      await probe?.stop();
      await this.#restoreProbeNode();
      if (victim !== undefined) {
        this.#w.live.add(victim);
      }
    }
    const settledAt = Date.now();
    let rescheduled: number | undefined;
    if (before) {
      const after = await this.#runningTasks();
      rescheduled = [...before].filter((id) => !after.has(id)).length;
    }
    const ops = this.#w.ops.slice(opsBefore);
    const result = {
      fault,
      durationMs: healedAt - t0,
      writeGapMs: probe?.gapMs ?? 0,
      writesBackMs: probe?.backAt === undefined ? 0 : probe.backAt - t0,
      recoveryMs: settledAt - healedAt,
      ...(newLeaderMs === undefined ? {} : { newLeaderMs }),
      downSeen: [...(probe?.downSeen ?? [])].sort(),
      ...(rescheduled === undefined ? {} : { rescheduled }),
      ops: { acked: ops.filter((o) => o.ok).length, total: ops.length },
      notes,
    };
    const s = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;
    const line =
      `FAULT ${fault}: lasted ${s(result.durationMs)}; ` +
      (newLeaderMs === undefined ? '' : `new leader after ${s(newLeaderMs)}; `) +
      `writes unavailable ${s(result.writeGapMs)}` +
      (result.writesBackMs ? ` (back ${s(result.writesBackMs)} after injection)` : '') +
      `; recovered ${s(result.recoveryMs)} after heal; ` +
      (rescheduled === undefined ? '' : `tasks rescheduled ${rescheduled}; `) +
      `down seen [${result.downSeen.join(' ')}]; workload ${result.ops.acked}/${result.ops.total} acked; ` +
      notes.join('; ');
    return { ...result, line };
  }
}

/** Polls `probe` every `intervalMs` until it returns a value; throws after `timeoutMs`. */
async function waitUntil<T>(probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < timeoutMs / intervalMs + 1 && Date.now() < deadline; i++) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) {
      return v;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms`);
}
