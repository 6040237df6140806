/**
 * Dataplane programming benchmark, part (a) of issue 6: install N remote endpoints (static FDB +
 * neighbour entries) into one overlay through the driver (`DataplaneDriver.reconcile`: read,
 * diff, apply) and, in the same run, with raw `bridge -batch -` / `ip -batch -` of the same
 * entries onto a bare VXLAN device (the shared/perf-baselines method: generated batch text fed to
 * one process per table over stdin, generation not timed). Goal: driver ≥ 0.8× raw.
 *
 * Also reported: the raw batches run concurrently (what the driver does), a no-op pass with N
 * entries present (the cost of a periodic resync) and the removal of all N.
 *
 *   node --import tsx bench/dataplane.ts [--sizes 10000,50000] [--reps 7]
 *
 * Needs root; everything lives in throwaway namespaces removed at the end.
 */
import { readdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ProcessCommandRunner } from '../src/vxlan/command-runner-process.js';
import type { CommandRunner, KernelCommand } from '../src/vxlan/command-runner.js';
import { DataplaneDriver } from '../src/vxlan/dataplane-driver.js';
import { overlayNamespaceName } from '../src/vxlan/dataplane-names.js';
import type { NodeDataplaneSpec, RemoteEndpointSpec } from '../src/vxlan/dataplane-spec.js';
import { runCommand } from '../test/support/command.js';
import { createTestHosts } from '../test/support/test-hosts.js';

/** One size's timings in milliseconds (medians over the repetitions). */
export interface DataplaneBenchRow {
  readonly entries: number;
  readonly driverMs: number;
  readonly rawSequentialMs: number;
  readonly rawConcurrentMs: number;
  /**
   * Median over repetitions of rawSequential / driver, each pair measured back to back (robust
   * to load drift on a shared machine): ≥ 0.8 is the goal.
   */
  readonly ratio: number;
  /** The same against the raw batches run concurrently. */
  readonly ratioConcurrent: number;
  readonly noopPassMs: number;
  readonly removeAllMs: number;
}

