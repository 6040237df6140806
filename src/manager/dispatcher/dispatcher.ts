import { setMaxListeners } from 'node:events';
import { VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { serverStreamHandler, unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize, CallContext } from '../../common/rpc/server-handlers.js';
import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import { AssignmentsKind } from '../../gen/vxmesh/v1/dispatcher.js';
import type {
  AgentStatus,
  AssignmentsResponse,
  DispatcherServer,
  SessionResponse,
  TaskLog,
  TaskStatusUpdate,
} from '../../gen/vxmesh/v1/dispatcher.js';
import { LogRequests } from './log-requests.js';
import type { StreamWriter } from '../../common/rpc/server-handlers.js';
import { NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Node, NodeRole } from '../../gen/vxmesh/v1/node.js';
import type { Allowed } from '../api/authorization.js';
import { newObjectId } from '../node-registry.js';
import type { NodeChange, NodeRegistry } from '../node-registry.js';
import type { ClusterView } from './cluster-view.js';
import type { ManagerPresence } from '../manager-presence.js';
import { setNodeStatusFenced } from '../leadership.js';
import { NodeAssignments } from './node-assignments.js';

const log = createLogger('manager.dispatcher');

/** Nodes are Down after this many heartbeat periods without one. */
export const HEARTBEAT_MISSES_BEFORE_DOWN = 3;

interface LiveSession {
  readonly sessionId: string;
  readonly send: (message: SessionResponse) => void;
  /** Ends the stream: OK without an error, with the error's status otherwise. */
  readonly end: (err?: VxmeshError) => void;
  /** Aborted when the session ends, which also ends its assignment stream. */
  readonly closed: AbortController;
  lastRole: NodeRole;
}

export interface DispatcherOptions {
  /** Where fenced status writes go (the registry's store). */
  readonly store: KvStore;
  readonly registry: NodeRegistry;
  readonly view: ClusterView;
  /** Shared liveness: which manager serves which node's session. */
  readonly presence: ManagerPresence;
  readonly clock: Clock;
  readonly heartbeatPeriodMs: number;
  readonly dataPathPort: number;
  readonly authorize: (allowed: Allowed) => Authorize;
  /** Changes are sent this long after the first pending one, merging what arrives meanwhile. */
  readonly batchWindowMs?: number;
  /** ...or as soon as this many keys are pending. */
  readonly batchLimit?: number;
  /**
   * Fault injection for tests: return false to drop an assignments message instead of sending it
   * (the worker must detect the gap and resynchronise).
   */
  readonly outboundFilter?: (nodeId: string, message: AssignmentsResponse) => boolean;
  /**
   * Records task states a node reported (services, issue 8); only for tasks assigned to that node.
   * Absent: reports are refused with UNIMPLEMENTED.
   */
  readonly reportTaskStatus?: (nodeId: string, updates: readonly TaskStatusUpdate[]) => Promise<void>;
}

const DEFAULT_BATCH_WINDOW_MS = 100;
/** A node may open this many sessions per window on one manager; more is a client in a loop. */
const SESSIONS_PER_WINDOW = 3;
const SESSION_WINDOW_MS = 8000;
const DEFAULT_BATCH_LIMIT = 100;

/**
 * Holds one session per node, takes heartbeats and marks nodes Ready or Down. A node's newer
 * session replaces its older one; a removed node's session is closed with PERMISSION_DENIED.
 */
export class Dispatcher implements AsyncDisposable {
  readonly #opts: DispatcherOptions;
  readonly #sessions = new Map<string, LiveSession>();
  readonly #lastSeen = new Map<string, number>();
  readonly #agentStatus = new Map<string, AgentStatus>();
  readonly #sessionStarts = new Map<string, number[]>();
  readonly #logRequests = new LogRequests();
  /** When this manager first saw a Ready node that no manager serves. */
  readonly #unservedSince = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #startedAt: number;
  /** When this manager last became the leader, while it leads (its start if it led from the outset). */
  #leaderSince: number | undefined;
  /** Whether this manager has been seen not leading since it started. */
  #hasFollowed = false;
  #unsubscribe: (() => void) | undefined;
  #unsubscribeLeaseLost: (() => void) | undefined;
  #detector: Promise<void> | undefined;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
    this.#startedAt = opts.clock.now();
    // Every open session listens on this signal: no "possible memory leak" warning past 10 sessions.
    setMaxListeners(0, this.#abort.signal);
  }

  start(): void {
    this.#unsubscribe = this.#opts.registry.subscribe((change) => this.#onNodeChange(change));
    // The session records went with the lease: nodes must open new sessions, which records them again.
    this.#unsubscribeLeaseLost = this.#opts.presence.onLeaseLost(() => {
      for (const session of this.#sessions.values()) {
        session.end(new VxmeshError('UNAVAILABLE', 'this manager lost its lease; open a new session'));
      }
    });
    this.#detector = this.#detectDownNodes();
  }

  get server(): DispatcherServer {
    const authorize = this.#opts.authorize(['worker', 'manager']);
    return {
      session: serverStreamHandler(authorize, (req, ctx, writer) => this.#session(ctx, (m) => void writer.send(m), req.bootId)),
      assignments: serverStreamHandler(authorize, (req, ctx, writer) => this.#assignments(req.sessionId, ctx, writer)),
      updateTaskStatus: unaryHandler(authorize, async (req, ctx) => {
        const nodeId = nodeOf(ctx);
        const session = this.#sessions.get(nodeId);
        if (!session || session.sessionId !== req.sessionId) {
          throw new VxmeshError('NOT_FOUND', `session ${req.sessionId} is not the current session of node ${nodeId}`);
        }
        const report = this.#opts.reportTaskStatus;
        if (!report) {
          throw new VxmeshError('FAILED_PRECONDITION', 'this manager does not run services');
        }
        await report(nodeId, req.updates);
        return {};
      }),
      publishLogs: unaryHandler(authorize, (req, ctx) => {
        const nodeId = nodeOf(ctx);
        const session = this.#sessions.get(nodeId);
        if (!session || session.sessionId !== req.sessionId) {
          throw new VxmeshError('NOT_FOUND', `session ${req.sessionId} is not the current session of node ${nodeId}`);
        }
        if (!this.#logRequests.answer(nodeId, req.requestId, req.logs)) {
          log.debug({ nodeId, requestId: req.requestId }, 'logs for an unknown or expired request');
        }
        return Promise.resolve({});
      }),
      heartbeat: unaryHandler(authorize, async (req, ctx) => {
        const nodeId = nodeOf(ctx);
        const session = this.#sessions.get(nodeId);
        if (!session || session.sessionId !== req.sessionId) {
          throw new VxmeshError('NOT_FOUND', `session ${req.sessionId} is not the current session of node ${nodeId}`);
        }
        this.#lastSeen.set(nodeId, this.#opts.clock.now());
        if (req.status) {
          this.#agentStatus.set(nodeId, req.status);
        }
        const node = await this.#opts.registry.lookup(nodeId);
        if (node && node.status !== NodeStatus.NODE_STATUS_READY) {
          await this.#opts.registry.setStatus(nodeId, NodeStatus.NODE_STATUS_READY);
        }
        return { heartbeatPeriodMs: this.#opts.heartbeatPeriodMs };
      }),
    };
  }

  /** What the node's agent last reported, while it holds a session with this manager. */
  agentStatus(nodeId: string): AgentStatus | undefined {
    return this.#sessions.has(nodeId) ? (this.#agentStatus.get(nodeId) ?? { appliedVersion: '', lastError: '', itemCount: 0, resolver: undefined, overlayMtus: {} }) : undefined;
  }

  /** Node IDs with an open session on this manager. */
  connectedNodes(): string[] {
    return [...this.#sessions.keys()];
  }

  async #session(ctx: CallContext, send: (m: SessionResponse) => void, bootId?: string): Promise<void> {
    const nodeId = nodeOf(ctx);
    const { registry, clock } = this.#opts;
    const now = clock.now();
    const recent = (this.#sessionStarts.get(nodeId) ?? []).filter((t) => now - t < SESSION_WINDOW_MS);
    if (recent.length >= SESSIONS_PER_WINDOW) {
      throw new VxmeshError('UNAVAILABLE', `node ${nodeId} re-registers too often; retry later`);
    }
    this.#sessionStarts.set(nodeId, [...recent, now]);
    let finish!: (err?: VxmeshError) => void;
    const ended = new Promise<void>((resolve, reject) => {
      finish = (err) => (err ? reject(err) : resolve());
    });
    // A newer session, the node's removal or a shutdown can end this one while it is still being
    // set up below, before `ended` is awaited: without a handler that rejection would crash the process.
    ended.catch(() => undefined);
    const stored = await registry.update(nodeId, (n) =>
      // The boot ID too (issue 9): peers derive this node's outgoing IPsec keys with it.
      n.status === NodeStatus.NODE_STATUS_READY && (!bootId || n.bootId === bootId)
        ? n
        : { ...n, status: NodeStatus.NODE_STATUS_READY, ...(bootId ? { bootId } : {}) },
    );
    const session: LiveSession = {
      sessionId: newObjectId(),
      send,
      end: finish,
      closed: new AbortController(),
      lastRole: stored.node.role,
    };
    // Replaced after the await above, so of two sessions opened at once only the newer one stays.
    this.#sessions.get(nodeId)?.end(new VxmeshError('FAILED_PRECONDITION', 'session replaced by a newer one'));
    this.#sessions.set(nodeId, session);
    this.#lastSeen.set(nodeId, clock.now());
    await this.#opts.presence.claimSession(nodeId);
    log.info({ nodeId, sessionId: session.sessionId }, 'session opened');
    send(this.#describe(session.sessionId, stored.node));
    const onAbort = (): void => finish();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    if (ctx.signal.aborted || this.#abort.signal.aborted) {
      // Cancelled during the set-up: the listeners above will never fire.
      finish();
    }
    try {
      await ended;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.#abort.signal.removeEventListener('abort', onAbort);
      session.closed.abort();
      if (this.#sessions.get(nodeId) === session) {
        this.#sessions.delete(nodeId);
        await this.#opts.presence
          .releaseSession(nodeId)
          .catch((err: unknown) => log.warn({ err, nodeId }, 'could not release the session record'));
      }
      log.info({ nodeId, sessionId: session.sessionId }, 'session closed');
    }
  }

  #describe(sessionId: string, node: Node): SessionResponse {
    return {
      sessionId,
      role: node.role,
      // From presence, not the registry: reading every node record per session made a
      // reconnect storm O(N²).
      managerAddrs: this.#opts.presence.managerAddrs(),
      heartbeatPeriodMs: this.#opts.heartbeatPeriodMs,
      dataPathPort: this.#opts.dataPathPort,
      logRequests: [],
    };
  }

  /**
   * The output of tasks on a node whose session this manager holds, asked over that session.
   * @throws VxmeshError UNAVAILABLE when the node has no session here or does not answer in time.
   */
  async requestTaskLogs(nodeId: string, taskIds: readonly string[], tail: number, timeoutMs = 5000): Promise<TaskLog[]> {
    const session = this.#sessions.get(nodeId);
    const node = session ? await this.#opts.registry.get(nodeId) : undefined;
    if (!session || !node) {
      throw new VxmeshError('UNAVAILABLE', `node ${nodeId} has no session with this manager`);
    }
    const { request, answer } = this.#logRequests.open(nodeId, taskIds, tail, timeoutMs);
    session.send({ ...this.#describe(session.sessionId, node.node), logRequests: [request] });
    return answer;
  }

  /**
   * Streams what the node must program: a COMPLETE, then INCREMENTAL batches chained by
   * applies_to/results_in (store revisions). While the transport is backed up nothing is queued:
   * pending keys merge, and the next message carries their latest state.
   */
  async #assignments(sessionId: string, ctx: CallContext, writer: StreamWriter<AssignmentsResponse>): Promise<void> {
    const nodeId = nodeOf(ctx);
    const session = this.#sessions.get(nodeId);
    if (!session || session.sessionId !== sessionId) {
      throw new VxmeshError('NOT_FOUND', `session ${sessionId} is not the current session of node ${nodeId}`);
    }
    const { view, clock } = this.#opts;
    const windowMs = this.#opts.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    const limit = this.#opts.batchLimit ?? DEFAULT_BATCH_LIMIT;
    const done = AbortSignal.any([ctx.signal, session.closed.signal, this.#abort.signal]);
    const node = new NodeAssignments(view, nodeId);
    let wake: (() => void) | undefined;
    const unsubscribe = view.subscribeNode(nodeId, (changes) => {
      for (const c of changes) {
        node.mark(c);
      }
      // Only when this node has something to send: most changes concern other nodes, and waking
      // every idle stream for each of them costs a promise and two listener updates per session.
      if (node.pending > 0 && wake !== undefined) {
        // Woken a macrotask later, not now: the view applies the events of one store revision a
        // microtask at a time, and a flush in between would send half a revision under its number,
        // leaving the rest no newer revision to be sent under (a whole COMPLETE instead).
        const resume = wake;
        wake = undefined;
        setImmediate(resume);
      }
    });
    const emit = (m: AssignmentsResponse): boolean =>
      this.#opts.outboundFilter && !this.#opts.outboundFilter(nodeId, m) ? true : writer.send(m);
    try {
      let last = view.revision;
      let lastSentAt = clock.now();
      let ok = emit({
        kind: AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE,
        appliesTo: '',
        resultsIn: last.toString(),
        changes: node.complete(),
      });
      while (!done.aborted) {
        if (!ok) {
          await writer.drained();
        }
        if (node.pending === 0) {
          await new Promise<void>((resolve) => {
            const finish = (): void => {
              done.removeEventListener('abort', finish);
              wake = undefined;
              resolve();
            };
            wake = finish;
            done.addEventListener('abort', finish, { once: true });
          });
          continue;
        }
        // Leading edge: after a quiet window the first change goes out at once (a new container
        // is reachable sooner); changes that follow within the window are merged into one message.
        const sinceLastSend = clock.now() - lastSentAt;
        if (node.pending < limit && sinceLastSend < windowMs) {
          await clock.sleep(windowMs - sinceLastSend, done).catch(() => undefined);
        }
        if (done.aborted) {
          break;
        }
        const revision = view.revision;
        const changes = node.flush();
        if (changes.length === 0) {
          continue;
        }
        // results_in must grow for the worker to accept an increment; only a relist can change
        // the view without a newer revision, and then the whole set is resent.
        ok =
          revision > last
            ? emit({
                kind: AssignmentsKind.ASSIGNMENTS_KIND_INCREMENTAL,
                appliesTo: last.toString(),
                resultsIn: revision.toString(),
                changes,
              })
            : emit({
                kind: AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE,
                appliesTo: '',
                resultsIn: revision.toString(),
                changes: node.complete(),
              });
        last = revision;
        lastSentAt = clock.now();
      }
    } finally {
      unsubscribe();
    }
  }

  #onNodeChange(change: NodeChange): void {
    if (change.type === 'removed') {
      this.#lastSeen.delete(change.id);
      this.#agentStatus.delete(change.id);
      this.#sessionStarts.delete(change.id);
      this.#sessions
        .get(change.id)
        ?.end(new VxmeshError('PERMISSION_DENIED', `node ${change.id} has been removed from the cluster`));
      return;
    }
    const session = this.#sessions.get(change.node.id);
    if (session && session.lastRole !== change.node.role) {
      // Tell the node its role changed so it renews its certificate now rather than at expiry.
      session.lastRole = change.node.role;
      session.send(this.#describe(session.sessionId, change.node));
    }
  }

  /**
   * Marks Down the Ready nodes whose heartbeats stopped. A node whose session this manager holds
   * is judged by this manager, fenced by its session record; a node no live manager serves is
   * judged by the leader alone, fenced by its leadership. So a manager that resumes from a pause
   * with a stale view (old heartbeat times, sessions its lease no longer backs) cannot mark down
   * a node that has meanwhile moved to another manager.
   */
  async #detectDownNodes(): Promise<void> {
    const { clock, registry, heartbeatPeriodMs, presence, store } = this.#opts;
    const limit = heartbeatPeriodMs * HEARTBEAT_MISSES_BEFORE_DOWN;
    while (!this.#abort.signal.aborted) {
      try {
        await clock.sleep(heartbeatPeriodMs / 2, this.#abort.signal);
      } catch {
        return;
      }
      try {
        const now = clock.now();
        if (presence.leaderFence() === undefined) {
          this.#leaderSince = undefined;
          this.#hasFollowed = true;
        } else {
          this.#leaderSince ??= this.#hasFollowed ? now : this.#startedAt;
        }
        for (const { node } of await registry.list()) {
          if (node.status !== NodeStatus.NODE_STATUS_READY) {
            this.#unservedSince.delete(node.id);
            continue;
          }
          let silentMs: number;
          let allowedMs = limit;
          let fence;
          if (this.#sessions.has(node.id)) {
            // This manager serves the node: its heartbeats decide.
            this.#unservedSince.delete(node.id);
            silentMs = now - (this.#lastSeen.get(node.id) ?? now);
            fence = presence.sessionFence(node.id);
          } else if (presence.sessionHolder(node.id) !== undefined) {
            // Another live manager serves it and watches its heartbeats. What this manager saw of
            // the node is stale from now on: should that manager die, the wait starts afresh.
            this.#unservedSince.delete(node.id);
            this.#lastSeen.delete(node.id);
            continue;
          } else {
            // Nobody serves it. Right after this manager (re)starts or becomes the leader, nodes get
            // twice the grace to find a manager, so a failover does not mark the whole cluster Down
            // (swarmkit's markNodesUnknown).
            const since = this.#unservedSince.get(node.id) ?? now;
            this.#unservedSince.set(node.id, since);
            silentMs = now - Math.min(since, this.#lastSeen.get(node.id) ?? since);
            const settling = Math.max(this.#startedAt, this.#leaderSince ?? this.#startedAt);
            allowedMs = now - settling < 2 * limit ? 2 * limit : limit;
            fence = presence.leaderFence();
          }
          if (silentMs > allowedMs && fence !== undefined) {
            const outcome = await setNodeStatusFenced(store, clock, node.id, NodeStatus.NODE_STATUS_DOWN, fence);
            if (outcome === 'written') {
              log.warn({ nodeId: node.id, silentMs }, 'node missed its heartbeats; marked it down');
            } else if (outcome === 'fenced') {
              log.info({ nodeId: node.id }, 'not marking the node down: another manager is in charge of it now');
            }
            // A late heartbeat on the old session must not revive it: the node has to open a new one.
            this.#sessions.get(node.id)?.end(new VxmeshError('UNAVAILABLE', 'heartbeats timed out; open a new session'));
            this.#unservedSince.delete(node.id);
          }
        }
      } catch (err) {
        log.warn({ err }, 'node liveness check failed');
      }
    }
  }

  async close(): Promise<void> {
    this.#abort.abort();
    this.#unsubscribe?.();
    this.#unsubscribeLeaseLost?.();
    for (const session of this.#sessions.values()) {
      session.end(new VxmeshError('UNAVAILABLE', 'manager is shutting down'));
    }
    await this.#detector;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function nodeOf(ctx: CallContext): string {
  if (ctx.caller.kind !== 'node') {
    throw new VxmeshError('UNAUTHENTICATED', 'a node certificate is required');
  }
  return ctx.caller.nodeId;
}
