/**
 * Reads the kernel state a spec is diffed against: one `ip -j -d -batch -` per namespace (several
 * `show` commands, one process), plus `bridge -j fdb show` per overlay namespace, one
 * `nft -j list table` and the sysctls the spec depends on. Namespaces are read concurrently, a
 * bounded number at a time. With an LB section (and the driver's LB cache), the LB tables of the
 * namespaces are read alongside (lb/lb-reader.ts).
 */
import { DAEMON_SCOPE, netnsScope } from './command-runner.js';
import type { CommandRunner, CommandScope, KernelCommandResult } from './command-runner.js';
import { NFT_TABLE, overlayNamespacePrefix } from './dataplane-names.js';
import type { NodeDataplaneSpec } from './dataplane-spec.js';
import { BRIDGE_NF_CALL_IPTABLES_SYSCTL } from './egress-diff.js';
import { parseFdb, parseJsonSequence, parseLinks, parseNeighbours, parseNetnsList, parseNftTable, parseRoutes } from './kernel-json.js';
import type { NamespaceState, NftTableState, ObservedDataplane } from './kernel-state.js';
import type { LbTableCache } from './lb/lb-cache.js';
import { readLoadBalancing } from './lb/lb-reader.js';
import type { ObservedLoadBalancing } from './lb/lb-reader.js';
import { mapLimited } from './map-limited.js';
import { FORWARDING_SYSCTL } from './overlay-diff.js';
import { readIpsec } from './ipsec/ipsec-reader.js';
import type { ObservedIpsec } from './ipsec/ipsec-reader.js';

/** Result of {@link readDataplane}. */
export interface ReadResult {
  readonly observed: ObservedDataplane;
  /** Namespaces that exist but could not be read (vanished meanwhile, or a tool failed). */
  readonly unreadable: ReadonlySet<string>;
  /**
   * Of those, the ones whose /run/netns entry is not a namespace at all: an empty file left by an
   * `ip netns add` killed between creating the file and bind-mounting the namespace on it.
   */
  readonly broken: ReadonlySet<string>;
  /** The nft table could not be listed for another reason than its absence. */
  readonly nftUnknown: boolean;
  /** The LB tables and sysctls; only read when the spec has an LB section and a cache is given. */
  readonly lb?: ObservedLoadBalancing;
  /** XFRM and the IPsec nft table; only read when the spec has an encryption section. */
  readonly ipsec?: ObservedIpsec;
  readonly errors: readonly string[];
}

/** Failure of a read the pass cannot do without (the daemon namespace itself). */
export class KernelReadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'KernelReadError';
  }
}

/** What `ip -n NAME` prints when /run/netns/NAME does not exist. */
const NO_NAMESPACE = /Cannot open network namespace "[^"]*": No such file or directory/;

/** What `ip -n NAME` prints when /run/netns/NAME is a plain file instead of a namespace mount. */
const BROKEN_NAMESPACE = /setting the network namespace "[^"]*" failed: Invalid argument/;

type Show = 'netns' | 'addr' | 'neigh' | 'route';
const SHOW_COMMAND: Record<Show, string> = {
  netns: 'netns list',
  addr: 'addr show',
  neigh: 'neigh show',
  route: 'route show table all',
};

function describe(result: KernelCommandResult): string {
  return (result.stderr.trim() || result.stdout.trim() || `exit ${String(result.exitCode)}`).slice(0, 500);
}

/**
 * One `ip -j -d -batch -` with the given shows. `netns list` should come last: listing links
 * allocates the ids of the namespaces their peers live in, which the list then includes.
 */
async function readIp(
  runner: CommandRunner,
  scope: CommandScope,
  shows: readonly Show[],
  signal: AbortSignal | undefined,
): Promise<Map<Show, unknown>> {
  const result = await runner.run(
    { tool: 'ip', scope, args: ['-j', '-d', '-batch', '-'], input: `${shows.map((s) => SHOW_COMMAND[s]).join('\n')}\n` },
    signal === undefined ? {} : { signal },
  );
  if (result.exitCode !== 0) {
    throw new KernelReadError(describe(result));
  }
  const docs = parseJsonSequence(result.stdout);
  if (docs.length !== shows.length) {
    throw new KernelReadError(`expected ${shows.length} JSON documents from ip, got ${docs.length}`);
  }
  return new Map(shows.map((s, i) => [s, docs[i]]));
}

async function readFdb(runner: CommandRunner, scope: CommandScope, signal: AbortSignal | undefined): Promise<unknown> {
  const result = await runner.run(
    { tool: 'bridge', scope, args: ['-j', 'fdb', 'show'] },
    signal === undefined ? {} : { signal },
  );
  if (result.exitCode !== 0) {
    throw new KernelReadError(describe(result));
  }
  return result.stdout.trim() === '' ? [] : JSON.parse(result.stdout);
}

