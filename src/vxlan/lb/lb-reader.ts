/**
 * Reads the LB tables a spec is diffed against: per namespace the `ip vxmesh_lb` table (through
 * the stamp cache, see lb-cache.ts), the publish table of the daemon namespace, and the sysctls the
 * LB needs (forwarding in masquerading namespaces, route_localnet of the egress bridge).
 * Namespaces are read concurrently, a bounded number at a time.
 */
import { DAEMON_SCOPE, netnsScope, scopeLabel } from '../command-runner.js';
import type { CommandRunner, CommandScope, KernelCommandResult } from '../command-runner.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { mapLimited } from '../map-limited.js';
import { FORWARDING_SYSCTL } from '../overlay-diff.js';
import { lbTableKey } from './lb-cache.js';
import type { LbTableCache } from './lb-cache.js';
import { parseLbTable, parseStampSet } from './lb-json.js';
import { LB_FAMILY, LB_TABLE, PUBLISH_TABLE, STAMP_SET, routeLocalnetSysctl } from './lb-names.js';
import type { LbTableState } from './lb-state.js';

/** What the LB read found. Namespaces are named by label ("" = the daemon's). */
export interface ObservedLoadBalancing {
  /** Table per namespace read (the publish table for ""); undefined: no table. */
  readonly tables: ReadonlyMap<string, LbTableState | undefined>;
  /** Namespaces whose table could not be read: left alone this pass. */
  readonly unknown: ReadonlySet<string>;
  /** Sysctls read, per namespace (absent: the read failed, e.g. the interface does not exist yet). */
  readonly sysctls: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly errors: readonly string[];
}

const ABSENT = /No such file or directory/;

function describe(result: KernelCommandResult): string {
  return (result.stderr.trim() || result.stdout.trim() || `exit ${String(result.exitCode)}`).slice(0, 500);
}

/** The stamp set's elements from a listing; undefined when unreadable (then a full read decides). */
function parseStampListing(stdout: string): number[] | undefined {
  try {
    return parseStampSet(JSON.parse(stdout));
  } catch {
    return undefined;
  }
}

type TableRead = { ok: true; table: LbTableState | undefined } | { ok: false; error: string };

/**
 * One table: the stamp first when the cache may serve it, the whole table otherwise. A table
 * known absent and not wanted is not even listed between full reads: a process per container per
 * pass saved, and such a table appearing out of band (nothing of vxmesh creates it) is found at
 * the next full read. A `trusted` table (one this pass writes with a compare-and-swap on its
 * stamp) is not listed either when the cache may serve it: the write checks the stamp instead.
 */
async function readTable(
  runner: CommandRunner,
  scope: CommandScope,
  table: string,
  wanted: boolean,
  trusted: boolean,
  cache: LbTableCache,
  signal: AbortSignal | undefined,
): Promise<TableRead> {
  const opts = signal === undefined ? {} : { signal };
  const key = lbTableKey(scopeLabel(scope), table);
  const cached = cache.get(key);
  if (cached !== undefined && cache.mayServe(key)) {
    if ((!wanted && cached.state === undefined) || (trusted && cached.state !== undefined)) {
      // Trusted: the pass writes this table with a compare-and-swap on the stamp (lb-delta.ts).
      cache.served(key);
      return { ok: true, table: cached.state };
    }
    const result = await runner.run(
      { tool: 'nft', scope, args: ['-j', 'list', 'set', LB_FAMILY, table, STAMP_SET] },
      opts,
    );
    if (result.exitCode === 0) {
      const stamps = parseStampListing(result.stdout);
      const want = cached.state?.stamps;
      if (stamps?.length === 1 && want?.length === 1 && stamps[0] === want[0]) {
        cache.served(key);
        return { ok: true, table: cached.state };
      }
    } else if (ABSENT.test(result.stderr) && cached.state === undefined) {
      cache.served(key);
      return { ok: true, table: undefined };
    } else if (!ABSENT.test(result.stderr)) {
      cache.forget(key);
      return { ok: false, error: describe(result) };
    }
  }
  const result = await runner.run({ tool: 'nft', scope, args: ['-j', 'list', 'table', LB_FAMILY, table] }, opts);
  if (result.exitCode === 0) {
    let state: LbTableState;
    try {
      state = parseLbTable(JSON.parse(result.stdout));
    } catch (err) {
      cache.forget(key);
      return { ok: false, error: `unreadable listing: ${err instanceof Error ? err.message : String(err)}` };
    }
    cache.remember(key, state);
    return { ok: true, table: state };
  }
  if (ABSENT.test(result.stderr)) {
    cache.remember(key, undefined);
    return { ok: true, table: undefined };
  }
  cache.forget(key);
  return { ok: false, error: describe(result) };
}

