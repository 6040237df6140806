/**
 * Load-balancing benchmark (issue 8), three parts, each against a baseline measured in the same run:
 *
 * (a) program 1,000 services x 3 backends (VIP frontends, 12 slots each) into a container
 *     namespace through the driver (a whole pass: read, diff, one `nft -f -`) vs a raw `nft -f -`
 *     of the same ruleset text into an empty namespace (text generation not timed). Goal ≥ 0.8x.
 * (b) with 10,000 services loaded, move one backend through the driver (a whole pass). Goal < 50 ms.
 *     Also shown: the same change as a raw `nft -f -`, a no-op pass, and the first pass of a
 *     restarted driver (full read of the table).
 * (c) requests/s through the routing mesh vs straight to the same task's address (a static route
 *     on the outside client to node 1's egress subnet): entering on the task's node (host DNAT →
 *     sandbox DNAT + masquerade → ingress overlay) and on another node (the same plus VXLAN), and a
 *     container → service VIP vs → the task's overlay address. A new connection per request (load
 *     balancing is per connection); Node HTTP servers; only t1 serves, so every path ends at the
 *     same server process. Goal ≥ 0.8x.
 *
 *   node --import tsx bench/lb.ts [--reps 5] [--requests 2000] [--parts a,b,c]
 *
 * Needs root; everything lives in throwaway namespaces removed at the end.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { ProcessCommandRunner } from '../src/vxlan/command-runner-process.js';
import { DataplaneDriver } from '../src/vxlan/dataplane-driver.js';
import type { LbFrontendSpec, NodeDataplaneSpec } from '../src/vxlan/dataplane-spec.js';
import { createLines, desiredLbTable } from '../src/vxlan/lb/lb-table.js';
import { runCommand } from '../test/support/command.js';
import { createDataplaneHosts } from '../test/vxlan/dataplane-hosts.js';
import type { DataplaneHosts } from '../test/vxlan/dataplane-hosts.js';
import { APP_VIP, MESH_PORT, TASKS, buildMeshTopology } from '../test/vxlan/lb-mesh-topology.js';
import { LbClient, killLbProcesses } from '../test/vxlan/lb-processes.js';
import type { HttpRun } from '../test/vxlan/lb-processes.js';

interface Options {
  readonly reps: number;
  readonly requests: number;
  readonly parts: readonly string[];
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const ms = (n: number): string => `${n.toFixed(n < 10 ? 1 : 0)} ms`;

/** `count` services: VIP 10.(100+i/65536).x.y tcp 80 → 3 backends in 10.200/16-10.203/16. */
function services(count: number, variant = 0): LbFrontendSpec[] {
  const out: LbFrontendSpec[] = [];
  for (let i = 0; i < count; i++) {
    const vip = `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
    const backends = [0, 1, 2].map((b) => {
      const n = i * 3 + b;
      return { addr: `10.${200 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`, port: 8080 };
    });
    if (i === 0 && variant !== 0) {
      backends[2] = { addr: `10.250.0.${variant}`, port: 8080 };
    }
    out.push({ addr: vip, protocol: 'tcp', port: 80, backends });
  }
  return out;
}

async function nftIn(netns: string, script: string): Promise<void> {
  await runCommand('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], { input: script });
}

async function tableParts(env: DataplaneHosts, options: Options): Promise<Record<string, unknown>> {
  const node = env.node(0);
  const container = await env.addContainer('lb');
  const rawNs = await env.addContainer('raw');
  const spec = (frontends: LbFrontendSpec[]): NodeDataplaneSpec => ({
    namespacePrefix: node.prefix,
    dataPathAddr: node.host.underlayIp,
    dataPathPort: 4789,
    memberVteps: [node.host.underlayIp],
    overlays: [],
    // The container's egress port makes its namespace one the spec names, so an empty LB section
    // removes its table (the driver owns LB tables only in namespaces the spec names).
    egress: {
      bridge: 'vxgw0',
      gatewayCidr: '172.18.0.1/16',
      attachments: [
        {
          containerId: 'lb0000000000',
          containerNamespace: container,
          ifName: 'eth0',
          ipv4Cidr: '172.18.0.2/16',
          defaultRoute: false,
        },
      ],
    },
    loadBalancing: {
      namespaces: frontends.length === 0 ? [] : [{ namespace: container, hook: 'output', frontends }],
      publishedPorts: [],
    },
  });
  const check = (errors: readonly string[]): void => {
    if (errors.length > 0) {
      throw new Error(errors.join('; '));
    }
  };
  check((await node.driver.reconcile(spec([]))).errors);
  const out: Record<string, unknown> = {};

  if (options.parts.includes('a')) {
    const thousand = services(1000);
    const rawText = `${createLines(desiredLbTable({ namespace: container, hook: 'output', frontends: thousand }), 1).join('\n')}\n`;
    const driverMs: number[] = [];
    const rawMs: number[] = [];
    for (let rep = 0; rep < options.reps; rep++) {
      await nftIn(rawNs, 'flush ruleset\n');
      rawMs.push(await timed(() => nftIn(rawNs, rawText)));
      check((await node.driver.reconcile(spec([]))).errors);
      let errors: readonly string[] = [];
      driverMs.push(await timed(async () => void ({ errors } = await node.driver.reconcile(spec(thousand)))));
      check(errors);
    }
    const ratios = rawMs.map((r, i) => r / (driverMs[i] ?? Number.NaN));
    out['a'] = {
      services: 1000,
      backends: 3,
      slots: 12,
      driverMs: median(driverMs),
      rawMs: median(rawMs),
      ratio: median(ratios),
    };
    console.log(
      `(a) 1,000 services x 3 backends (12,000 map elements): driver pass ${ms(median(driverMs))} | raw nft -f ${ms(median(rawMs))} | ` +
        `ratio raw/driver (median of pairs) ${median(ratios).toFixed(2)}x (goal ≥ 0.8x)`,
    );
    console.log(
      `    all reps, ms: driver ${driverMs.map(Math.round).join(' ')}; raw ${rawMs.map(Math.round).join(' ')}`,
    );
  }

  if (options.parts.includes('b')) {
    const loaded = services(10_000);
    const loadMs = await timed(async () => check((await node.driver.reconcile(spec(loaded))).errors));
    const variants = [spec(services(10_000, 1)), spec(services(10_000, 2))];
    const updateMs: number[] = [];
    let lines = 0;
    for (let rep = 0; rep < Math.max(options.reps, 10); rep++) {
      const next = variants[rep % 2] ?? spec([]);
      let errors: readonly string[] = [];
      updateMs.push(
        await timed(async () => {
          const report = await node.driver.reconcile(next);
          errors = report.errors;
          lines = report.commands.get(container) ?? 0;
        }),
      );
      check(errors);
    }
    const current = variants[(Math.max(options.reps, 10) - 1) % 2] ?? spec([]);
    const noopMs: number[] = [];
    for (let rep = 0; rep < options.reps; rep++) {
      noopMs.push(await timed(() => node.driver.reconcile(current)));
    }
    // A restarted driver lists the whole table once.
    const restarted = new DataplaneDriver({
      runner: new ProcessCommandRunner({ baseNamespace: node.host.netns }),
      daemonNamespace: node.host.netns,
    });
    let restartCommands = -1;
    const restartMs = await timed(async () => {
      const report = await restarted.reconcile(current);
      check(report.errors);
      restartCommands = [...report.commands.values()].reduce((a, b) => a + b, 0);
    });
    const again = await timed(() => restarted.reconcile(current));
    // The same one-frontend change as a raw transaction, into the loaded table.
    const rawMs: number[] = [];
    const key = '10.100.0.0 . tcp . 80';
    for (let rep = 0; rep < options.reps; rep++) {
      const to = `10.250.1.${rep + 1} . 8080`;
      const slots = [2, 5, 8, 11];
      const script =
        `delete element ip vxmesh_lb backends { ${slots.map((s) => `${key} . ${s}`).join(', ')} }\n` +
        `add element ip vxmesh_lb backends { ${slots.map((s) => `${key} . ${s} : ${to}`).join(', ')} }\n`;
      rawMs.push(await timed(() => nftIn(container, script)));
    }
    out['b'] = {
      services: 10_000,
      loadMs,
      updateMs: median(updateMs),
      updateLines: lines,
      rawUpdateMs: median(rawMs),
      noopPassMs: median(noopMs),
      restartFirstPassMs: restartMs,
      restartFirstPassCommands: restartCommands,
      restartSecondPassMs: again,
    };
    console.log(
      `(b) 10,000 services loaded (${ms(loadMs)} to load through the driver): one backend moved through the driver ` +
        `${ms(median(updateMs))} (${lines} nft lines; goal < 50 ms) | same change as raw nft -f ${ms(median(rawMs))} | ` +
        `no-op pass ${ms(median(noopMs))} | restarted driver: first pass (full read) ${ms(restartMs)} ` +
        `(${restartCommands} commands), next ${ms(again)}`,
    );
    console.log(`    all reps, ms: update ${updateMs.map(Math.round).join(' ')}`);
    // The raw edits left the driver's cache stale: the removal must still go through (table delete).
    check((await node.driver.reconcile(spec([]))).errors);
  }
  return out;
}

/** Where the hand-built plain VXLAN path of {@link plainVxlanPath} ends: an extra address of t1. */
const PLAIN_VXLAN_TARGET = '10.96.0.11';

/**
 * A reference path for the routing mesh entering on node 0: the outside client reaches t1 through
 * node 0 and a plain VXLAN between the two hosts' namespaces (its own VNI and UDP port, next to
 * vxmesh's), without NAT, sandbox or overlay namespaces. t1 gets an extra address on its egress
 * interface; node 1 routes it there and sends t1's replies from it back over the VXLAN (a source
 * rule), so both directions take the same hops as the mesh's: client → node 0 → VXLAN → node 1 →
 * t1. It shows what an extra node and software VXLAN cost by themselves on this machine.
 */
async function plainVxlanPath(env: DataplaneHosts, t1Namespace: string): Promise<string> {
  const [h0, h1, outside] = [env.node(0).host, env.node(1).host, env.node(2).host];
  const ip = (netns: string, ...args: string[]): Promise<unknown> => runCommand('ip', ['-n', netns, ...args]);
  for (const [self, peer, addr] of [
    [h0, h1, '10.97.0.2/30'],
    [h1, h0, '10.97.0.1/30'],
  ] as const) {
    const vxlan = [
      'type',
      'vxlan',
      'id',
      '4999',
      'local',
      self.underlayIp,
      'remote',
      peer.underlayIp,
      'dstport',
      '4799',
    ];
    await ip(self.netns, 'link', 'add', 'vxplain', ...vxlan);
    await ip(self.netns, 'addr', 'add', addr, 'dev', 'vxplain');
    await ip(self.netns, 'link', 'set', 'vxplain', 'up');
    await runCommand('ip', ['netns', 'exec', self.netns, 'sysctl', '-q', '-w', 'net.ipv4.conf.vxplain.rp_filter=0']);
  }
  await ip(outside.netns, 'route', 'add', `${PLAIN_VXLAN_TARGET}/32`, 'via', h0.underlayIp);
  await ip(h0.netns, 'route', 'add', `${PLAIN_VXLAN_TARGET}/32`, 'via', '10.97.0.1', 'dev', 'vxplain');
  await ip(t1Namespace, 'addr', 'add', `${PLAIN_VXLAN_TARGET}/32`, 'dev', 'eth2');
  await ip(h1.netns, 'route', 'add', `${PLAIN_VXLAN_TARGET}/32`, 'via', TASKS[0].egressIp, 'dev', 'vxgw0');
  await ip(h1.netns, 'rule', 'add', 'from', PLAIN_VXLAN_TARGET, 'lookup', '4799');
  await ip(h1.netns, 'route', 'add', 'default', 'via', '10.97.0.2', 'dev', 'vxplain', 'table', '4799');
  return `http://${PLAIN_VXLAN_TARGET}/`;
}

async function meshPart(env: DataplaneHosts, options: Options): Promise<Record<string, unknown>> {
  const mesh = await buildMeshTopology(env);
  // Only t1 serves: both paths end at the same server process, only the network path differs.
  const [r0, r1] = await mesh.reconcile(['t1']);
  if (r0.errors.length + r1.errors.length > 0) {
    throw new Error([...r0.errors, ...r1.errors].join('; '));
  }
  const outsideNs = env.node(2).host.netns;
  await runCommand('ip', ['-n', outsideNs, 'route', 'add', '172.18.0.0/16', 'via', env.node(1).host.underlayIp]);
  const plainVxlan = await plainVxlanPath(env, mesh.taskNamespaces[0] ?? '');
  // One source address per measured path of the outside client. The server closes first, so each
  // connection leaves a TIME_WAIT at t1 for 60 s; paths that keep the client's address (straight,
  // and the mesh's local slots) would otherwise share t1's 4-tuples, and a SYN meeting a TIME_WAIT
  // of another path's connection (randomized timestamp offsets) stalls for a 1 s retransmission:
  // the straight path fell from ~7,000 to ~1,500 req/s after the first pair that way.
  const sources = [1, 2, 3, 4, 5].map((i) => `198.51.100.${200 + i}`);
  for (const addr of sources) {
    await runCommand('ip', ['-n', outsideNs, 'addr', 'add', `${addr}/24`, 'dev', env.node(2).host.ifname]);
  }
  const source = (i: number): string => sources[i] ?? '';
  const outside = await LbClient.start(outsideNs);
  const cc = await LbClient.start(mesh.ccNamespace);
  try {
    const t1 = TASKS[0];
    type Path = { url: string; from?: string };
    const pairs: {
      name: string;
      client: LbClient;
      via: Path;
      direct: Path;
      reference?: { name: string; path: Path };
    }[] = [
      {
        name: "routing mesh, entering on the task's node",
        client: outside,
        via: { url: `http://${env.node(1).host.underlayIp}:${MESH_PORT}/`, from: source(0) },
        direct: { url: `http://${t1.egressIp}/`, from: source(1) },
      },
      {
        name: 'routing mesh, entering on another node (VXLAN)',
        client: outside,
        via: { url: `http://${env.node(0).host.underlayIp}:${MESH_PORT}/`, from: source(2) },
        direct: { url: `http://${t1.egressIp}/`, from: source(3) },
        reference: {
          name: 'plain VXLAN through node 0 to t1, no NAT (plainVxlanPath)',
          path: { url: plainVxlan, from: source(4) },
        },
      },
      { name: 'service VIP', client: cc, via: { url: `http://${APP_VIP}/` }, direct: { url: `http://${t1.appIp}/` } },
    ];
    const out: Record<string, unknown> = {};
    for (const pair of pairs) {
      const viaRps: number[] = [];
      const directRps: number[] = [];
      const referenceRps: number[] = [];
      const run = async ({ url, from }: Path): Promise<number> => {
        const r = await pair.client.call<HttpRun>(
          {
            op: 'http',
            url,
            count: options.requests,
            concurrency: 8,
            ...(from === undefined ? {} : { localAddress: from }),
          },
          300_000,
        );
        if (r.failed > 0 || (r.names['t1'] ?? 0) !== options.requests) {
          throw new Error(`${url}: ${JSON.stringify(r)}`);
        }
        return (r.ok / r.ms) * 1000;
      };
      await run(pair.via); // warm-up (ARP, JIT)
      await run(pair.direct);
      if (pair.reference !== undefined) {
        await run(pair.reference.path);
      }
      for (let rep = 0; rep < options.reps; rep++) {
        viaRps.push(await run(pair.via));
        directRps.push(await run(pair.direct));
        if (pair.reference !== undefined) {
          referenceRps.push(await run(pair.reference.path));
        }
      }
      const ratios = viaRps.map((v, i) => v / (directRps[i] ?? Number.NaN));
      out[pair.name] = { viaRps: median(viaRps), directRps: median(directRps), ratio: median(ratios) };
      console.log(
        `(c) ${pair.name}: ${Math.round(median(viaRps))} req/s vs straight to the task ${Math.round(median(directRps))} req/s | ` +
          `ratio ${median(ratios).toFixed(2)}x (goal ≥ 0.8x; ${options.requests} requests, 8 in flight, new connection each)`,
      );
      console.log(
        `    all reps, req/s: via ${viaRps.map(Math.round).join(' ')}; direct ${directRps.map(Math.round).join(' ')}`,
      );
      if (pair.reference !== undefined) {
        const refVsDirect = median(referenceRps.map((r, i) => r / (directRps[i] ?? Number.NaN)));
        const viaVsRef = median(viaRps.map((v, i) => v / (referenceRps[i] ?? Number.NaN)));
        out[pair.name] = { ...(out[pair.name] as object), referenceRps: median(referenceRps), refVsDirect, viaVsRef };
        console.log(
          `    reference, ${pair.reference.name}: ${Math.round(median(referenceRps))} req/s = ${refVsDirect.toFixed(2)}x ` +
            `straight; the mesh = ${viaVsRef.toFixed(2)}x this path (reps: ${referenceRps.map(Math.round).join(' ')})`,
        );
      }
    }
    return out;
  } finally {
    outside.close();
    cc.close();
  }
}

/** Runs the benchmark and prints a line per measurement plus a JSON summary. */
export async function runLbBench(options: Options): Promise<Record<string, unknown>> {
  const results: Record<string, unknown> = {};
  if (options.parts.includes('a') || options.parts.includes('b')) {
    const env = await createDataplaneHosts({ count: 1 });
    try {
      Object.assign(results, await tableParts(env, options));
    } finally {
      await env.destroy();
    }
  }
  if (options.parts.includes('c')) {
    const env = await createDataplaneHosts({ count: 3 });
    try {
      results['c'] = await meshPart(env, options);
    } finally {
      await killLbProcesses();
      await env.destroy();
    }
  }
  console.log(JSON.stringify({ reps: options.reps, requests: options.requests, results }));
  return results;
}

function parseArgs(argv: readonly string[]): Options {
  let reps = 5;
  let requests = 2000;
  let parts = ['a', 'b', 'c'];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--reps') {
      reps = Number(argv[++i]);
    } else if (argv[i] === '--requests') {
      requests = Number(argv[++i]);
    } else if (argv[i] === '--parts') {
      parts = (argv[++i] ?? '').split(',');
    }
  }
  return { reps, requests, parts };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(`vxmesh load-balancing bench: ${new Date().toISOString()}`);
  await runLbBench(parseArgs(process.argv.slice(2)));
}
