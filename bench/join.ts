/**
 * How long `vxmesh swarm join` takes over a real network, from the command's start until the
 * manager lists the new node as Ready. Two test hosts (network namespaces on 198.51.100.0/24),
 * real vxmeshd processes (dist/, so run `npm run build` first), the real CLI. Needs root.
 *
 *   node --import tsx bench/join.ts [--runs N]
 *
 * Each run: host1 runs `vxmesh swarm join --token T 198.51.100.10:2377`; the clock stops when
 * host0's manager lists host1's new node ID as Ready. Readiness is polled every 20 ms with the
 * ListNodes call `vxmesh node ls` makes, straight on host0's socket: polling with the CLI itself
 * would add its own start-up (about the same size as the thing measured) to the resolution. The
 * last run is then checked once with the real `node ls`. Between runs host1 runs `swarm leave`
 * and host0 `node rm --force host1`, outside the timings.
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { credentials } from '@grpc/grpc-js';
import { callUnary } from '../src/common/rpc/call-unary.js';
import { ClusterControlClient } from '../src/gen/vxmesh/v1/control.js';
import { NodeStatus } from '../src/gen/vxmesh/v1/node.js';
import { createTestHosts } from '../test/support/test-hosts.js';
import type { TestHosts } from '../test/support/test-hosts.js';
import { destroyAll, parseNodeLs, startVxmeshds, waitFor } from '../test/support/vxmeshd-harness.js';
import type { Vxmeshd } from '../test/support/vxmeshd-harness.js';

const MANAGER_ADDR = '198.51.100.10:2377';
const READY_TIMEOUT_MS = 30_000;
const POLL_MS = 20;

interface Stats {
  readonly medianMs: number;
  readonly p90Ms: number;
  readonly maxMs: number;
  readonly minMs: number;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 === 1 ? (sorted[Math.floor(mid)] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
  return { medianMs: median, p90Ms: percentile(sorted, 90), maxMs: sorted.at(-1) ?? NaN, minMs: sorted[0] ?? NaN };
}

function parseRuns(argv: readonly string[]): number {
  const i = argv.indexOf('--runs');
  const value = i >= 0 ? Number(argv[i + 1]) : 10;
  if (!Number.isInteger(value) || value < 1 || value > 100) {
    throw new RangeError('--runs must be an integer from 1 to 100');
  }
  return value;
}

/** Resolves once the manager lists `nodeId` as Ready; returns performance.now() at that poll. */
async function readyAt(cluster: ClusterControlClient, nodeId: string): Promise<number> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  for (let i = 0; i < READY_TIMEOUT_MS / POLL_MS + 1 && performance.now() < deadline; i++) {
    const { nodes } = await callUnary(cluster.listNodes.bind(cluster), {}, 'list nodes', { timeoutMs: 5000 });
    const now = performance.now();
    if (nodes.some((v) => v.node?.id === nodeId && v.node.status === NodeStatus.NODE_STATUS_READY)) {
      return now;
    }
    await sleep(POLL_MS);
  }
  throw new Error(`node ${nodeId} not Ready in the manager's node list within ${READY_TIMEOUT_MS} ms`);
}

async function main(): Promise<void> {
  const runs = parseRuns(process.argv.slice(2));
  // Ctrl-C ends the runs early but still cleans up below.
  const interrupt = new AbortController();
  process.once('SIGINT', () => interrupt.abort());
  let hosts: TestHosts | undefined;
  const daemons: Vxmeshd[] = [];
  let cluster: ClusterControlClient | undefined;
  try {
    hosts = await createTestHosts({ count: 2 });
    daemons.push(...(await startVxmeshds(hosts, [0, 1], { logLevel: 'warn' })));
    const [manager, joiner] = daemons as [Vxmeshd, Vxmeshd];
    await manager.cliOk(['swarm', 'init', '--advertise-addr', '198.51.100.10']);
    const token = (await manager.cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    cluster = new ClusterControlClient(manager.address, credentials.createInsecure());
    const c = cluster;

    const joinMs: number[] = [];
    const readyMs: number[] = [];
    for (let run = 1; run <= runs; run++) {
      if (interrupt.signal.aborted) {
        console.error('interrupted; cleaning up');
        return;
      }
      const start = performance.now();
      await joiner.cliOk(['swarm', 'join', '--token', token, MANAGER_ADDR]);
      const joined = performance.now();
      const { nodeId } = await joiner.info();
      const ready = await readyAt(c, nodeId);
      joinMs.push(joined - start);
      readyMs.push(ready - start);
      console.error(
        `run ${run}/${runs}: join command ${(joined - start).toFixed(0)} ms, Ready after ${(ready - start).toFixed(0)} ms`,
      );
      if (run === runs) {
        const row = parseNodeLs(await manager.cliOk(['node', 'ls'])).find((r) => r.hostname === 'host1');
        if (row?.id !== nodeId || row.status !== 'Ready') {
          throw new Error(`node ls disagrees with ListNodes: ${JSON.stringify(row)}`);
        }
      } else {
        await joiner.cliOk(['swarm', 'leave']);
        await manager.cliOk(['node', 'rm', '--force', 'host1']);
        await waitFor(
          async () => !parseNodeLs(await manager.cliOk(['node', 'ls'])).some((r) => r.hostname === 'host1'),
          10_000,
          { what: 'host1 gone from node ls' },
        );
      }
    }

    // For scale: what any CLI command costs (process start, connect, one call) on this machine.
    const cliMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const start = performance.now();
      await manager.cliOk(['node', 'ls']);
      cliMs.push(performance.now() - start);
    }

    const fmt = (s: Stats): string =>
      `median ${s.medianMs.toFixed(0)} ms, p90 ${s.p90Ms.toFixed(0)} ms, max ${s.maxMs.toFixed(0)} ms (min ${s.minMs.toFixed(0)} ms)`;
    const join = stats(joinMs);
    const ready = stats(readyMs);
    const cli = stats(cliMs);
    console.log(`vxmesh join benchmark: ${runs} runs, 2 hosts in network namespaces, ${new Date().toISOString()}`);
    console.log(`  swarm join start -> Ready in manager's node ls: ${fmt(ready)}`);
    console.log(`  swarm join command alone:                       ${fmt(join)}`);
    console.log(`  any CLI command (node ls, ${cliMs.length} runs):            ${fmt(cli)}`);
    console.log(
      JSON.stringify({
        runs,
        joinToReadyMs: readyMs.map(Math.round),
        joinCommandMs: joinMs.map(Math.round),
        cliNodeLsMs: cliMs.map(Math.round),
      }),
    );
  } finally {
    cluster?.close();
    try {
      await destroyAll(daemons);
    } finally {
      await hosts?.destroy();
    }
  }
}

await main();
