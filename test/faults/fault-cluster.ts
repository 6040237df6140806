/**
 * The cluster the fault suite runs on: test hosts 0-2 each run an etcd member (on their
 * underlay address, as one member next to each manager) and a manager; hosts 3-5 run workers.
 * Managers share the 3-member etcd; all six daemons are real `vxmeshd` processes.
 */
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';
import { startEtcdCluster } from '../support/etcd-cluster.js';
import type { EtcdCluster } from '../support/etcd-cluster.js';
import { destroyAll, logTails, parseNodeLs, startVxmeshds, waitFor } from '../support/vxmeshd-harness.js';
import type { NodeLsRow, Vxmeshd } from '../support/vxmeshd-harness.js';

export const MANAGERS = [0, 1, 2] as const;
export const WORKERS = [3, 4, 5] as const;

export interface FaultClusterOptions {
  /** `swarm init --dispatcher-heartbeat`, in ms; managers' leases last three periods. */
  readonly heartbeatMs: number;
}

export interface FaultCluster {
  readonly hosts: TestHosts;
  readonly etcd: EtcdCluster;
  readonly daemons: readonly Vxmeshd[];
  readonly heartbeatMs: number;
  /** Manager lease TTL in ms (what the manager computes from the heartbeat). */
  readonly leaseMs: number;
  daemon(index: number): Vxmeshd;
  /** `node ls` through daemon `via`, or undefined when it fails. */
  nodeLs(via: number): Promise<NodeLsRow[] | undefined>;
  /** Host index of the manager `via` reports as Leader, if any. */
  leaderOf(via: number): Promise<number | undefined>;
  /** Resolves once `node ls` on every live manager shows all nodes Ready and one Leader. */
  waitSettled(timeoutMs: number, live?: readonly number[]): Promise<void>;
  logTails(): Promise<string>;
  destroy(): Promise<void>;
}

function hostIndexOf(hostname: string): number | undefined {
  const m = /^host(\d+)$/.exec(hostname);
  return m ? Number(m[1]) : undefined;
}

export async function startFaultCluster(opts: FaultClusterOptions): Promise<FaultCluster> {
  const hosts = await createTestHosts({ count: MANAGERS.length + WORKERS.length });
  let etcd: EtcdCluster | undefined;
  const daemons: Vxmeshd[] = [];
  const destroy = async (): Promise<void> => {
    try {
      await destroyAll(daemons);
    } finally {
      try {
        await etcd?.stop();
      } finally {
        await hosts.destroy();
      }
    }
  };
  try {
    etcd = await startEtcdCluster({
      placement: MANAGERS.map((i) => ({ netns: hosts.host(i).netns, host: hosts.host(i).underlayIp })),
    });
    daemons.push(...(await startVxmeshds(hosts, [...MANAGERS, ...WORKERS])));
    const d = (i: number): Vxmeshd => {
      const x = daemons[i];
      if (!x) {
        throw new Error(`no daemon on host ${i}`);
      }
      return x;
    };
    const leaderIp = hosts.host(0).underlayIp;
    await d(0).cliOk([
      'swarm',
      'init',
      '--advertise-addr',
      leaderIp,
      '--etcd-endpoints',
      etcd.endpoints.join(','),
      '--dispatcher-heartbeat',
      `${opts.heartbeatMs}ms`,
    ]);
    const managerToken = (await d(0).cliOk(['swarm', 'join-token', '-q', 'manager'])).trim();
    const workerToken = (await d(0).cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    for (const i of MANAGERS.slice(1)) {
      await d(i).cliOk(['swarm', 'join', '--token', managerToken, `${leaderIp}:2377`]);
    }
    await Promise.all(WORKERS.map((i) => d(i).cliOk(['swarm', 'join', '--token', workerToken, `${leaderIp}:2377`])));
    const cluster = makeCluster(hosts, etcd, daemons, opts.heartbeatMs, destroy);
    await cluster.waitSettled(60_000);
    return cluster;
  } catch (err) {
    const tails = await logTails(daemons).catch(() => '');
    await destroy();
    throw new Error(`fault cluster did not come up: ${err instanceof Error ? err.message : String(err)}\n${tails}`, {
      cause: err,
    });
  }
}

function makeCluster(
  hosts: TestHosts,
  etcd: EtcdCluster,
  daemons: Vxmeshd[],
  heartbeatMs: number,
  destroy: () => Promise<void>,
): FaultCluster {
  const daemon = (i: number): Vxmeshd => {
    const x = daemons[i];
    if (!x) {
      throw new Error(`no daemon on host ${i}`);
    }
    return x;
  };
  const nodeLs = async (via: number): Promise<NodeLsRow[] | undefined> => {
    const res = await daemon(via).cli(['node', 'ls'], { timeoutMs: 10_000 });
    return res.code === 0 ? parseNodeLs(res.stdout) : undefined;
  };
  return {
    hosts,
    etcd,
    daemons,
    heartbeatMs,
    leaseMs: Math.max(2, Math.ceil((3 * heartbeatMs) / 1000)) * 1000,
    daemon,
    nodeLs,
    async leaderOf(via) {
      const rows = await nodeLs(via);
      const leader = rows?.find((r) => r.managerStatus === 'Leader');
      return leader ? hostIndexOf(leader.hostname) : undefined;
    },
    async waitSettled(timeoutMs, live = MANAGERS) {
      await waitFor(
        async () => {
          for (const m of live) {
            const rows = await nodeLs(m);
            if (
              !rows ||
              rows.length !== daemons.length ||
              !rows.every((r) => r.status === 'Ready') ||
              rows.filter((r) => r.managerStatus === 'Leader').length !== 1 ||
              rows.filter((r) => r.managerStatus === 'Reachable').length !== live.length - 1
            ) {
              return false;
            }
          }
          return true;
        },
        timeoutMs,
        { what: 'every node Ready, one Leader, every live manager Reachable', intervalMs: 300 },
      );
    },
    logTails: () => logTails(daemons, 30),
    destroy,
  };
}