const VTEPS = 200;
const VNI = 4097;
const PORT = 4789;

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** The baseline script's entries: MAC 02:42:…, IP 10.128+…, VTEP 198.51.100.(20 + i % 200). */
function remotes(n: number): RemoteEndpointSpec[] {
  const out: RemoteEndpointSpec[] = [];
  for (let j = 0; j < n; j++) {
    const i = j + 16; // keep clear of the gateway 10.128.0.1
    const b = (x: number): string => (x & 0xff).toString(16).padStart(2, '0');
    out.push({
      endpointId: `r${i}`,
      subnetIndex: 0,
      mac: `02:42:${b(i >> 24)}:${b(i >> 16)}:${b(i >> 8)}:${b(i)}`,
      ipv4: `10.${128 + ((i >> 16) & 0x7f)}.${(i >> 8) & 0xff}.${i & 0xff}`,
      vtep: `198.51.100.${20 + (i % VTEPS)}`,
    });
  }
  return out;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function count(netns: string): Promise<{ fdb: number; neigh: number }> {
  const fdb = JSON.parse((await runCommand('bridge', ['-n', netns, '-j', 'fdb', 'show', 'dev', 'vxlan0'])).stdout) as { dst?: string }[];
  const neigh = JSON.parse((await runCommand('ip', ['-n', netns, '-j', 'neigh', 'show', 'dev', 'vxlan0'])).stdout) as unknown[];
  return { fdb: fdb.filter((f) => f.dst !== undefined).length, neigh: neigh.length };
}

async function batch(runner: CommandRunner, tool: 'ip' | 'bridge', netns: string, input: string): Promise<void> {
  const command: KernelCommand = { tool, scope: { kind: 'netns', name: netns }, args: ['-batch', '-'], input };
  const r = await runner.run(command);
  if (r.exitCode !== 0) {
    throw new Error(`${tool} -batch failed: ${r.stderr.slice(0, 500)}`);
  }
}

/** Runs the benchmark and prints one line per size plus a JSON summary. */
export async function runDataplaneBench(options: { sizes?: readonly number[]; reps?: number } = {}): Promise<DataplaneBenchRow[]> {
  const sizes = options.sizes ?? [10_000, 50_000];
  const reps = options.reps ?? 7;
  const hosts = await createTestHosts({ count: 1, prefix: 'vxb-' });
  const host = hosts.host(0);
  const runner = new ProcessCommandRunner({ baseNamespace: host.netns });
  const driver = new DataplaneDriver({ runner, daemonNamespace: host.netns });
  const prefix = `${hosts.prefix}n0-`;
  const container = `${hosts.prefix}c0`;
  const rawNs = `${hosts.prefix}raw`;
  const networkId = 'be0c0000000000000000000a';
  const rows: DataplaneBenchRow[] = [];
  try {
    await runCommand('ip', ['netns', 'add', container]);
    await runCommand('ip', ['netns', 'add', rawNs]);
    const spec = (entries: readonly RemoteEndpointSpec[]): NodeDataplaneSpec => ({
      namespacePrefix: prefix,
      dataPathAddr: host.underlayIp,
      dataPathPort: PORT,
      memberVteps: [host.underlayIp],
      overlays: [
        {
          networkId,
          namespace: overlayNamespaceName(prefix, networkId),
          mtu: 1450,
          subnets: [{ index: 0, vni: VNI, gatewayCidr: '10.128.0.1/10' }],
          localEndpoints: [
            {
              endpointId: 'local0000000',
              subnetIndex: 0,
              containerNamespace: container,
              ifName: 'eth0',
              mac: '02:42:0a:80:00:02',
              ipv4Cidr: '10.128.0.2/10',
              gateway: '10.128.0.1',
              otherSubnets: [],
            },
          ],
          remoteEndpoints: entries,
        },
      ],
    });
    const overlayNs = overlayNamespaceName(prefix, networkId);
    const setup = await driver.reconcile(spec([]));
    if (setup.errors.length > 0) {
      throw new Error(`setup: ${setup.errors.join('; ')}`);
    }

    // Raw: a bare VXLAN device like the baseline's, recreated (empty) before each run.
    const freshRawVxlan = async (): Promise<void> => {
      await runCommand('ip', ['-n', rawNs, 'link', 'del', 'dev', 'vxlan0'], { check: false });
      await runCommand('ip', [
        '-n', host.netns, 'link', 'add', 'name', 'vxlan0', 'netns', rawNs, 'type', 'vxlan',
        'id', String(VNI + 1), 'dstport', String(PORT), 'local', host.underlayIp, 'nolearning', 'proxy',
      ]);
      await runCommand('ip', ['-n', rawNs, 'link', 'set', 'dev', 'vxlan0', 'up']);
    };

    for (const n of sizes) {
      const entries = remotes(n);
      const fdbText = `${entries.map((e) => `fdb add ${e.mac} dev vxlan0 dst ${e.vtep} self permanent`).join('\n')}\n`;
      const neighText = `${entries.map((e) => `neigh add ${e.ipv4 ?? ''} lladdr ${e.mac} dev vxlan0 nud permanent`).join('\n')}\n`;
      const driverMs: number[] = [];
      const rawSeqMs: number[] = [];
      const rawConMs: number[] = [];
      const noopMs: number[] = [];
      const removeMs: number[] = [];
      for (let rep = 0; rep < reps; rep++) {
        // Raw, sequential (the baseline) and concurrent.
        await freshRawVxlan();
        rawSeqMs.push(
          await timed(async () => {
            await batch(runner, 'bridge', rawNs, fdbText);
            await batch(runner, 'ip', rawNs, neighText);
          }),
        );
        const rawCount = await count(rawNs);
        await freshRawVxlan();
        rawConMs.push(
          await timed(async () => {
            await Promise.all([batch(runner, 'bridge', rawNs, fdbText), batch(runner, 'ip', rawNs, neighText)]);
          }),
        );

        // Driver: the whole pass from an overlay with no remotes to one with N.
        const withN = spec(entries);
        let errors: readonly string[] = [];
        driverMs.push(
          await timed(async () => {
            errors = (await driver.reconcile(withN)).errors;
          }),
        );
        const driverCount = await count(overlayNs);
        if (errors.length > 0 || driverCount.fdb !== n || driverCount.neigh !== n || rawCount.fdb !== n || rawCount.neigh !== n) {
          throw new Error(`wrong result at N=${n}: driver ${JSON.stringify(driverCount)} raw ${JSON.stringify(rawCount)} ${errors.join('; ')}`);
        }
        let noopCommands = -1;
        noopMs.push(
          await timed(async () => {
            noopCommands = [...(await driver.reconcile(withN)).commands.values()].reduce((a, b) => a + b, 0);
          }),
        );
        if (noopCommands !== 0) {
          throw new Error(`no-op pass issued ${noopCommands} commands`);
        }
        removeMs.push(await timed(async () => void (await driver.reconcile(spec([])))));
      }
      const row: DataplaneBenchRow = {
        entries: n,
        driverMs: median(driverMs),
        rawSequentialMs: median(rawSeqMs),
        rawConcurrentMs: median(rawConMs),
        ratio: median(rawSeqMs.map((r, i) => r / (driverMs[i] ?? Number.NaN))),
        ratioConcurrent: median(rawConMs.map((r, i) => r / (driverMs[i] ?? Number.NaN))),
        noopPassMs: median(noopMs),
        removeAllMs: median(removeMs),
      };
      rows.push(row);
      console.log(
        `N=${n}: driver ${row.driverMs.toFixed(0)} ms (${Math.round((2 * n) / (row.driverMs / 1000))} entries/s) | ` +
          `raw sequential ${row.rawSequentialMs.toFixed(0)} ms, concurrent ${row.rawConcurrentMs.toFixed(0)} ms | ` +
          `ratio raw/driver (median of pairs) ${row.ratio.toFixed(2)}x (vs concurrent raw ${row.ratioConcurrent.toFixed(2)}x) | ` +
          `no-op pass ${row.noopPassMs.toFixed(0)} ms | remove all ${row.removeAllMs.toFixed(0)} ms`,
      );
      console.log(`  all reps, ms: driver ${driverMs.map(Math.round).join(' ')}; raw ${rawSeqMs.map(Math.round).join(' ')}; raw concurrent ${rawConMs.map(Math.round).join(' ')}`);
    }
    console.log(JSON.stringify({ reps, rows }));
    return rows;
  } finally {
    const own = new Set([hosts.underlayNetns, ...hosts.hosts.map((h) => h.netns)]);
    const extra = (await readdir('/run/netns').catch(() => [])).filter((n) => n.startsWith(hosts.prefix) && !own.has(n));
    await runCommand('ip', ['-force', '-batch', '-'], { input: `${extra.map((n) => `netns del ${n}`).join('\n')}\n`, check: false });
    await hosts.destroy();
  }
}

function parseArgs(argv: readonly string[]): { sizes?: number[]; reps?: number } {
  const out: { sizes?: number[]; reps?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--sizes') {
      out.sizes = (argv[++i] ?? '').split(',').map(Number);
    } else if (argv[i] === '--reps') {
      out.reps = Number(argv[++i]);
    }
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`vxmesh dataplane bench (a): ${new Date().toISOString()}`);
  await runDataplaneBench(parseArgs(process.argv.slice(2)));
}
