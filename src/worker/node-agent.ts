import type { ClientReadableStream } from '@grpc/grpc-js';
import { VxmeshError } from '../common/errors.js';
import { createLogger } from '../common/logger.js';
import { callUnary } from '../common/rpc/call-unary.js';
import { fromServiceError } from '../common/rpc/service-error.js';
import { certificateIdentity } from '../common/tls/certificate-identity.js';
import { generateKeyAndCsr } from '../common/tls/key-pair.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';
import type { Clock } from '../common/clock.js';
import { CertificateAuthorityClient } from '../gen/vxmesh/v1/ca.js';
import { DispatcherClient } from '../gen/vxmesh/v1/dispatcher.js';
import { readBootId } from '../vxlan/ipsec/boot-id.js';
import type {
  AgentStatus,
  EncryptionStatus,
  AssignmentsResponse,
  ResolverCounters,
  LogRequest,
  SessionResponse,
  TaskLog,
  TaskStatusUpdate,
} from '../gen/vxmesh/v1/dispatcher.js';
import { AssignmentGapError, AssignmentState } from './assignment-state.js';
import { NodeRole } from '../gen/vxmesh/v1/node.js';
import { renewalTime } from '../manager/ca/certificate-authority.js';
import { clusterChannelOptions, mutualTlsCredentials } from './cluster-channel.js';

const log = createLogger('worker.agent');

/**
 * A manager that accepts the connection but sends nothing (frozen, overloaded) is left after
 * this long, so the node reaches another manager before it is marked Down (issue 10).
 */
const SESSION_START_TIMEOUT_MS = 5000;

/**
 * The agent's link to the managers.
 * connecting → connected ⇄ disconnected → stopped. `connecting` is only the first attempt.
 */
export type SessionState =
  | { readonly phase: 'connecting' }
  | { readonly phase: 'connected'; readonly managerAddr: string; readonly sessionId: string }
  | { readonly phase: 'disconnected'; readonly since: number; readonly lastError: string }
  | { readonly phase: 'stopped' };

export interface NodeAgentOptions {
  readonly identity: TlsIdentity;
  readonly managerAddrs: readonly string[];
  readonly hostname: string;
  readonly clock: Clock;
  readonly random?: () => number;
  /** Persists a renewed identity before the agent uses it. */
  readonly saveIdentity: (identity: TlsIdentity, role: NodeRole) => Promise<void>;
  /** Persists a changed list of managers. */
  readonly saveManagers?: (addrs: string[]) => Promise<void>;
  /** What was applied before a restart; the agent continues from it until a COMPLETE arrives. */
  readonly assignments?: AssignmentState;
  /** Called after each assignments message that changed the state (persist it, reconcile). */
  readonly onAssignments?: (state: AssignmentState) => void;
  /**
   * Called after every renewal with the role the managers hold now; a manager also gets the
   * store endpoints. The daemon starts or stops its manager from this.
   */
  readonly onRenewed?: (role: NodeRole, etcdEndpoints: readonly string[]) => void;
  /**
   * The node's embedded DNS counters, read for every heartbeat; undefined (or absent) while the
   * node serves no resolver. A callback so the agent stays free of the DNS code, and because the
   * daemon builds the workload that owns the resolvers after the agent.
   */
  readonly resolverCounters?: () => ResolverCounters | undefined;
  /** MTU the node programmed per overlay (network ID → MTU), reported for `network inspect`. */
  readonly overlayMtus?: () => Record<string, number>;
  /** Endpoints waiting for the managers to remove them (pending detaches), reported for `node inspect`. */
  readonly pendingDetaches?: () => number | undefined;
  /** The output of this node's task containers, for `service logs`; absent: every request gets an error. */
  readonly taskLogs?: (taskIds: readonly string[], tail: number) => Promise<TaskLog[]>;
}

const BACKOFF_BASE_MS = 200;
const BACKOFF_MAX_MS = 10_000;
const RENEW_RETRY_MS = 30_000;

/**
 * Keeps one session to a manager, sends heartbeats, fails over between managers with capped
 * exponential backoff and jitter, and renews the node certificate between 50% and 80% of its
 * lifetime, or at once when the managers report a different role.
 */
