import { randomInt } from 'node:crypto';
import { ClosedError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { AskerContext } from './asker-context.js';
import { buildAskerView, ISOLATED_VIEW } from './asker-view.js';
import type { AskerView } from './asker-view.js';
import { buildRecordTable } from './build-record-table.js';
import { ContainerResolver } from './container-resolver.js';
import { createDnsCounters } from './dns-counters.js';
import type { DnsCounters } from './dns-counters.js';
import type { DnsNamespaceDriver } from './dns-namespace-driver.js';
import { EMPTY_DNS_STATE } from './dns-state.js';
import type { DnsNetwork, DnsState } from './dns-state.js';
import { readHostResolvConf } from './host-resolv-conf.js';
import { QueryHandler } from './query-handler.js';
import { renderContainerResolvConf } from './resolv-conf.js';
import type { ResolvConf } from './resolv-conf.js';
import type { RecordTable } from './record-table.js';
import { UpstreamForwarder } from './upstream-forwarder.js';

const log = createLogger('worker.dns');

export const DEFAULT_DNS_TTL_SECONDS = 10;
export const DEFAULT_FORWARD_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_FORWARDS_IN_FLIGHT = 1024;
export const DEFAULT_MAX_TCP_CONNECTIONS = 64;
export const DEFAULT_TCP_IDLE_MS = 10_000;

export interface EmbeddedDnsOptions {
  readonly driver: DnsNamespaceDriver;
  /** The state to serve now; read on every {@link EmbeddedDns.refresh}. */
  readonly desired: () => DnsState;
  /** The host's resolver configuration (servers, search, options). Default: /etc/resolv.conf. */
  readonly hostResolvConf?: () => Promise<ResolvConf>;
  /** TTL of cluster answers. Default 10 s (Swarm uses 600 s, too long for churn). */
  readonly ttlSeconds?: number;
  /** Per upstream server attempt. Default 2 s. */
  readonly forwardTimeoutMs?: number;
  /** Node-wide; past it forwarded queries are REFUSED. Default 1024. */
  readonly maxForwardsInFlight?: number;
  /** Per container. Default 64. */
  readonly maxTcpConnections?: number;
  /** Default 10 s. */
  readonly tcpIdleMs?: number;
  /** Uniform in [0, 1), shuffles multi-address answers. Default Math.random. */
  readonly random?: () => number;
  /** 16-bit IDs of upstream queries; unpredictable by default (crypto). */
  readonly randomId?: () => number;
}

/** The container fields the resolver needs. */
export interface ResolverContainer {
  readonly id: string;
  readonly namespace: string;
  /** --dns-search; empty or absent: the host's search domains. */
  readonly dnsSearch?: readonly string[];
  /** --dns-option; empty or absent: the host's options (without its ndots). */
  readonly dnsOptions?: readonly string[];
}

/** What a container's resolver is doing, for inspection. */
export type ResolverStatus =
  | { readonly phase: 'binding' }
  | { readonly phase: 'serving'; readonly namespace: string }
  | { readonly phase: 'failed'; readonly error: string };

interface Entry {
  readonly namespace: string;
  resolver: ContainerResolver | undefined;
  status: ResolverStatus;
  /** Serializes prepare/release of one container. */
  op: Promise<void>;
}

/**
 * The node's embedded DNS: one resolver per local container, all served by this process.
 *
 * - {@link prepare} gives a container its resolver: writes its resolv.conf and has the driver
 *   bind 127.0.0.11:53 (UDP and TCP) inside its namespace; {@link release} closes them.
 * - {@link refresh} rebuilds the record table and every container's view from `desired()`
 *   (level-triggered): call it whenever assignments or local containers change. Answers cached
 *   from the previous table are dropped at once, so a removed name stops resolving with the
 *   refresh that follows its removal.
 *
 * prepare/release of one container run one at a time; different containers proceed in parallel
 * (the driver bounds its helpers).
 */
export class EmbeddedDns implements AsyncDisposable {
  readonly #opts: EmbeddedDnsOptions;
  readonly #counters: DnsCounters = createDnsCounters();
  readonly #handler: QueryHandler;
  readonly #forwarder: UpstreamForwarder;
  readonly #entries = new Map<string, Entry>();
  #host: ResolvConf = { nameservers: [], search: [], options: [] };
  #generation = 0;
  #table: RecordTable = buildRecordTable(EMPTY_DNS_STATE, 0);
  #views = new Map<string, AskerView>();
  #closed = false;

  constructor(opts: EmbeddedDnsOptions) {
    this.#opts = opts;
    const ttl = opts.ttlSeconds ?? DEFAULT_DNS_TTL_SECONDS;
    if (!Number.isInteger(ttl) || ttl < 0 || ttl > 2 ** 31 - 1) {
      throw new RangeError(`ttlSeconds must be an integer from 0 to 2^31-1, got ${ttl}`);
    }
    this.#handler = new QueryHandler({ ttlSeconds: ttl, random: opts.random ?? Math.random, counters: this.#counters });
    this.#forwarder = new UpstreamForwarder({
      timeoutMs: opts.forwardTimeoutMs ?? DEFAULT_FORWARD_TIMEOUT_MS,
      maxInFlight: opts.maxForwardsInFlight ?? DEFAULT_MAX_FORWARDS_IN_FLIGHT,
      counters: this.#counters,
    });
  }

  /** Reads the host's resolver configuration; call before the first {@link prepare}. */
  async start(): Promise<void> {
    await this.#readHost();
    this.refresh();
  }

  /** A copy of the node-wide counters. */
  get counters(): Readonly<DnsCounters> {
    return { ...this.#counters };
  }

  /** The resolver state of a container; undefined when it has none. */
  status(containerId: string): ResolverStatus | undefined {
    return this.#entries.get(containerId)?.status;
  }

  /** The current record table (for inspection and tests). */
  get table(): RecordTable {
    return this.#table;
  }

  /**
   * Makes sure the container has a serving resolver in `namespace` and an up-to-date resolv.conf.
   * Idempotent: a container already served in the same namespace only gets resolv.conf rewritten;
   * a new namespace replaces the old resolver.
   * @throws UnavailableError when the sockets cannot be bound (the container then has no
   *   resolver; a later prepare tries again); ClosedError after {@link close}.
   */
  async prepare(container: ResolverContainer): Promise<void> {
    if (this.#closed) {
      throw new ClosedError('embedded DNS');
    }
    let entry = this.#entries.get(container.id);
    if (!entry || entry.namespace !== container.namespace) {
      const previous = entry;
      entry = {
        namespace: container.namespace,
        resolver: undefined,
        status: { phase: 'binding' },
        op: previous?.op ?? Promise.resolve(),
      };
      this.#entries.set(container.id, entry);
      if (previous) {
        const old = previous;
        entry.op = entry.op.then(() => old.resolver?.close());
      }
    }
    const current = entry;
    const run = current.op.then(() => this.#prepare(container, current));
    current.op = run.catch(() => undefined);
    await run;
  }

  async #prepare(container: ResolverContainer, entry: Entry): Promise<void> {
    const { id } = container;
    await this.#readHost();
    // As docker does, the container's own --dns-search / --dns-option replace the host's (each
    // on its own: giving options keeps the host's search domains). "." alone means "no search".
    const ownSearch = container.dnsSearch ?? [];
    const search = ownSearch.length > 0 ? ownSearch.filter((d) => d !== '.') : this.#host.search;
    const ownOptions = container.dnsOptions ?? [];
    // The host's ndots is not inherited: containers get ndots:0 so single labels reach the cluster.
    const options = ownOptions.length > 0 ? ownOptions : this.#host.options.filter((o) => !o.startsWith('ndots:'));
    await this.#opts.driver.writeResolvConf(entry.namespace, renderContainerResolvConf(search, options));
    if (entry.resolver) {
      return;
    }
    entry.status = { phase: 'binding' };
    let sockets;
    try {
      sockets = await this.#opts.driver.bindResolver(entry.namespace);
    } catch (err) {
      entry.status = { phase: 'failed', error: err instanceof Error ? err.message : String(err) };
      throw err;
    }
    const resolver = new ContainerResolver(
      sockets,
      new AskerContext(this.#table, this.#views.get(id) ?? ISOLATED_VIEW),
      {
        handler: this.#handler,
        forwarder: this.#forwarder,
        counters: this.#counters,
        connectTcp: (address, port, signal) => this.#opts.driver.connectTcp(entry.namespace, address, port, signal),
        randomId: this.#opts.randomId ?? (() => randomInt(0, 65_536)),
        maxTcpConnections: this.#opts.maxTcpConnections ?? DEFAULT_MAX_TCP_CONNECTIONS,
        tcpIdleMs: this.#opts.tcpIdleMs ?? DEFAULT_TCP_IDLE_MS,
      },
    );
    if (this.#closed || this.#entries.get(id) !== entry) {
      resolver.close();
      return;
    }
    entry.resolver = resolver;
    entry.status = { phase: 'serving', namespace: entry.namespace };
    log.debug({ container: id, namespace: entry.namespace }, 'resolver serving');
    this.refresh();
  }

  /** Closes the container's resolver; nothing happens for a container without one. Never throws. */
  async release(containerId: string): Promise<void> {
    const entry = this.#entries.get(containerId);
    if (!entry) {
      return;
    }
    this.#entries.delete(containerId);
    entry.op = entry.op.then(() => entry.resolver?.close());
    await entry.op;
  }

  /**
   * Rebuilds the table and the views from `desired()` and hands them to every resolver. Cheap
   * enough to call on every change (linear in endpoints + containers). A `desired()` that throws
   * leaves the previous records in place.
   */
  refresh(): void {
    let state: DnsState;
    try {
      state = this.#opts.desired();
    } catch (err) {
      log.warn({ err }, 'could not compute the DNS state; keeping the previous records');
      return;
    }
    this.#generation++;
    const table = buildRecordTable(state, this.#generation);
    const networks = new Map<string, DnsNetwork>();
    for (const n of state.networks) {
      if (!networks.has(n.id)) {
        networks.set(n.id, n);
      }
    }
    const views = new Map<string, AskerView>();
    for (const c of state.containers) {
      views.set(c.id, buildAskerView(c, networks, this.#host.nameservers));
    }
    this.#table = table;
    this.#views = views;
    for (const [id, entry] of this.#entries) {
      entry.resolver?.asker.update(table, views.get(id) ?? ISOLATED_VIEW);
    }
  }

  async #readHost(): Promise<void> {
    try {
      this.#host = await (this.#opts.hostResolvConf ?? readHostResolvConf)();
    } catch (err) {
      log.warn({ err }, 'could not read the host resolver configuration');
    }
  }

  /** Closes every resolver. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(
      entries.map(async (e) => {
        await e.op;
        e.resolver?.close();
      }),
    );
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
