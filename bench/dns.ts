/**
 * Embedded DNS throughput and latency against dnsmasq, in the same run on the same machine
 * (shared/PERFORMANCE.md B3 method): `dnsperf -c 10` from inside a container namespace at
 * (a) vxmesh's resolver on 127.0.0.11:53, served by this process through sockets handed over
 * from the namespace, exactly as the agent serves containers, and (b) dnsmasq on 127.0.0.1:53 in
 * the same namespace with the same records. Records: N names `svc-NNNN` on one network (bare
 * names: the common in-container lookup), each with one A record; the query file is those names.
 *
 * Reported per server: queries/s (median of the rounds, each `-l SECONDS`), server CPU seconds
 * per round, and latency p50/p99/max from `dnsperf -v` runs (per-query latencies), once at full
 * load (the client is slower with -v, so that load is somewhat below saturation) and once at a
 * fixed rate (`--latency-qps`, default 20,000/s). Goal (issue 7): at least 0.8x dnsmasq's
 * queries/s, p99 under 2 ms.
 *
 * Run as root with dnsperf and dnsmasq installed (Debian `dnsperf`, `dnsmasq-base`):
 *   node --import tsx bench/dns.ts [--seconds 10] [--rounds 2] [--names 1000] [--latency-qps 20000] [--pin]
 * `--pin` puts both servers on CPU 0 and dnsperf on CPU 1. Or call `runDnsBench()`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmbeddedDns, NetnsDnsDriver } from '../src/worker/dns/index.js';
import type { DnsState } from '../src/worker/dns/index.js';
import { runCommand } from '../test/support/command.js';
import { createTestHosts } from '../test/support/test-hosts.js';

export interface DnsBenchOptions {
  readonly seconds?: number;
  readonly rounds?: number;
  readonly names?: number;
  readonly latencyQps?: number;
  readonly pin?: boolean;
}

/** Per-query latency percentiles of one `dnsperf -v` run, ms. */
export interface Latency {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** One server's figures. */
export interface ServerFigures {
  readonly qps: readonly number[];
  readonly medianQps: number;
  readonly lost: number;
  /** CPU seconds the server used per round (user + system). */
  readonly cpuSeconds: readonly number[];
  /** dnsperf's average over the throughput rounds (median), ms. */
  readonly avgLatencyMs: number;
  /** At full load. */
  readonly saturated: Latency;
  /** At the fixed rate. */
  readonly fixedRate: Latency;
}

export interface DnsBenchResult {
  readonly vxmesh: ServerFigures;
  readonly dnsmasq: ServerFigures;
  /** vxmesh median QPS ÷ dnsmasq median QPS. */
  readonly ratio: number;
  /**
   * Median over rounds of vxmesh QPS ÷ dnsmasq QPS, each pair measured back to back: the
   * figure most robust to load drift on a shared machine.
   */
  readonly pairedRatio: number;
}

const CLK_TCK = 100;

export async function runDnsBench(opts: DnsBenchOptions = {}): Promise<DnsBenchResult> {
  const seconds = opts.seconds ?? 10;
  const rounds = opts.rounds ?? 2;
  const count = opts.names ?? 1000;
  const pin = opts.pin ?? false;
  const latencyQps = opts.latencyQps ?? 20_000;
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-dns-bench-'));
  const hosts = await createTestHosts({ count: 1, prefix: 'vxb-' });
  const ns = hosts.host(0).netns;
  let dnsmasqPid: number | undefined;
  let dns: EmbeddedDns | undefined;
  try {
    // Records: svc-NNNN → 10.96.x.y on network "bench" (10.96.0.0/16).
    const names = Array.from({ length: count }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
    const address = (i: number): string => `10.96.${Math.floor(i / 250)}.${(i % 250) + 2}`;
    const state: DnsState = {
      networks: [{ id: 'bench-net', name: 'bench', subnets: ['10.96.0.0/16'], internal: false }],
      endpoints: names.map((name, i) => ({
        id: `ep-${i}`,
        networkId: 'bench-net',
        ownerName: name,
        hostname: '',
        aliases: [],
        ipv4Address: `${address(i)}/16`,
        ipv6Address: '',
      })),
      containers: [
        {
          id: 'bench-client',
          namespace: ns,
          networks: [{ networkId: 'bench-net', networkName: 'bench', links: [] }],
          dns: [],
        },
      ],
    };
    const hostsFile = join(dir, 'hosts');
    const queries = join(dir, 'queries');
    const empty = join(dir, 'empty.conf');
    await writeFile(hostsFile, names.map((n, i) => `${address(i)} ${n}\n`).join(''));
    await writeFile(queries, names.map((n) => `${n} A\n`).join(''));
    await writeFile(empty, '');

    dns = new EmbeddedDns({
      driver: new NetnsDnsDriver(),
      desired: () => state,
      hostResolvConf: () => Promise.resolve({ nameservers: [], search: [], options: [] }),
    });
    await dns.start();
    await dns.prepare({ id: 'bench-client', namespace: ns });

    const dnsmasq = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        ...(pin ? ['taskset', '-c', '0'] : []),
        'dnsmasq',
        '-k',
        `--conf-file=${empty}`,
        '--no-resolv',
        '--no-hosts',
        `--addn-hosts=${hostsFile}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--port=53',
        '--user=root',
        `--pid-file=${join(dir, 'dnsmasq.pid')}`,
        '--cache-size=10000',
      ],
      { stdio: 'ignore' },
    );
    dnsmasqPid = dnsmasq.pid;
    if (pin) {
      await runCommand('taskset', ['-a', '-p', '-c', '0', String(process.pid)]);
    }
    await sleep(1000);
    for (const server of ['127.0.0.11', '127.0.0.1']) {
      const out = await hosts.exec(0, 'dig', ['+short', '+tries=3', '+time=1', `@${server}`, names[42] ?? '']);
      if (out.stdout.trim() !== address(42)) {
        throw new Error(`${server} in ${ns} did not answer ${names[42]}: ${out.stdout}${out.stderr}`);
      }
    }

    const runs = { vxmesh: [] as Run[], dnsmasq: [] as Run[] };
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so drift on a shared machine hits both alike.
      const order: ('vxmesh' | 'dnsmasq')[] = r % 2 === 0 ? ['vxmesh', 'dnsmasq'] : ['dnsmasq', 'vxmesh'];
      for (const which of order) {
        const pid = which === 'vxmesh' ? process.pid : (dnsmasqPid ?? 0);
        const server = which === 'vxmesh' ? '127.0.0.11' : '127.0.0.1';
        runs[which].push(await dnsperf(hosts.exec.bind(hosts), dir, server, queries, seconds, pid, pin, {}));
      }
    }
    const latencySeconds = Math.min(seconds, 5);
    const exec = hosts.exec.bind(hosts);
    const latency = {
      vxmesh: {
        saturated: await dnsperf(exec, dir, '127.0.0.11', queries, latencySeconds, process.pid, pin, { verbose: true }),
        fixedRate: await dnsperf(exec, dir, '127.0.0.11', queries, latencySeconds, process.pid, pin, {
          verbose: true,
          qps: latencyQps,
        }),
      },
      dnsmasq: {
        saturated: await dnsperf(exec, dir, '127.0.0.1', queries, latencySeconds, dnsmasqPid ?? 0, pin, {
          verbose: true,
        }),
        fixedRate: await dnsperf(exec, dir, '127.0.0.1', queries, latencySeconds, dnsmasqPid ?? 0, pin, {
          verbose: true,
          qps: latencyQps,
        }),
      },
    };
    const percentiles = (run: Run): Latency => {
      const lat = [...run.latencies].sort((a, b) => a - b);
      return { p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxMs: lat[lat.length - 1] ?? 0 };
    };
    const figures = (which: 'vxmesh' | 'dnsmasq'): ServerFigures => {
      const qps = runs[which].map((x) => x.qps);
      return {
        qps,
        medianQps: median(qps),
        lost: runs[which].reduce((s, x) => s + x.lost, 0),
        cpuSeconds: runs[which].map((x) => x.cpuSeconds),
        avgLatencyMs: median(runs[which].map((x) => x.avgLatencyMs)),
        saturated: percentiles(latency[which].saturated),
        fixedRate: percentiles(latency[which].fixedRate),
      };
    };
    const vx = figures('vxmesh');
    const dm = figures('dnsmasq');
    const result: DnsBenchResult = {
      vxmesh: vx,
      dnsmasq: dm,
      ratio: dm.medianQps > 0 ? vx.medianQps / dm.medianQps : 0,
      pairedRatio: median(vx.qps.map((q, i) => q / (dm.qps[i] ?? Number.NaN))),
    };
    const perCpu = (f: ServerFigures): string =>
      `${Math.round(median(f.qps.map((q, i) => (q * seconds) / (f.cpuSeconds[i] ?? Number.NaN))) / 1000)}k queries per server CPU second`;
    const ms = (x: number): string => x.toFixed(3);
    const row = (label: string, f: ServerFigures): string =>
      `${label.padEnd(8)} QPS ${f.qps.map((q) => q.toFixed(0).padStart(7)).join(' ')} (median ${f.medianQps.toFixed(0)})` +
      `  lost ${f.lost}  avg ${ms(f.avgLatencyMs)} ms  server CPU ${f.cpuSeconds.map((c) => c.toFixed(1)).join('/')} s (${perCpu(f)})` +
      ` | full load p50 ${ms(f.saturated.p50Ms)} p99 ${ms(f.saturated.p99Ms)} max ${f.saturated.maxMs.toFixed(1)} ms` +
      ` | ${latencyQps}/s p50 ${ms(f.fixedRate.p50Ms)} p99 ${ms(f.fixedRate.p99Ms)} max ${f.fixedRate.maxMs.toFixed(1)} ms`;
    console.log(
      `dnsperf -c 10 -l ${seconds}, ${count} names, ${rounds} round(s), ${pin ? 'pinned (servers CPU 0, dnsperf CPU 1)' : 'unpinned'}`,
    );
    console.log(row('vxmesh', vx));
    console.log(row('dnsmasq', dm));
    console.log(
      `ratio ${result.ratio.toFixed(2)}x dnsmasq QPS (medians), ${result.pairedRatio.toFixed(2)}x (median of back-to-back pairs; ` +
        `goal >= 0.8x: ${result.pairedRatio >= 0.8 ? 'met' : 'NOT met'}); ` +
        `p99 ${ms(vx.saturated.p99Ms)} ms at full load, ${ms(vx.fixedRate.p99Ms)} ms at ${latencyQps}/s ` +
        `(dnsmasq ${ms(dm.saturated.p99Ms)} / ${ms(dm.fixedRate.p99Ms)} ms; goal < 2 ms)`,
    );
    console.log(`resolver counters: ${JSON.stringify(dns.counters)}`);
    return result;
  } finally {
    if (dnsmasqPid !== undefined) {
      try {
        process.kill(dnsmasqPid, 'SIGTERM');
      } catch {
        // Already gone.
      }
    }
    await dns?.close();
    // The resolver's resolv.conf: test hosts only remove /etc/netns of namespaces daemons made.
    await rm(join('/etc/netns', ns), { recursive: true, force: true });
    await hosts.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

interface Run {
  readonly qps: number;
  readonly lost: number;
  readonly avgLatencyMs: number;
  readonly cpuSeconds: number;
  /** Per-query latencies in ms (only with verbose). */
  readonly latencies: number[];
}

type Exec = (host: number, cmd: string, args?: readonly string[]) => Promise<unknown>;

/** One dnsperf run inside the namespace; output goes to a file so parsing costs nothing during the run. */
async function dnsperf(
  exec: Exec,
  dir: string,
  server: string,
  queries: string,
  seconds: number,
  serverPid: number,
  pin: boolean,
  opts: { readonly verbose?: boolean; readonly qps?: number },
): Promise<Run> {
  const verbose = opts.verbose ?? false;
  const out = join(dir, `dnsperf-${server}-${Date.now()}.txt`);
  const before = await cpuTicks(serverPid);
  const args = [
    '-s',
    server,
    '-d',
    queries,
    '-c',
    '10',
    '-l',
    String(seconds),
    ...(verbose ? ['-v'] : []),
    ...(opts.qps ? ['-Q', String(opts.qps)] : []),
  ];
  await exec(0, 'sh', ['-c', `${pin ? 'taskset -c 1 ' : ''}dnsperf ${args.join(' ')} > ${out} 2>&1`]);
  const after = await cpuTicks(serverPid);
  const text = await readFile(out, 'utf8');
  await rm(out, { force: true });
  const num = (re: RegExp): number => Number(re.exec(text)?.[1] ?? 'NaN');
  const latencies: number[] = [];
  if (verbose) {
    for (const m of text.matchAll(/^> \S+ \S+ \S+ ([0-9.]+)$/gm)) {
      latencies.push(Number(m[1]) * 1000);
    }
  }
  return {
    qps: num(/Queries per second:\s+([0-9.]+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([0-9.]+)/) * 1000,
    cpuSeconds: (after - before) / CLK_TCK,
    latencies,
  };
}

/** utime + stime of a process, in clock ticks. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const seconds = argValue('--seconds');
  const rounds = argValue('--rounds');
  const names = argValue('--names');
  const latencyQps = argValue('--latency-qps');
  await runDnsBench({
    ...(latencyQps ? { latencyQps: Number(latencyQps) } : {}),
    ...(seconds ? { seconds: Number(seconds) } : {}),
    ...(rounds ? { rounds: Number(rounds) } : {}),
    ...(names ? { names: Number(names) } : {}),
    pin: process.argv.includes('--pin'),
  });
}