export class NodeAgent implements AsyncDisposable {
  readonly #opts: NodeAgentOptions;
  readonly #random: () => number;
  readonly #abort = new AbortController();
  #identity: TlsIdentity;
  #managers: string[];
  #state: SessionState = { phase: 'connecting' };
  #loops: Promise<void>[] = [];
  #renewNow: (() => void) | undefined;
  #stream: ClientReadableStream<SessionResponse> | undefined;
  /** The client of the current session, for calls other than the session streams. */
  #sessionClient: DispatcherClient | undefined;
  readonly #assignments: AssignmentState;
  #lastError = '';
  #dataPathPort = 0;
  /** The kernel's boot ID, sent when a session opens: peers derive this node's IPsec keys with it. */
  readonly #bootId = readBootId();
  /**
   * The node's encrypted overlays for heartbeats (`node inspect`); set by the workload, which is
   * built after the agent. A callback that throws is treated as absent.
   */
  encryptionStatus: (() => EncryptionStatus | undefined) | undefined;
  /** Told when a session with a manager is established (see onSessionEstablished). */
  readonly #sessionListeners = new Set<() => void>();

  constructor(opts: NodeAgentOptions) {
    this.#opts = opts;
    this.#assignments = opts.assignments ?? new AssignmentState();
    this.#random = opts.random ?? Math.random;
    this.#identity = opts.identity;
    this.#managers = [...opts.managerAddrs];
  }

  get state(): SessionState {
    return this.#state;
  }

  get identity(): TlsIdentity {
    return this.#identity;
  }

  get managerAddrs(): readonly string[] {
    return this.#managers;
  }

  get assignments(): AssignmentState {
    return this.#assignments;
  }

  /** The cluster's VXLAN port, once a manager has said it (0 before). */
  get dataPathPort(): number {
    return this.#dataPathPort;
  }

  get status(): AgentStatus {
    return {
      appliedVersion: this.#assignments.resultsIn?.toString() ?? '',
      lastError: this.#lastError,
      itemCount: this.#assignments.items.size,
      resolver: this.#resolverCounters(),
      overlayMtus: this.#opts.overlayMtus?.() ?? {},
      encryption: this.#encryption(),
      pendingDetaches: this.#opts.pendingDetaches?.(),
    };
  }

  /**
   * Calls `listener` each time a session with a manager is established (the first one and every
   * reconnect), after the state says connected. A throwing listener is logged and does not stop
   * the others or the session.
   * @returns a function that removes the listener.
   */
  onSessionEstablished(listener: () => void): () => void {
    this.#sessionListeners.add(listener);
    return () => this.#sessionListeners.delete(listener);
  }

