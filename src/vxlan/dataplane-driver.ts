/**
 * The overlay dataplane driver: makes the kernel of this node match a {@link NodeDataplaneSpec}.
 * Level-triggered and idempotent: each pass reads the kernel, diffs it against the spec with pure
 * functions and applies only the difference, in batches (one `ip` batch and one `bridge` batch
 * per namespace, one nft transaction). A pass over an unchanged kernel issues no command; a pass
 * after a crash, a restart or out-of-band tampering repairs what differs and removes what is
 * stale, without ever tripping over leftovers ("file exists"), because nothing is created that the
 * read found present.
 */
import { randomInt } from 'node:crypto';
import { InvalidArgumentError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { DAEMON_SCOPE, scopeLabel } from './command-runner.js';
import type { CommandRunner } from './command-runner.js';
import { diffDataplane } from './dataplane-diff.js';
import type { CommandBatch, DataplanePlan } from './dataplane-plan.js';
import { NFT_COUNTER_DROPPED, NFT_TABLE } from './dataplane-names.js';
import type { NodeDataplaneSpec, ReconcileReport } from './dataplane-spec.js';
import { parseNftTable } from './kernel-json.js';
import { readDataplane } from './kernel-reader.js';
import { snapshotDataplane } from './kernel-snapshot.js';
import type { DataplaneSnapshot } from './kernel-snapshot.js';
import { LbTableCache, lbTableKey } from './lb/lb-cache.js';
import { prepareLoadBalancing } from './lb/lb-node-diff.js';
import type { LbRebase, LbTableWrite, PreparedLoadBalancing } from './lb/lb-node-diff.js';
import { validateLoadBalancing } from './lb/lb-validation.js';
import { executePlan } from './plan-executor.js';
import { validateDataplaneSpec } from './spec-validation.js';

const log = createLogger('vxlan.driver');

/** Options of {@link DataplaneDriver}. */
export interface DataplaneDriverOptions {
  /** Runs the kernel tools; a `ProcessCommandRunner` in the daemon, a `FakeKernel` in unit tests. */
  readonly runner: CommandRunner;
  /**
   * Name of the daemon's namespace when it is a named one (a test host), i.e. the runner's base
   * namespace. Lets the driver check exactly that VXLAN sockets live there.
   */
  readonly daemonNamespace?: string;
  /** Namespaces read concurrently; default 8. */
  readonly readConcurrency?: number;
  /**
   * An LB table is listed in full at least once every this many passes (default 20); in between,
   * only its stamp is (lb/lb-cache.ts). 1 lists every table in full on every pass.
   */
  readonly lbFullReadEvery?: number;
  /** First stamp written into LB tables; default random (two drivers never share stamps). */
  readonly lbFirstStamp?: number;
}

/** Per-call options. */
export interface ReconcileOptions {
  readonly signal?: AbortSignal;
}

/** Packets and bytes of a counter. */
export interface CounterValue {
  readonly packets: number;
  readonly bytes: number;
}

/** A computed but not applied pass (see {@link DataplaneDriver.plan}). */
export interface PlannedPass {
  readonly plan: DataplanePlan;
  readonly errors: readonly string[];
}

/**
 * Drives the kernel of one node. Passes are serialized: a `reconcile` called while another runs
 * waits for it, then reads the kernel afresh.
 */
export class DataplaneDriver {
  readonly #runner: CommandRunner;
  readonly #daemonNamespace: string | undefined;
  readonly #readConcurrency: number;
  /** Tail of the queue of passes; each pass waits for the previous one. */
  #tail: Promise<unknown> = Promise.resolve();
  /** What the LB tables held after the last full read or committed write. */
  readonly #lbCache: LbTableCache;
  /** Stamp of the next LB write; advanced by every pass that writes one. */
  #lbStamp: number;

  constructor(options: DataplaneDriverOptions) {
    this.#runner = options.runner;
    this.#daemonNamespace = options.daemonNamespace;
    this.#readConcurrency = options.readConcurrency ?? 8;
    this.#lbCache = new LbTableCache(Math.max(1, options.lbFullReadEvery ?? 20));
    // A mark is 32 bits; nft reads the decimal.
    this.#lbStamp = (options.lbFirstStamp ?? randomInt(2 ** 32 - 1)) >>> 0;
  }

  /**
   * Makes the kernel match `spec`: creates what is missing, fixes what differs, removes what is
   * stale (overlay namespaces of this daemon's prefix that the spec does not list, entries of
   * departed peers, veths of departed endpoints, egress links carrying the owner alias).
   * Kernel command failures do not reject: they are listed in `report.errors` and the next pass
   * retries them.
   * @throws InvalidArgumentError when the spec is invalid (nothing is touched then).
   * @throws KernelReadError when the daemon's own namespace cannot be read.
   * @throws the signal's reason when aborted (a batch already sent may have been applied).
   * An encrypted overlay is built only once a read found its encryption enforced in the kernel
   * (ipsec/ipsec-diff.ts): a pass that installed the enforcement for one is followed at once by
   * a second pass that builds it (the report then covers both).
   */
  reconcile(spec: NodeDataplaneSpec, options: ReconcileOptions = {}): Promise<ReconcileReport> {
    return this.#reconcileOnce(spec, options).then(async (first) => {
      if ((first.heldBack ?? []).length === 0 || !spec.encryption || first.errors.some((e) => e.startsWith('ipsec: '))) {
        return first;
      }
      const second = await this.#reconcileOnce(spec, options);
      const commands = new Map(first.commands);
      for (const [ns, n] of second.commands) {
        commands.set(ns, (commands.get(ns) ?? 0) + n);
      }
      return {
        ...second,
        commands,
        removedNamespaces: [...new Set([...first.removedNamespaces, ...second.removedNamespaces])],
      };
    });
  }

  /** One read → diff → apply pass (see `reconcile`). */
  #reconcileOnce(spec: NodeDataplaneSpec, options: ReconcileOptions): Promise<ReconcileReport> {
    return this.#serialize(async () => {
      const started = performance.now();
      const pass = async (): Promise<{
        result: Awaited<ReturnType<typeof executePlan>>;
        errors: string[];
        removedNamespaces: string[];
        heldBack: readonly string[] | undefined;
        lbStale: boolean;
      }> => {
        const { plan, errors, removedNamespaces, lbWrites, lbRebases, heldBack } = await this.#plan(
          spec,
          options.signal,
          this.#lbCache,
        );
        if (lbWrites.length > 0) {
          this.#lbStamp = (this.#lbStamp + 1) >>> 0;
        }
        let result;
        try {
          result = await executePlan(this.#runner, plan, options.signal === undefined ? {} : { signal: options.signal });
        } catch (err) {
          // Aborted or a tool could not start: what the LB writes did is unknown.
          for (const w of lbWrites) {
            this.#lbCache.forget(lbTableKey(w.namespace, w.table));
          }
          throw err;
        }
        const lbStale = this.#rememberLbWrites(plan, lbWrites, result.failed);
        for (const r of lbRebases) {
          this.#lbCache.rebase(lbTableKey(r.namespace, r.table), r.state, r.basis);
        }
        return { result, errors, removedNamespaces, heldBack, lbStale };
      };
      let { result, errors, removedNamespaces, heldBack, lbStale } = await pass();
      if (lbStale) {
        // An LB table written without listing its stamp was not what the cache said (changed out
        // of band): that transaction changed nothing. Pass again at once; it reads the table in
        // full. The report covers both passes, with the problems of the second.
        const first = { commands: result.commands, removedNamespaces };
        ({ result, errors, removedNamespaces, heldBack, lbStale } = await pass());
        for (const [ns, n] of first.commands) {
          result.commands.set(ns, (result.commands.get(ns) ?? 0) + n);
        }
        removedNamespaces = [...new Set([...first.removedNamespaces, ...removedNamespaces])];
      }
      const report: ReconcileReport = {
        commands: result.commands,
        removedNamespaces,
        errors: [...errors, ...result.errors],
        ...(heldBack === undefined ? {} : { heldBack }),
      };
      const total = [...result.commands.values()].reduce((a, b) => a + b, 0);
      if (total > 0 || report.errors.length > 0) {
        log.info(
          { commands: total, namespaces: result.commands.size, errors: report.errors.length, ms: Math.round(performance.now() - started) },
          'dataplane reconciled',
        );
      }
      for (const error of report.errors) {
        log.warn({ error }, 'dataplane reconcile problem');
      }
      return report;
    });
  }

  /** Reads and diffs without applying anything: what `reconcile` would do now. */
  plan(spec: NodeDataplaneSpec, options: ReconcileOptions = {}): Promise<PlannedPass> {
    return this.#serialize(async () => {
      // A scratch cache: a dry run must not mark anything as read for the next real pass.
      const { plan, errors } = await this.#plan(spec, options.signal, new LbTableCache(1));
      return { plan, errors };
    });
  }

  /**
   * A canonical picture of what the driver owns in the kernel, for the namespaces `spec` names
   * (see kernel-snapshot.ts): compare two of them to check that a restarted daemon converged to
   * the same kernel as a clean run.
   */
  snapshot(spec: NodeDataplaneSpec, options: ReconcileOptions = {}): Promise<DataplaneSnapshot> {
    return this.#serialize(async () => {
      const read = await readDataplane(this.#runner, spec, {
        concurrency: this.#readConcurrency,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      return snapshotDataplane(read.observed, spec.namespacePrefix);
    });
  }

  /**
   * The guard's drop counter (VXLAN packets from non-members), or undefined when the table or
   * the counter does not exist.
   */
  async readGuardDrops(options: ReconcileOptions = {}): Promise<CounterValue | undefined> {
    const result = await this.#runner.run(
      { tool: 'nft', scope: DAEMON_SCOPE, args: ['-j', 'list', 'table', 'inet', NFT_TABLE] },
      options.signal === undefined ? {} : { signal: options.signal },
    );
    if (result.exitCode !== 0) {
      return undefined;
    }
    return parseNftTable(JSON.parse(result.stdout)).counters.get(NFT_COUNTER_DROPPED);
  }

  async #plan(
    spec: NodeDataplaneSpec,
    signal: AbortSignal | undefined,
    lbCache: LbTableCache,
  ): Promise<{
    plan: DataplanePlan;
    errors: string[];
    removedNamespaces: string[];
    lbWrites: readonly LbTableWrite[];
    lbRebases: readonly LbRebase[];
    heldBack: readonly string[] | undefined;
  }> {
    // LB tables this pass writes with a compare-and-swap on their stamp are not listed (lb/README.md);
    // which ones is known once the spec is checked and the LB deltas computed, just below.
    let settleLbTrusted: (trusted: ReadonlySet<string>) => void = () => undefined;
    const lbTrusted = new Promise<ReadonlySet<string>>((resolve) => {
      settleLbTrusted = resolve;
    });
    // The reads only look, so they start first: checking the spec and computing the LB tables
    // (tens of ms with thousands of services) overlap with the tools running.
    const reading = readDataplane(this.#runner, spec, {
      concurrency: this.#readConcurrency,
      lbCache,
      lbTrusted,
      ...(signal === undefined ? {} : { signal }),
    });
    // Handled here should anything below throw first; `await reading` still sees the failure.
    reading.catch(() => undefined);
    const problems = [...validateDataplaneSpec(spec), ...validateLoadBalancing(spec)];
    if (problems.length > 0) {
      settleLbTrusted(new Set());
      await reading.catch(() => undefined);
      throw new InvalidArgumentError('dataplane spec', problems.join('; '));
    }
    // Taken before the reads settle: the deltas are against what the cache held when they began.
    let lbPrepared: PreparedLoadBalancing | undefined;
    try {
      lbPrepared = prepareLoadBalancing(spec, lbCache, this.#lbStamp);
    } finally {
      settleLbTrusted(lbPrepared?.trusted ?? new Set());
    }
    const read = await reading;
    const { plan, errors, lbWrites, lbRebases, heldBack } = diffDataplane(spec, read.observed, {
      unreadable: read.unreadable,
      broken: read.broken,
      nftUnknown: read.nftUnknown,
      lbStamp: this.#lbStamp,
      lbPrepared,
      ...(read.lb === undefined ? {} : { lb: read.lb }),
      ...(read.ipsec === undefined ? {} : { ipsec: read.ipsec }),
      ...(this.#daemonNamespace === undefined ? {} : { daemonNamespace: this.#daemonNamespace }),
    });
    const registry = plan.stages.filter((s) => s.name === 'registry').flatMap((s) => s.batches.flatMap((b) => b.lines));
    const added = new Set(registry.filter((l) => l.startsWith('netns add ')).map((l) => l.slice('netns add '.length)));
    // A broken entry deleted and added again was repaired, not removed.
    const removedNamespaces = registry
      .filter((l) => l.startsWith('netns del '))
      .map((l) => l.slice('netns del '.length))
      .filter((n) => !added.has(n));
    return { plan, errors: [...read.errors, ...errors], removedNamespaces, lbWrites, lbRebases, heldBack };
  }

  /**
   * A committed LB transaction's table is what the diff computed; a failed one is unknown. True
   * when a compare-and-swap transaction failed.
   */
  #rememberLbWrites(plan: DataplanePlan, writes: readonly LbTableWrite[], failed: ReadonlySet<CommandBatch>): boolean {
    if (writes.length === 0) {
      return false;
    }
    let stale = false;
    const batches = new Map<string, CommandBatch>();
    for (const stage of plan.stages) {
      if (stage.name === 'lb') {
        for (const b of stage.batches) {
          if (b.tool === 'nft') {
            batches.set(scopeLabel(b.scope), b);
          }
        }
      }
    }
    for (const w of writes) {
      const key = lbTableKey(w.namespace, w.table);
      const batch = batches.get(w.namespace);
      if (batch === undefined || failed.has(batch)) {
        this.#lbCache.forget(key);
        stale ||= w.compareAndSwap === true;
      } else {
        this.#lbCache.remember(key, w.after, w.basis);
      }
    }
    return stale;
  }

  #serialize<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    // The queue must survive a failed pass; the caller still sees the failure through `run`.
    this.#tail = run.catch(() => undefined);
    return run;
  }
}