async function readSysctl(
  runner: CommandRunner,
  scope: CommandScope,
  key: string,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const result = await runner.run({ tool: 'sysctl', scope, args: ['-n', key] }, signal === undefined ? {} : { signal });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** The namespaces whose `ip vxmesh_lb` table the driver owns under `spec` (when it has an LB section). */
export function lbNamespacesOf(spec: NodeDataplaneSpec): string[] {
  return [
    ...new Set([
      ...(spec.loadBalancing?.namespaces.map((n) => n.namespace) ?? []),
      ...spec.overlays.flatMap((o) => o.localEndpoints.map((e) => e.containerNamespace)),
      ...(spec.egress?.attachments.map((a) => a.containerNamespace) ?? []),
    ]),
  ];
}

/** Options of {@link readLoadBalancing}. */
export interface ReadLoadBalancingOptions {
  /**
   * Named namespaces that exist now (`ip netns list`). A promise, so the LB reads can start
   * before the list is known: results of namespaces not in it are dropped.
   */
  readonly namespaces: Promise<ReadonlySet<string>> | ReadonlySet<string>;
  readonly cache: LbTableCache;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  /**
   * Namespaces whose `ip vxmesh_lb` table this pass writes with a compare-and-swap on the stamp
   * (lb-node-diff.ts): served from the cache without listing the stamp. A promise, so the reads
   * can start before the pass knows (results of the other tables do not wait for it).
   */
  readonly trusted?: Promise<ReadonlySet<string>> | ReadonlySet<string>;
}

type JobResult = { read: TableRead; sysctls: Map<string, string> };

/**
 * Reads what the LB section of `spec` is diffed against; nothing at all when the spec has none.
 * Never rejects for a kernel failure (those are `unknown` + `errors`); rejects on abort and when
 * `options.namespaces` rejects.
 */
export async function readLoadBalancing(
  runner: CommandRunner,
  spec: NodeDataplaneSpec,
  options: ReadLoadBalancingOptions,
): Promise<ObservedLoadBalancing> {
  const tables = new Map<string, LbTableState | undefined>();
  const unknown = new Set<string>();
  const sysctls = new Map<string, Map<string, string>>();
  const errors: string[] = [];
  const lb = spec.loadBalancing;
  if (lb === undefined) {
    return { tables, unknown, sysctls, errors };
  }
  const { signal, cache } = options;
  const forwarding = new Set(lb.namespaces.filter((n) => n.masqueradeOut !== undefined).map((n) => n.namespace));
  const wanted = new Set(lb.namespaces.map((n) => n.namespace));
  const jobs: { scope: CommandScope; table: string; wanted: boolean; sysctls: string[] }[] = [
    {
      scope: DAEMON_SCOPE,
      table: PUBLISH_TABLE,
      wanted: lb.publishedPorts.length > 0,
      sysctls:
        spec.egress !== undefined && lb.publishedPorts.length > 0 ? [routeLocalnetSysctl(spec.egress.bridge)] : [],
    },
    ...lbNamespacesOf(spec).map((n) => ({
      scope: netnsScope(n),
      table: LB_TABLE,
      wanted: wanted.has(n),
      sysctls: forwarding.has(n) ? [FORWARDING_SYSCTL] : [],
    })),
  ];
  const trustedNamespaces = options.trusted ?? new Set<string>();
  const running = mapLimited(jobs, options.concurrency, async (job): Promise<JobResult> => {
    // Only a table with a basis can be trusted (a delta needs one): the others do not wait.
    const trusted =
      job.scope.kind === 'netns' &&
      cache.get(lbTableKey(job.scope.name, job.table))?.basis !== undefined &&
      (await trustedNamespaces).has(job.scope.name);
    const [read, values] = await Promise.all([
      readTable(runner, job.scope, job.table, job.wanted, trusted, cache, signal),
      Promise.all(job.sysctls.map((k) => readSysctl(runner, job.scope, k, signal))),
    ]);
    if (!read.ok) {
      signal?.throwIfAborted();
    }
    const found = new Map<string, string>();
    job.sysctls.forEach((k, i) => {
      const v = values[i];
      if (v !== undefined) {
        found.set(k, v);
      }
    });
    return { read, sysctls: found };
  });
  void running.catch(() => undefined);
  const existing = await options.namespaces;
  const results = await running;
  const kept = new Set<string>();
  jobs.forEach((job, i) => {
    const label = scopeLabel(job.scope);
    const result = results[i];
    if (result === undefined || (job.scope.kind === 'netns' && !existing.has(label))) {
      return;
    }
    kept.add(lbTableKey(label, job.table));
    if (result.read.ok) {
      tables.set(label, result.read.table);
    } else {
      unknown.add(label);
      errors.push(`nft ${job.table}${label === '' ? '' : ` in ${label}`}: ${result.read.error}`);
    }
    sysctls.set(label, result.sysctls);
  });
  // Namespaces gone (or not there yet) are forgotten: a new one is read afresh.
  cache.retain(kept);
  return { tables, unknown, sysctls, errors };
}
