/**
 * Issue 10's fault suite (RELIABILITY.md A4 tests 1, 2, 5, 6, 8, 9, 12, 31, 32): a 3-member
 * etcd (one member in each manager's namespace), 3 managers and 3 workers as real daemons, a
 * recorded workload (network creates, container runs and removals, service scaling) running
 * while one fault at a time is injected, then the end state is checked:
 *
 * - every acknowledged network and container exists (removed ones are gone, their endpoints too:
 *   released at once, or by the node's pending detaches once the managers are back), the service
 *   has the replica count last acknowledged;
 * - no address, subnet or VNI has two holders, and every held one is marked taken;
 * - containers reach each other on their networks and DNS answers what the store says;
 * - each worker's kernel state equals what a clean rebuild by its agent produces.
 *
 * One summary line per fault (`FAULT <name>: ...`) gives what users saw and the recovery time.
 *
 * Bounded for CI: every fault once, in a fixed order, with a 2 s heartbeat (leases of 6 s);
 * about three minutes. `FAULT_SEED` picks the workload's choices and `FAULT_RANDOM=n` appends n
 * faults drawn at random; test/faults/run-seeds.sh runs several seeds in a row.
 */
import { appendFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TaskState } from '../../src/gen/vxmesh/v1/task.js';
import { kernelSnapshot } from '../support/kernel-snapshot.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import { startFaultCluster, WORKERS } from './fault-cluster.js';
import type { FaultCluster } from './fault-cluster.js';
import { ALL_FAULTS, FaultDriver } from './faults.js';
import type { FaultName, FaultResult } from './faults.js';
import { checkInvariants } from './store-invariants.js';
import { dumpStore } from './store-dump.js';
import { seededRandom } from '../support/seeded-random.js';
import { BASE_NETWORK, SERVICE, Workload } from './workload.js';

const SEED = Number(process.env['FAULT_SEED'] ?? 1);
const RANDOM_FAULTS = Number(process.env['FAULT_RANDOM'] ?? 0);
const SUMMARY_FILE = process.env['FAULT_SUMMARY_FILE'];
const HEARTBEAT_MS = 2000;

