import { VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { serverStreamHandler, unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize, CallContext } from '../../common/rpc/server-handlers.js';
import type { Clock } from '../../common/clock.js';
import type { DispatcherServer, SessionResponse } from '../../gen/vxmesh/v1/dispatcher.js';
import { NodeStatus } from '../../gen/vxmesh/v1/node.js';
import type { Node, NodeRole } from '../../gen/vxmesh/v1/node.js';
import type { Allowed } from '../api/authorization.js';
import { newObjectId } from '../node-registry.js';
import type { NodeChange, NodeRegistry } from '../node-registry.js';

const log = createLogger('manager.dispatcher');

/** Nodes are Down after this many heartbeat periods without one. */
export const HEARTBEAT_MISSES_BEFORE_DOWN = 3;

interface LiveSession {
  readonly sessionId: string;
  readonly send: (message: SessionResponse) => void;
  /** Ends the stream: OK without an error, with the error's status otherwise. */
  readonly end: (err?: VxmeshError) => void;
  lastRole: NodeRole;
}

export interface DispatcherOptions {
  readonly registry: NodeRegistry;
  readonly clock: Clock;
  readonly heartbeatPeriodMs: number;
  readonly authorize: (allowed: Allowed) => Authorize;
}

/**
 * Holds one session per node, takes heartbeats and marks nodes Ready or Down. A node's newer
 * session replaces its older one; a removed node's session is closed with PERMISSION_DENIED.
 */
export class Dispatcher implements AsyncDisposable {
  readonly #opts: DispatcherOptions;
  readonly #sessions = new Map<string, LiveSession>();
  readonly #lastSeen = new Map<string, number>();
  readonly #abort = new AbortController();
  readonly #startedAt: number;
  #unsubscribe: (() => void) | undefined;
  #detector: Promise<void> | undefined;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
    this.#startedAt = opts.clock.now();
  }

  start(): void {
    this.#unsubscribe = this.#opts.registry.subscribe((change) => this.#onNodeChange(change));
    this.#detector = this.#detectDownNodes();
  }

  get server(): DispatcherServer {
    const authorize = this.#opts.authorize(['worker', 'manager']);
    return {
      session: serverStreamHandler(authorize, (_req, ctx, send) => this.#session(ctx, send)),
      heartbeat: unaryHandler(authorize, async (req, ctx) => {
        const nodeId = nodeOf(ctx);
        const session = this.#sessions.get(nodeId);
        if (!session || session.sessionId !== req.sessionId) {
          throw new VxmeshError('NOT_FOUND', `session ${req.sessionId} is not the current session of node ${nodeId}`);
        }
        this.#lastSeen.set(nodeId, this.#opts.clock.now());
        const node = await this.#opts.registry.lookup(nodeId);
        if (node && node.status !== NodeStatus.NODE_STATUS_READY) {
          await this.#opts.registry.setStatus(nodeId, NodeStatus.NODE_STATUS_READY);
        }
        return { heartbeatPeriodMs: this.#opts.heartbeatPeriodMs };
      }),
    };
  }

  /** Node IDs with an open session on this manager. */
  connectedNodes(): string[] {
    return [...this.#sessions.keys()];
  }

  async #session(ctx: CallContext, send: (m: SessionResponse) => void): Promise<void> {
    const nodeId = nodeOf(ctx);
    const { registry, clock } = this.#opts;
    this.#sessions.get(nodeId)?.end(new VxmeshError('FAILED_PRECONDITION', 'session replaced by a newer one'));
    let finish!: (err?: VxmeshError) => void;
    const ended = new Promise<void>((resolve, reject) => {
      finish = (err) => (err ? reject(err) : resolve());
    });
    const stored = await registry.update(nodeId, (n) =>
      n.status === NodeStatus.NODE_STATUS_READY ? n : { ...n, status: NodeStatus.NODE_STATUS_READY },
    );
    const session: LiveSession = { sessionId: newObjectId(), send, end: finish, lastRole: stored.node.role };
    this.#sessions.set(nodeId, session);
    this.#lastSeen.set(nodeId, clock.now());
    log.info({ nodeId, sessionId: session.sessionId }, 'session opened');
    send(await this.#describe(session.sessionId, stored.node));
    const onAbort = (): void => finish();
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    this.#abort.signal.addEventListener('abort', onAbort, { once: true });
    try {
      await ended;
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      this.#abort.signal.removeEventListener('abort', onAbort);
      if (this.#sessions.get(nodeId) === session) {
        this.#sessions.delete(nodeId);
      }
      log.info({ nodeId, sessionId: session.sessionId }, 'session closed');
    }
  }

  async #describe(sessionId: string, node: Node): Promise<SessionResponse> {
    return {
      sessionId,
      role: node.role,
      managerAddrs: await this.#opts.registry.managerAddrs(),
      heartbeatPeriodMs: this.#opts.heartbeatPeriodMs,
    };
  }

  #onNodeChange(change: NodeChange): void {
    if (change.type === 'removed') {
      this.#lastSeen.delete(change.id);
      this.#sessions
        .get(change.id)
        ?.end(new VxmeshError('PERMISSION_DENIED', `node ${change.id} has been removed from the cluster`));
      return;
    }
    const session = this.#sessions.get(change.node.id);
    if (session && session.lastRole !== change.node.role) {
      // Tell the node its role changed so it renews its certificate now rather than at expiry.
      session.lastRole = change.node.role;
      this.#describe(session.sessionId, change.node).then(session.send, (err: unknown) =>
        log.warn({ err, nodeId: change.node.id }, 'could not describe session after role change'),
      );
    }
  }

  async #detectDownNodes(): Promise<void> {
    const { clock, registry, heartbeatPeriodMs } = this.#opts;
    const limit = heartbeatPeriodMs * HEARTBEAT_MISSES_BEFORE_DOWN;
    while (!this.#abort.signal.aborted) {
      try {
        await clock.sleep(heartbeatPeriodMs / 2, this.#abort.signal);
      } catch {
        return;
      }
      try {
        const now = clock.now();
        for (const { node } of await registry.list()) {
          // A node this manager never heard from gets the grace period from the manager's start.
          const seen = this.#lastSeen.get(node.id) ?? this.#startedAt;
          if (node.status === NodeStatus.NODE_STATUS_READY && now - seen > limit) {
            log.warn({ nodeId: node.id, silentMs: now - seen }, 'node missed its heartbeats; marking it down');
            await registry.setStatus(node.id, NodeStatus.NODE_STATUS_DOWN);
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