  #notifySessionEstablished(): void {
    for (const listener of this.#sessionListeners) {
      try {
        listener();
      } catch (err) {
        log.warn({ err }, 'session listener failed');
      }
    }
  }

  #encryption(): EncryptionStatus | undefined {
    try {
      return this.encryptionStatus?.();
    } catch (err) {
      log.warn({ err }, 'could not read the encryption status');
      return undefined;
    }
  }

  /** A failing counters callback must not stop heartbeats (the node would turn Down). */
  #resolverCounters(): ResolverCounters | undefined {
    try {
      return this.#opts.resolverCounters?.();
    } catch (err) {
      log.warn({ err }, 'could not read the resolver counters');
      return undefined;
    }
  }

  start(): void {
    this.#loops = [this.#sessionLoop(), this.#renewLoop()];
  }

  async #sessionLoop(): Promise<void> {
    let attempt = 0;
    let index = 0;
    while (!this.#abort.signal.aborted) {
      const addr = this.#managers[index % Math.max(1, this.#managers.length)] ?? '';
      index++;
      try {
        await this.#runSession(addr, () => {
          attempt = 0;
        });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (!this.#abort.signal.aborted) {
          this.#lastError = message;
          log.warn({ manager: addr, err: message }, 'session to manager ended');
          this.#state = { phase: 'disconnected', since: this.#opts.clock.now(), lastError: message };
        }
      }
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      attempt++;
      try {
        await this.#opts.clock.sleep(ceiling / 2 + this.#random() * (ceiling / 2), this.#abort.signal);
      } catch {
        return;
      }
    }
  }

  async #runSession(addr: string, onConnected: () => void): Promise<void> {
    const client = new DispatcherClient(addr, mutualTlsCredentials(this.#identity), clusterChannelOptions);
    const sessionAbort = new AbortController();
    const stop = (): void => sessionAbort.abort();
    this.#abort.signal.addEventListener('abort', stop, { once: true });
    let heartbeats: Promise<void> | undefined;
    let assignments: Promise<void> | undefined;
    try {
      this.#sessionClient = client;
      const stream = client.session({ hostname: this.#opts.hostname, advertiseAddr: '', dataPathAddr: '', bootId: this.#bootId });
      this.#stream = stream;
      sessionAbort.signal.addEventListener('abort', () => stream.cancel(), { once: true });
      let started = false;
      let startTimedOut = false;
      const startDeadline = new AbortController();
      void this.#opts.clock
        .sleep(SESSION_START_TIMEOUT_MS, AbortSignal.any([startDeadline.signal, sessionAbort.signal]))
        .then(
          () => {
            if (!started) {
              startTimedOut = true;
              sessionAbort.abort();
            }
          },
          () => undefined,
        );
      try {
        for await (const message of stream as AsyncIterable<SessionResponse>) {
          if (!started) {
            started = true;
            startDeadline.abort();
          }
          if (this.#state.phase !== 'connected' || this.#state.sessionId !== message.sessionId) {
            onConnected();
            log.info({ manager: addr, sessionId: message.sessionId }, 'session established');
            heartbeats = this.#heartbeatLoop(client, message.sessionId, message.heartbeatPeriodMs, sessionAbort);
            assignments = this.#assignmentsLoop(client, message.sessionId, sessionAbort);
            this.#lastError = '';
          }
          this.#dataPathPort = message.dataPathPort;
          const established = this.#state.phase !== 'connected' || this.#state.sessionId !== message.sessionId;
          this.#state = { phase: 'connected', managerAddr: addr, sessionId: message.sessionId };
          if (established) {
            this.#notifySessionEstablished();
          }
          await this.#applySessionMessage(message);
        }
      } catch (err) {
        if (this.#abort.signal.aborted) {
          return;
        }
        if (sessionAbort.signal.aborted) {
          // Ended here (heartbeats failed, or no answer in time): the node is disconnected, and the
          // next session must start its own heartbeats.
          throw new VxmeshError(
            'UNAVAILABLE',
            startTimedOut
              ? `manager ${addr} did not open a session within ${SESSION_START_TIMEOUT_MS} ms`
              : `heartbeats to manager ${addr} failed`,
          );
        }
        throw fromServiceError(err, `session with ${addr}`);
      } finally {
        startDeadline.abort();
      }
      throw new VxmeshError('UNAVAILABLE', `manager ${addr} closed the session`);
    } finally {
      this.#stream = undefined;
      if (this.#sessionClient === client) {
        this.#sessionClient = undefined;
      }
      sessionAbort.abort();
      this.#abort.signal.removeEventListener('abort', stop);
      await heartbeats;
      await assignments;
      client.close();
    }
  }

  /** Answers a manager's `service logs` request; never throws (a lost answer times out there). */
  async #answerLogRequest(client: DispatcherClient, sessionId: string, request: LogRequest): Promise<void> {
    let logs: TaskLog[];
    try {
      logs = this.#opts.taskLogs
        ? await this.#opts.taskLogs(request.taskIds, request.tail)
        : request.taskIds.map((taskId) => ({ taskId, lines: [], err: 'this node keeps no task output' }));
    } catch (err) {
      const text = err instanceof Error ? err.message : String(err);
      logs = request.taskIds.map((taskId) => ({ taskId, lines: [], err: text }));
    }
    await callUnary(
      client.publishLogs.bind(client),
      { sessionId, requestId: request.requestId, logs },
      'publish logs',
      { signal: this.#abort.signal, timeoutMs: 10_000 },
    ).catch((err: unknown) => log.warn({ err, requestId: request.requestId }, 'could not send task logs'));
  }

  async #applySessionMessage(message: SessionResponse): Promise<void> {
    const client = this.#sessionClient;
    for (const request of message.logRequests) {
      if (client) {
        void this.#answerLogRequest(client, message.sessionId, request);
      }
    }
    if (message.managerAddrs.length > 0 && message.managerAddrs.join() !== this.#managers.join()) {
      this.#managers = [...message.managerAddrs];
      await this.#opts.saveManagers?.(this.#managers);
    }
    const certRole = certificateIdentity(this.#identity.certPem).role;
    const registryRole = message.role === NodeRole.NODE_ROLE_MANAGER ? 'manager' : 'worker';
    if (certRole !== registryRole) {
      log.info({ from: certRole, to: registryRole }, 'role changed; renewing the certificate now');
      this.#renewNow?.();
    }
  }

  /**
   * Reports task states to the manager holding this node's session (issue 8).
   * @throws VxmeshError UNAVAILABLE when no session is up; the caller keeps the report and retries.
   */
  async reportTaskStatus(updates: readonly TaskStatusUpdate[]): Promise<void> {
    const client = this.#sessionClient;
    const state = this.#state;
    if (!client || state.phase !== 'connected') {
      throw new VxmeshError('UNAVAILABLE', 'no session with a manager');
    }
    await callUnary(
      client.updateTaskStatus.bind(client),
      { sessionId: state.sessionId, updates: [...updates] },
      'report task status',
      { signal: this.#abort.signal, timeoutMs: 10_000 },
    );
  }

  async #heartbeatLoop(
    client: DispatcherClient,
    sessionId: string,
    periodMs: number,
    session: AbortController,
  ): Promise<void> {
    while (!session.signal.aborted) {
      try {
        await this.#opts.clock.sleep(periodMs * (0.8 + 0.2 * this.#random()), session.signal);
        await callUnary(client.heartbeat.bind(client), { sessionId, status: this.status }, 'heartbeat', {
          signal: session.signal,
          timeoutMs: periodMs,
        });
      } catch (err) {
        if (!session.signal.aborted) {
          log.warn({ err: err instanceof Error ? err.message : String(err) }, 'heartbeat failed; reconnecting');
          session.abort();
        }
        return;
      }
    }
  }

  /**
   * Follows the assignment stream of one session. A gap ends the stream and opens a new one,
   * which starts with a COMPLETE; other failures retry after a short pause until the session ends.
   */
  async #assignmentsLoop(client: DispatcherClient, sessionId: string, session: AbortController): Promise<void> {
    let attempt = 0;
    while (!session.signal.aborted) {
      const stream = client.assignments({ sessionId });
      const cancel = (): void => stream.cancel();
      session.signal.addEventListener('abort', cancel, { once: true });
      try {
        for await (const message of stream as AsyncIterable<AssignmentsResponse>) {
          attempt = 0;
          if (this.#assignments.apply(message)) {
            this.#opts.onAssignments?.(this.#assignments);
          }
        }
      } catch (err) {
        if (session.signal.aborted) {
          return;
        }
        if (err instanceof AssignmentGapError) {
          log.warn({ err: err.message }, 'resynchronising assignments');
          stream.cancel();
          continue;
        }
        this.#lastError = fromServiceError(err, 'assignments').message;
      } finally {
        session.signal.removeEventListener('abort', cancel);
      }
      attempt++;
      const pause = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** attempt);
      try {
        await this.#opts.clock.sleep(pause / 2 + this.#random() * (pause / 2), session.signal);
      } catch {
        return;
      }
    }
  }

  async #renewLoop(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      const cert = certificateIdentity(this.#identity.certPem);
      const at = renewalTime(cert.notBefore.getTime(), cert.notAfter.getTime(), this.#random);
      const wake = new AbortController();
      this.#renewNow = () => wake.abort();
      try {
        await this.#opts.clock.sleep(
          Math.max(0, at - this.#opts.clock.now()),
          AbortSignal.any([this.#abort.signal, wake.signal]),
        );
      } catch {
        if (this.#abort.signal.aborted) {
          return;
        }
      }
      try {
        await this.renew();
      } catch (err) {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'certificate renewal failed; retrying');
        try {
          await this.#opts.clock.sleep(RENEW_RETRY_MS, this.#abort.signal);
        } catch {
          return;
        }
      }
    }
  }

  /** Renews the certificate now through any reachable manager, and reconnects with it. */
  async renew(): Promise<void> {
    const { keyPem, csrPem } = await generateKeyAndCsr();
    let lastError: unknown = new VxmeshError('UNAVAILABLE', 'no manager address is known');
    for (const addr of this.#managers) {
      const client = new CertificateAuthorityClient(addr, mutualTlsCredentials(this.#identity), clusterChannelOptions);
      try {
        const res = await callUnary(client.renewNodeCertificate.bind(client), { csrPem }, 'renew certificate', {
          signal: this.#abort.signal,
          timeoutMs: 10_000,
        });
        const identity = { caPem: this.#identity.caPem, certPem: res.certificatePem, keyPem };
        await this.#opts.saveIdentity(identity, res.role);
        this.#identity = identity;
        log.info({ notAfter: certificateIdentity(res.certificatePem).notAfter }, 'certificate renewed');
        this.#opts.onRenewed?.(res.role, res.etcdEndpoints);
        // New sessions must present the new certificate.
        this.#stream?.cancel();
        return;
      } catch (err) {
        lastError = err;
      } finally {
        client.close();
      }
    }
    throw lastError;
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    this.#stream?.cancel();
    await Promise.all(this.#loops);
    this.#state = { phase: 'stopped' };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