describe(`fault suite (seed ${SEED})`, () => {
  let cluster: FaultCluster | undefined;
  let workload: Workload | undefined;
  const results: FaultResult[] = [];
  const random = seededRandom(SEED);

  const c = (): FaultCluster => {
    if (!cluster) {
      throw new Error('cluster not up');
    }
    return cluster;
  };
  const w = (): Workload => {
    if (!workload) {
      throw new Error('workload not set up');
    }
    return workload;
  };

  beforeAll(async () => {
    cluster = await startFaultCluster({ heartbeatMs: HEARTBEAT_MS });
    workload = new Workload(cluster, random);
    await workload.setUp();
  }, 120_000);

  afterAll(async () => {
    const lines = results.map((r) => r.line);
    if (SUMMARY_FILE) {
      await appendFile(SUMMARY_FILE, [`seed ${SEED}`, ...lines, ''].join('\n'));
    }
    await cluster?.destroy();
  }, 60_000);

  const report = async (what: string, fn: () => Promise<void>): Promise<void> => {
    try {
      await fn();
    } catch (err) {
      console.error(`${what} failed; daemon logs:\n${await c().logTails()}`);
      throw err;
    }
  };

  it('recovers from each fault while the workload runs', { timeout: 480_000 }, async () => {
    const order: FaultName[] = [...ALL_FAULTS];
    for (let i = 0; i < RANDOM_FAULTS; i++) {
      order.push(ALL_FAULTS[Math.floor(random() * ALL_FAULTS.length)] ?? 'leader-kill');
    }
    const driver = new FaultDriver(c(), w(), random);
    for (const fault of order) {
      await report(fault, async () => {
        const r = await driver.run(fault);
        results.push(r);
        console.log(r.line);
        if (r.newLeaderMs !== undefined) {
          // A new leader within two lease periods (plus the polling resolution).
          expect(r.newLeaderMs, r.line).toBeLessThan(2 * c().leaseMs + 1000);
          expect(r.rescheduled, `${r.line}: no task may move because of a failover`).toBe(0);
          // API writes through a surviving manager never wait for the new leader.
          expect(r.writeGapMs, r.line).toBeLessThan(5000);
        }
        if (
          fault === 'leader-kill' ||
          fault === 'leader-pause' ||
          fault.startsWith('etcd-') ||
          fault === 'agent-kill'
        ) {
          expect(r.downSeen, `${r.line}: no node may be marked Down`).toEqual([]);
        }
        if (fault === 'etcd-member-kill' || fault === 'etcd-leader-kill') {
          // A quorum stays up: at most an etcd election's worth of failed writes.
          expect(r.writeGapMs, r.line).toBeLessThan(3000);
        }
        if (fault === 'quorum-loss') {
          expect(r.notes.join(' '), r.line).toMatch(
            /(no quorum|cannot connect to any).*until a majority of etcd members/,
          );
        }
        if (fault === 'partition') {
          // rm must be acknowledged while the node is cut off. It usually leaves a pending detach;
          // one CI run acked it without one (not explained yet). Either way the end check below
          // fails if the endpoint of an acknowledged removal is still in the store.
          expect(r.notes.join(' '), r.line).toMatch(/rm during the partition: acked/);
        }
        if (fault === 'quorum-loss' || fault === 'partition') {
          expect(r.notes.join(' '), `${r.line}: the dataplane keeps working`).toMatch(/dns ok, ping ok/);
        }
      });
    }
  });

  it('ends with every acknowledged operation applied and no duplicate holder', { timeout: 120_000 }, async () => {
    await report('end-state check', async () => {
      const wl = w();
      // The service converges to its last acknowledged (or a later, unacknowledged) replica count.
      const facts = await waitFor(
        async () => {
          const f = await dumpStore(c().etcd);
          const service = f.services.find((s) => s.spec?.name === SERVICE);
          const replicas = Number(service?.spec?.replicas ?? -1);
          const running = f.tasks.filter(
            (t) =>
              t.serviceName === SERVICE &&
              t.desiredState === TaskState.TASK_STATE_RUNNING &&
              t.status?.state === TaskState.TASK_STATE_RUNNING,
          ).length;
          return running === replicas ? f : undefined;
        },
        30_000,
        { what: `${SERVICE} to run as many tasks as it wants`, intervalMs: 1000 },
      );
      expect(checkInvariants(facts)).toEqual([]);

      const service = facts.services.find((s) => s.spec?.name === SERVICE);
      expect([wl.replicas.acked, ...wl.replicas.uncertain]).toContain(Number(service?.spec?.replicas));
      const networkIds = new Set(facts.networks.map((n) => n.id));
      for (const [name, id] of wl.networks) {
        expect(networkIds.has(id), `acknowledged network ${name} (${id})`).toBe(true);
      }
      const endpointsByName = new Map(facts.endpoints.map((e) => [e.ownerName, e]));
      const nodeIdOf = new Map(facts.nodes.map((n) => [n.hostname, n.id]));
      const running = [...wl.containers.values()].filter((x) => x.state === 'running');
      for (const x of running) {
        const e = endpointsByName.get(x.name);
        expect(e, `endpoint of acknowledged container ${x.name}`).toBeDefined();
        expect(e?.networkId).toBe(wl.networks.get(x.network));
        expect(e?.nodeId).toBe(nodeIdOf.get(`host${x.host}`));
      }
      // An acknowledged rm whose endpoint the managers could not remove (no quorum, partition)
      // left a pending detach on its node, retried at once on a new session and at most 30 s
      // apart: every such endpoint is gone within that.
      const removed = [...wl.containers.values()].filter((x) => x.state === 'removed').map((x) => x.name);
      const leakedNow = async (): Promise<string[]> => {
        const byName = new Map((await dumpStore(c().etcd)).endpoints.map((e) => [e.ownerName, e]));
        return removed.flatMap((name) => {
          const e = byName.get(name);
          return e ? [`${name} (${e.ipv4Address})`] : [];
        });
      };
      const releaseStarted = Date.now();
      const leaked = await waitFor(async () => ((await leakedNow()).length === 0 ? [] : undefined), 45_000, {
        what: 'the endpoints of acknowledged removals to be released',
        intervalMs: 500,
      }).catch(() => leakedNow());
      expect(leaked, 'endpoints of acknowledged removals').toEqual([]);
      const releaseWaitMs = Date.now() - releaseStarted;
      // Every acknowledged container is running on its host; removed ones are gone.
      for (const host of new Set([...wl.containers.values()].map((x) => x.host))) {
        const out = await c().daemon(host).cliOk(['ps', '-a', '--format', 'json']);
        const listed = new Map(
          out
            .split('\n')
            .filter((l) => l.trim() !== '')
            .map((l) => JSON.parse(l) as { Names: string; State: string })
            .map((x) => [x.Names, x.State]),
        );
        for (const x of wl.containers.values()) {
          if (x.host !== host) {
            continue;
          }
          if (x.state === 'running') {
            expect(listed.get(x.name) ?? 'missing', `container ${x.name} on host${host}`).toBe('running');
          } else if (x.state === 'removed') {
            expect(listed.has(x.name), `removed container ${x.name} on host${host}`).toBe(false);
          }
        }
      }

      // Reachability and DNS: every running container resolves and pings every other one on each
      // of its networks (one `exec` per container runs all its probes).
      const ipOf = (name: string): string => (endpointsByName.get(name)?.ipv4Address ?? '').split('/')[0] ?? '';
      let checked = 0;
      for (const a of running) {
        const peers = running.filter((b) => b.network === a.network && b.name !== a.name);
        if (peers.length === 0) {
          continue;
        }
        const script = peers
          .map(
            (b) =>
              `echo "${b.name} $(dig +short +tries=1 +time=1 ${b.name} | head -n1)` +
              ` $(ping -c1 -W1 ${ipOf(b.name)} >/dev/null 2>&1 && echo reached || echo unreachable)"`,
          )
          .join('; ');
        const expected = peers.map((b) => `${b.name} ${ipOf(b.name)} reached`).join('\n');
        await waitFor(
          async () =>
            (await c().daemon(a.host).cli(['exec', a.name, '--', 'sh', '-c', script])).stdout.trim() === expected,
          15_000,
          {
            what: `${a.name}@host${a.host} to resolve and reach ${peers.length} peers on ${a.network}`,
            intervalMs: 500,
          },
        ).catch(async (err: unknown) => {
          const got = (await c().daemon(a.host).cli(['exec', a.name, '--', 'sh', '-c', script])).stdout.trim();
          throw new Error(`${String(err)}\nexpected:\n${expected}\ngot:\n${got}`);
        });
        checked += peers.length;
      }
      // tasks.<service> lists exactly the serving task endpoints on the base network.
      const baseId = wl.networks.get(BASE_NETWORK);
      const taskIps = facts.endpoints
        .filter((e) => e.serviceName === SERVICE && e.networkId === baseId && e.serving)
        .map((e) => e.ipv4Address.split('/')[0] ?? '')
        .sort();
      const client = running.find((x) => x.network === BASE_NETWORK);
      expect(client).toBeDefined();
      if (client) {
        await waitFor(
          async () => {
            const dig = await c()
              .daemon(client.host)
              .cli(['exec', client.name, '--', 'dig', '+short', '+tries=1', '+time=1', `tasks.${SERVICE}`]);
            return (
              JSON.stringify(
                dig.stdout
                  .trim()
                  .split('\n')
                  .filter((l) => l !== '')
                  .sort(),
              ) === JSON.stringify(taskIps)
            );
          },
          15_000,
          { what: `tasks.${SERVICE} to answer ${taskIps.join(' ')}`, intervalMs: 500 },
        );
      }
      console.log(
        `END: ${wl.ops.filter((o) => o.ok).length}/${wl.ops.length} operations acknowledged; ` +
          `${facts.networks.length} networks, ${facts.endpoints.length} endpoints, ${running.length} containers checked; ` +
          `${checked} ordered container pairs resolve and reach each other; invariants hold; ` +
          `${removed.length} removals' endpoints released, ` +
          `${wl.ops.filter((o) => o.op === 'rm' && o.warning !== '').length} of them after a pending detach ` +
          `(end check waited ${releaseWaitMs} ms for them)`,
      );
    });
  });

  it("leaves each worker's kernel as a clean rebuild by its agent would", { timeout: 120_000 }, async () => {
    await report('kernel check', async () => {
      for (const i of WORKERS) {
        const d = c().daemon(i);
        const prefix = `${d.host.netns}-`;
        const snapshot = (): Promise<string[]> => kernelSnapshot(prefix, d.host.netns);
        const before = await waitFor(
          async () => {
            const a = await snapshot();
            await new Promise((r) => setTimeout(r, 500));
            const b = await snapshot();
            return JSON.stringify(a) === JSON.stringify(b) ? a : undefined;
          },
          15_000,
          { what: `host${i}'s kernel state to hold still` },
        );
        // kill -9 rather than a graceful stop: the node must be back before the managers' grace
        // (three 2 s heartbeats) runs out, or its tasks move and the state legitimately changes.
        await d.kill('SIGKILL');
        for (const ns of before.filter((l) => l.includes(' link br0 ')).map((l) => l.split(' ')[0] ?? '')) {
          await c().hosts.exec(i, 'ip', ['netns', 'del', `${prefix}${ns}`], { check: false });
        }
        await d.restart();
        const rebuilt = await waitFor(
          async () => {
            const a = await snapshot();
            return JSON.stringify(a) === JSON.stringify(before) ? a : undefined;
          },
          20_000,
          { what: `host${i} rebuilt to the same kernel state`, intervalMs: 500 },
        ).catch(async () => snapshot());
        expect(rebuilt, `host${i}`).toEqual(before);
      }
    });
  });
});