async function readSysctl(
  runner: CommandRunner,
  scope: CommandScope,
  key: string,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  const result = await runner.run({ tool: 'sysctl', scope, args: ['-n', key] }, signal === undefined ? {} : { signal });
  if (result.exitCode !== 0) {
    throw new KernelReadError(describe(result));
  }
  return new Map([[key, result.stdout.trim()]]);
}

/**
 * The daemon namespace's forwarding sysctl and, with `bridgeNf`, br_netfilter's
 * `bridge-nf-call-iptables`, in one process: `-e` leaves out a key that does not exist (br_netfilter
 * not loaded) instead of failing. `net.ipv4.ip_forward` exists in every namespace, so the first
 * line is always its value and a second line, when present, the bridge key's.
 */
async function readDaemonSysctls(
  runner: CommandRunner,
  bridgeNf: boolean,
  signal: AbortSignal | undefined,
): Promise<Map<string, string>> {
  if (!bridgeNf) {
    return readSysctl(runner, DAEMON_SCOPE, FORWARDING_SYSCTL, signal);
  }
  const result = await runner.run(
    { tool: 'sysctl', scope: DAEMON_SCOPE, args: ['-n', '-e', FORWARDING_SYSCTL, BRIDGE_NF_CALL_IPTABLES_SYSCTL] },
    signal === undefined ? {} : { signal },
  );
  if (result.exitCode !== 0) {
    throw new KernelReadError(describe(result));
  }
  const [forwarding, bridge] = result.stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const out = new Map<string, string>();
  if (forwarding !== undefined) {
    out.set(FORWARDING_SYSCTL, forwarding);
  }
  if (bridge !== undefined) {
    out.set(BRIDGE_NF_CALL_IPTABLES_SYSCTL, bridge);
  }
  return out;
}

async function readNft(
  runner: CommandRunner,
  signal: AbortSignal | undefined,
): Promise<{ table: NftTableState | undefined; unknown: boolean; error?: string }> {
  const result = await runner.run(
    { tool: 'nft', scope: DAEMON_SCOPE, args: ['-j', 'list', 'table', 'inet', NFT_TABLE] },
    signal === undefined ? {} : { signal },
  );
  if (result.exitCode === 0) {
    return { table: parseNftTable(JSON.parse(result.stdout)), unknown: false };
  }
  if (/No such file or directory/.test(result.stderr)) {
    return { table: undefined, unknown: false };
  }
  return { table: undefined, unknown: true, error: `nft: ${describe(result)}` };
}

function namespaceState(shows: Map<Show, unknown>, fdb: unknown, sysctls: Map<string, string>): NamespaceState {
  const netns = parseNetnsList(shows.get('netns'));
  return {
    links: parseLinks(shows.get('addr')),
    neighbours: shows.has('neigh') ? parseNeighbours(shows.get('neigh')) : [],
    fdb: fdb === undefined ? [] : parseFdb(fdb),
    routes: shows.has('route') ? parseRoutes(shows.get('route')) : [],
    netnsIds: netns.ids,
    sysctls,
  };
}

/** Options of {@link readDataplane}. */
export interface ReadDataplaneOptions {
  readonly signal?: AbortSignal;
  /** Namespaces read at the same time; default 8 (each read is one or two short processes). */
  readonly concurrency?: number;
  /**
   * Remembered LB tables (lb/lb-cache.ts). Without it the LB tables are not read at all (e.g. a
   * snapshot); with it and an LB section in the spec, they are read alongside the namespaces.
   */
  readonly lbCache?: LbTableCache;
  /** LB tables the pass writes with a compare-and-swap on the stamp: not listed (lb/lb-reader.ts). */
  readonly lbTrusted?: Promise<ReadonlySet<string>>;
}

/**
 * Reads everything `spec` is diffed against.
 * @throws KernelReadError when the daemon namespace itself cannot be read.
 */
export async function readDataplane(
  runner: CommandRunner,
  spec: NodeDataplaneSpec,
  options: ReadDataplaneOptions = {},
): Promise<ReadResult> {
  const { signal, concurrency = 8, lbCache, lbTrusted } = options;
  const errors: string[] = [];
  const unreadable = new Set<string>();
  const broken = new Set<string>();

  const daemonRead = readIp(runner, DAEMON_SCOPE, ['addr', 'netns'], signal).catch((err: unknown) => {
    throw new KernelReadError(`daemon namespace: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  });
  // The LB tables are read from the start, alongside everything else (lb/lb-reader.ts).
  const lbRead =
    lbCache === undefined || spec.loadBalancing === undefined
      ? Promise.resolve(undefined)
      : readLoadBalancing(runner, spec, {
          namespaces: daemonRead.then((shows) => new Set(parseNetnsList(shows.get('netns')).names)),
          cache: lbCache,
          concurrency,
          ...(signal === undefined ? {} : { signal }),
          ...(lbTrusted === undefined ? {} : { trusted: lbTrusted }),
        });
  // Not left unobserved should another read fail first.
  void lbRead.catch(() => undefined);
  const ipsecRead =
    spec.encryption === undefined ? Promise.resolve(undefined) : readIpsec(runner, signal === undefined ? {} : { signal });
  void ipsecRead.catch(() => undefined);

  // Container namespaces are read from the start too, without waiting for the namespace list (one
  // round of processes less before the diff); a namespace the list then lacks is dropped, one that
  // did not exist yet when read but is listed is read again.
  const specContainers = [
    ...new Set([
      ...spec.overlays.flatMap((o) => o.localEndpoints.map((e) => e.containerNamespace)),
      ...(spec.egress?.attachments.map((a) => a.containerNamespace) ?? []),
    ]),
  ];
  const readContainer = (name: string): Promise<NamespaceState> =>
    readIp(runner, netnsScope(name), ['addr', 'route', 'netns'], signal).then((shows) =>
      namespaceState(shows, undefined, new Map()),
    );
  const earlyContainers = mapLimited(specContainers, concurrency, (name) =>
    readContainer(name).then(
      (state) => ({ name, state, error: undefined }),
      (error: unknown) => ({ name, state: undefined, error }),
    ),
  ).then((results) => new Map(results.map((r) => [r.name, r])));
  void earlyContainers.catch(() => undefined);

  const [daemonShows, daemonSysctls, nft] = await Promise.all([
    daemonRead,
    spec.egress === undefined
      ? Promise.resolve(new Map<string, string>())
      : readDaemonSysctls(runner, spec.loadBalancing?.ingressSandbox !== undefined, signal).catch((err: unknown) => {
          errors.push(`daemon sysctl: ${err instanceof Error ? err.message : String(err)}`);
          return new Map<string, string>();
        }),
    readNft(runner, signal),
  ]);
  if (nft.error !== undefined) {
    errors.push(nft.error);
  }
  const namespaces = new Set(parseNetnsList(daemonShows.get('netns')).names);
  const daemon = namespaceState(daemonShows, undefined, daemonSysctls);

  const ours = overlayNamespacePrefix(spec.namespacePrefix);
  const specOverlays = new Map(spec.overlays.map((o) => [o.namespace, o]));
  const overlayNames = [...namespaces].filter((n) => n.startsWith(ours));
  const containerNames = specContainers.filter((n) => namespaces.has(n));

  type Job = { kind: 'overlay' | 'container'; name: string };
  const jobs: Job[] = [
    ...overlayNames.map((name) => ({ kind: 'overlay' as const, name })),
    ...containerNames.map((name) => ({ kind: 'container' as const, name })),
  ];
  const states = await mapLimited(jobs, concurrency, async (job): Promise<NamespaceState | undefined> => {
    const scope = netnsScope(job.name);
    try {
      if (job.kind === 'container') {
        const early = (await earlyContainers).get(job.name);
        if (early?.state !== undefined) {
          return early.state;
        }
        signal?.throwIfAborted();
        if (early !== undefined && !NO_NAMESPACE.test(early.error instanceof Error ? early.error.message : '')) {
          throw early.error;
        }
        // Listed now, but not there yet when read early.
        return await readContainer(job.name);
      }
      const spec = specOverlays.get(job.name);
      if (spec === undefined) {
        // Stale: only its links are needed, to delete them.
        return namespaceState(await readIp(runner, scope, ['addr', 'netns'], signal), undefined, new Map());
      }
      const [shows, fdb, sysctls] = await Promise.all([
        readIp(runner, scope, ['addr', 'neigh', 'netns'], signal),
        readFdb(runner, scope, signal),
        spec.subnets.length > 1 ? readSysctl(runner, scope, FORWARDING_SYSCTL, signal) : Promise.resolve(new Map<string, string>()),
      ]);
      return namespaceState(shows, fdb, sysctls);
    } catch (err) {
      signal?.throwIfAborted();
      unreadable.add(job.name);
      if (job.kind === 'overlay' && err instanceof KernelReadError && BROKEN_NAMESPACE.test(err.message)) {
        // Repaired by this pass (deleted, and re-created when in the spec): not an error.
        broken.add(job.name);
      } else {
        errors.push(`namespace ${job.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      return undefined;
    }
  });

  const lb = await lbRead;
  if (lb !== undefined) {
    errors.push(...lb.errors);
  }
  const ipsec = await ipsecRead;

  const overlays = new Map<string, NamespaceState>();
  const containers = new Map<string, NamespaceState>();
  jobs.forEach((job, i) => {
    const state = states[i];
    if (state !== undefined) {
      (job.kind === 'overlay' ? overlays : containers).set(job.name, state);
    }
  });
  return {
    observed: { namespaces, daemon, overlays, containers, nft: nft.table },
    unreadable,
    broken,
    nftUnknown: nft.unknown,
    ...(lb === undefined ? {} : { lb }),
    ...(ipsec === undefined ? {} : { ipsec }),
    errors,
  };
}
