/**
 * Child process of bench/dispatcher.ts: enrols a range of simulated worker nodes and runs one
 * lightweight agent per node against the manager: its own mutual-TLS channel, a Session stream,
 * heartbeats and an Assignments stream applied with the real `AssignmentState` (no NodeAgent, no
 * dataplane, no disk). Receipts of the benchmark's churn endpoints are kept in typed arrays and
 * handed to the parent only when it asks, so the measured window carries no reporting traffic.
 *
 * VXMESH_BENCH_DEBUG=1 prints every agent error as it happens.
 *
 * Started by the parent with `fork(..., [AGENTS_CHILD_FLAG], { serialization: 'advanced' })`; it
 * talks over the IPC channel only and exits when the parent goes away.
 */
import { performance } from 'node:perf_hooks';
import { Metadata } from '@grpc/grpc-js';
import type { ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import forge from 'node-forge';
import { parseHostPort } from '../src/common/net/host-port.js';
import { callUnary } from '../src/common/rpc/call-unary.js';
import type { TlsIdentity } from '../src/common/tls/mutable-certificate-provider.js';
import { CertificateAuthorityClient } from '../src/gen/vxmesh/v1/ca.js';
import { AssignmentAction, AssignmentsKind, DispatcherClient } from '../src/gen/vxmesh/v1/dispatcher.js';
import type { AssignmentChange, AssignmentsResponse, SessionResponse } from '../src/gen/vxmesh/v1/dispatcher.js';
import { NodeAvailability } from '../src/gen/vxmesh/v1/node.js';
import { AssignmentGapError, AssignmentState } from '../src/worker/assignment-state.js';
import { clusterChannelOptions, mutualTlsCredentials, pinnedCaCredentials } from '../src/worker/cluster-channel.js';
import { joinCluster } from '../src/worker/join-cluster.js';

/** argv marker of the child entry point. */
export const AGENTS_CHILD_FLAG = '--vxmesh-bench-agents';

/** Churn endpoints are named `<prefix><seq>`; seq numbers the puts of the whole run. */
export const CHURN_PREFIX = 'churn-';

/** Wall-clock milliseconds with sub-ms resolution, comparable between processes on one host. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Receipt key of one change: the put of churn endpoint `seq` (present) or its delete (absent). */
export function receiptKey(seq: number, present: boolean): number {
  return seq * 2 + (present ? 0 : 1);
}

/** Loopback-only made-up addresses for node `i` (nobody connects to them). */
export function benchNodeAddr(i: number, block: number): string {
  return `127.${block}.${(i >> 8) & 255}.${i & 255}`;
}

export type ToAgents =
  | {
      readonly type: 'enrol';
      readonly managerAddr: string;
      readonly token: string;
      /** Global index of the first agent of this process. */
      readonly first: number;
      readonly count: number;
      readonly concurrency: number;
    }
  | { readonly type: 'connect' }
  | { readonly type: 'status' }
  | { readonly type: 'report' }
  | { readonly type: 'stop' };

export interface AgentsStatus {
  readonly agents: number;
  /** Agents whose Session stream has sent its first message. */
  readonly sessions: number;
  /** Agents that applied at least one COMPLETE. */
  readonly synced: number;
  readonly messages: number;
  readonly completes: number;
  readonly changes: number;
  readonly gaps: number;
  readonly errors: number;
  readonly lastError: string;
  readonly receipts: number;
  readonly cpuUs: number;
  readonly rssBytes: number;
}

/** Churn receipts of one process: parallel arrays, one row per (agent, change) first applied. */
export interface Receipts {
  readonly agent: Int32Array;
  readonly key: Float64Array;
  readonly at: Float64Array;
}

export type FromAgents =
  | { readonly type: 'enrolled'; readonly nodeIds: string[]; readonly ms: number }
  | { readonly type: 'status'; readonly status: AgentsStatus }
  | { readonly type: 'report'; readonly status: AgentsStatus; readonly receipts: Receipts }
  | { readonly type: 'stopped' }
  | { readonly type: 'failed'; readonly error: string };

class ReceiptLog {
  #agent = new Int32Array(1 << 16);
  #key = new Float64Array(1 << 16);
  #at = new Float64Array(1 << 16);
  length = 0;

  push(agent: number, key: number, at: number): void {
    if (this.length === this.#agent.length) {
      const grow = <T extends Int32Array | Float64Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.#agent = grow(this.#agent, (n) => new Int32Array(n));
      this.#key = grow(this.#key, (n) => new Float64Array(n));
      this.#at = grow(this.#at, (n) => new Float64Array(n));
    }
    this.#agent[this.length] = agent;
    this.#key[this.length] = key;
    this.#at[this.length] = at;
    this.length++;
  }

  toReceipts(): Receipts {
    return {
      agent: this.#agent.slice(0, this.length),
      key: this.#key.slice(0, this.length),
      at: this.#at.slice(0, this.length),
    };
  }
}

/** Counters shared by the agents of this process. */
class Totals {
  messages = 0;
  completes = 0;
  changes = 0;
  gaps = 0;
  errors = 0;
  lastError = '';
  readonly receipts = new ReceiptLog();

  error(what: string, err: unknown): void {
    this.errors++;
    this.lastError = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    if (process.env['VXMESH_BENCH_DEBUG']) {
      // Every agent error as it happens (the report only carries the count and the last one).
      console.error(this.lastError);
    }
  }
}

function churnSeq(change: AssignmentChange): number | undefined {
  const item = change.assignment?.item;
  if (item?.$case !== 'endpoint' || !item.value.id.startsWith(CHURN_PREFIX)) {
    return undefined;
  }
  return Number(item.value.id.slice(CHURN_PREFIX.length));
}

const channelOptions = {
  ...clusterChannelOptions,
  // One connection per simulated node, as real nodes have (never shared between channels).
  'grpc.use_local_subchannel_pool': 1,
};

/** One simulated node: session, heartbeats, assignments; reconnects after a pause if anything fails. */
class SimAgent {
  readonly index: number;
  readonly #identity: TlsIdentity;
  readonly #addr: string;
  readonly #totals: Totals;
  #state = new AssignmentState();
  /** Churn endpoint seqs currently held, to turn a COMPLETE into present/absent receipts. */
  #held = new Set<number>();
  #client: DispatcherClient | undefined;
  #session: ClientReadableStream<SessionResponse> | undefined;
  #assignments: ClientReadableStream<AssignmentsResponse> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #sessionId = '';
  #stopped = false;
  sessionOpen = false;
  synced = false;

  constructor(index: number, identity: TlsIdentity, addr: string, totals: Totals) {
    this.index = index;
    this.#identity = identity;
    this.#addr = addr;
    this.#totals = totals;
  }

  start(): void {
    this.#client ??= new DispatcherClient(this.#addr, mutualTlsCredentials(this.#identity), channelOptions);
    const session = this.#client.session({
      hostname: `bench-agent-${this.index}`,
      advertiseAddr: '',
      dataPathAddr: '',
    });
    this.#session = session;
    session.on('data', (m: SessionResponse) => {
      if (this.#sessionId !== '') {
        return;
      }
      this.#sessionId = m.sessionId;
      this.sessionOpen = true;
      this.#scheduleHeartbeat(m.heartbeatPeriodMs);
      this.#openAssignments();
    });
    session.on('error', (err: ServiceError) => this.#restart(session, 'session', err));
    session.on('end', () => this.#restart(session, 'session', new Error('ended by the manager')));
  }

  #restart(call: ClientReadableStream<SessionResponse>, what: string, err: unknown): void {
    if (this.#stopped || call !== this.#session) {
      return;
    }
    this.#totals.error(`agent ${this.index} ${what}`, err);
    this.#teardown();
    this.#retry = setTimeout(() => this.start(), 500 + Math.random() * 1000);
  }

  #teardown(): void {
    clearTimeout(this.#heartbeat);
    clearTimeout(this.#retry);
    const session = this.#session;
    const assignments = this.#assignments;
    this.#session = undefined;
    this.#assignments = undefined;
    this.#sessionId = '';
    this.sessionOpen = false;
    session?.cancel();
    assignments?.cancel();
  }

  #scheduleHeartbeat(periodMs: number): void {
    const session = this.#session;
    this.#heartbeat = setTimeout(
      () => {
        const client = this.#client;
        if (!client || session !== this.#session) {
          return;
        }
        const status = {
          appliedVersion: this.#state.resultsIn?.toString() ?? '',
          lastError: '',
          itemCount: this.#state.items.size,
          resolver: undefined,
          overlayMtus: {},
        };
        client.heartbeat(
          { sessionId: this.#sessionId, status },
          new Metadata(),
          { deadline: new Date(Date.now() + periodMs) },
          (err) => {
            if (session !== this.#session || !session) {
              return;
            }
            if (err) {
              this.#restart(session, 'heartbeat', err);
            } else {
              this.#scheduleHeartbeat(periodMs);
            }
          },
        );
      },
      periodMs * (0.8 + 0.2 * Math.random()),
    );
  }

  #openAssignments(): void {
    const client = this.#client;
    const session = this.#session;
    if (!client || !session) {
      return;
    }
    const stream = client.assignments({ sessionId: this.#sessionId });
    this.#assignments = stream;
    stream.on('data', (m: AssignmentsResponse) => {
      if (stream !== this.#assignments) {
        return;
      }
      let changed: boolean;
      try {
        changed = this.#state.apply(m);
      } catch (err) {
        if (err instanceof AssignmentGapError) {
          // As NodeAgent does: drop this stream and open a new one, which starts with a COMPLETE.
          this.#totals.gaps++;
          this.#assignments = undefined;
          stream.cancel();
          this.#openAssignments();
          return;
        }
        this.#totals.error(`agent ${this.index} apply`, err);
        return;
      }
      const at = wallMs();
      this.#totals.messages++;
      this.#totals.changes += m.changes.length;
      if (m.kind === AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE) {
        this.#totals.completes++;
        this.synced = true;
        this.#applyComplete(m, at);
      } else if (changed) {
        this.#applyIncrement(m, at);
      }
    });
    const failed = (err: unknown): void => {
      if (this.#stopped || stream !== this.#assignments || session !== this.#session) {
        return;
      }
      this.#totals.error(`agent ${this.index} assignments`, err);
      this.#assignments = undefined;
      this.#retry = setTimeout(() => this.#openAssignments(), 200 + Math.random() * 300);
    };
    stream.on('error', failed);
    stream.on('end', () => failed(new Error('assignments stream ended by the manager')));
  }

  #applyComplete(m: AssignmentsResponse, at: number): void {
    const now = new Set<number>();
    for (const change of m.changes) {
      const seq = churnSeq(change);
      if (seq !== undefined && change.action === AssignmentAction.ASSIGNMENT_ACTION_UPDATE) {
        now.add(seq);
        if (!this.#held.has(seq)) {
          this.#totals.receipts.push(this.index, receiptKey(seq, true), at);
        }
      }
    }
    for (const seq of this.#held) {
      if (!now.has(seq)) {
        this.#totals.receipts.push(this.index, receiptKey(seq, false), at);
      }
    }
    this.#held = now;
  }

  #applyIncrement(m: AssignmentsResponse, at: number): void {
    for (const change of m.changes) {
      const seq = churnSeq(change);
      if (seq === undefined) {
        continue;
      }
      const present = change.action !== AssignmentAction.ASSIGNMENT_ACTION_REMOVE;
      if (present) {
        this.#held.add(seq);
      } else {
        this.#held.delete(seq);
      }
      this.#totals.receipts.push(this.index, receiptKey(seq, present), at);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#teardown();
    this.#client?.close();
  }
}

/** A CSR for an existing key, as generateKeyAndCsr builds one (empty subject: the CA decides). */
function csrFor(keyPem: string): string {
  const key = forge.pki.privateKeyFromPem(keyPem);
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  csr.sign(key, forge.md.sha256.create());
  return forge.pki.certificationRequestToPem(csr);
}

/**
 * Enrols agents `first .. first+count-1`. The first goes through the real `joinCluster` (CA fetched
 * untrusted, checked against the token digest, fresh RSA key); the others send a CSR for that same
 * key to IssueNodeCertificate over the channel pinned to the verified CA, which is joinCluster's
 * second step. Each node still gets its own node ID and certificate; only the key pair is shared,
 * which saves ~100-200 ms of RSA key generation per node.
 */
async function enrol(
  cmd: Extract<ToAgents, { type: 'enrol' }>,
): Promise<{ nodeIds: string[]; identities: TlsIdentity[] }> {
  const remote = parseHostPort(cmd.managerAddr, 2377, 'remote');
  const request = (i: number): { hostname: string; advertiseAddr: string; dataPathAddr: string } => ({
    hostname: `bench-agent-${i}`,
    advertiseAddr: `${benchNodeAddr(i, 1)}:2377`,
    dataPathAddr: benchNodeAddr(i, 1),
  });
  const first = await joinCluster({
    remote,
    token: cmd.token,
    availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    ...request(cmd.first),
  });
  const nodeIds: string[] = new Array<string>(cmd.count).fill('');
  const identities: TlsIdentity[] = new Array<TlsIdentity>(cmd.count).fill(first.identity);
  nodeIds[0] = first.nodeId;
  const keyPem = first.identity.keyPem;
  const csrPem = csrFor(keyPem);
  const pinned = new CertificateAuthorityClient(
    cmd.managerAddr,
    pinnedCaCredentials(first.identity.caPem),
    clusterChannelOptions,
  );
  try {
    let next = 1;
    const worker = async (): Promise<void> => {
      while (next < cmd.count) {
        const k = next++;
        const res = await callUnary(
          pinned.issueNodeCertificate.bind(pinned),
          {
            token: cmd.token,
            csrPem,
            availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
            ...request(cmd.first + k),
          },
          `enrol bench agent ${cmd.first + k}`,
          { timeoutMs: 120_000 },
        );
        nodeIds[k] = res.nodeId;
        identities[k] = { caPem: res.rootCaPem, certPem: res.certificatePem, keyPem };
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, cmd.concurrency) }, worker));
  } finally {
    pinned.close();
  }
  return { nodeIds, identities };
}

function runChild(): void {
  const send = (m: FromAgents): void => {
    process.send?.(m);
  };
  const totals = new Totals();
  let agents: SimAgent[] = [];
  let enrolled: { identities: TlsIdentity[]; first: number; addr: string } | undefined;
  const status = (): AgentsStatus => {
    const cpu = process.cpuUsage();
    return {
      agents: agents.length,
      sessions: agents.filter((a) => a.sessionOpen).length,
      synced: agents.filter((a) => a.synced).length,
      messages: totals.messages,
      completes: totals.completes,
      changes: totals.changes,
      gaps: totals.gaps,
      errors: totals.errors,
      lastError: totals.lastError,
      receipts: totals.receipts.length,
      cpuUs: cpu.user + cpu.system,
      rssBytes: process.memoryUsage.rss(),
    };
  };
  const stop = (): void => {
    for (const a of agents) {
      a.stop();
    }
    agents = [];
  };
  process.on('disconnect', () => {
    stop();
    process.exit(0);
  });
  process.on('message', (raw: unknown) => {
    const m = raw as ToAgents;
    switch (m.type) {
      case 'enrol': {
        const started = wallMs();
        enrol(m).then(
          ({ nodeIds, identities }) => {
            enrolled = { identities, first: m.first, addr: m.managerAddr };
            send({ type: 'enrolled', nodeIds, ms: wallMs() - started });
          },
          (err: unknown) =>
            send({ type: 'failed', error: `enrolment: ${err instanceof Error ? err.message : String(err)}` }),
        );
        return;
      }
      case 'connect': {
        if (!enrolled) {
          send({ type: 'failed', error: 'connect before enrol' });
          return;
        }
        const e = enrolled;
        agents = e.identities.map((identity, k) => new SimAgent(e.first + k, identity, e.addr, totals));
        // Staggered a little so TLS handshakes do not all land in one event-loop turn.
        agents.forEach((a, k) => setTimeout(() => a.start(), Math.floor(k / 20) * 5));
        send({ type: 'status', status: status() });
        return;
      }
      case 'status': {
        send({ type: 'status', status: status() });
        return;
      }
      case 'report': {
        send({ type: 'report', status: status(), receipts: totals.receipts.toReceipts() });
        return;
      }
      case 'stop': {
        stop();
        send({ type: 'stopped' });
        setTimeout(() => process.exit(0), 200).unref();
        return;
      }
    }
  });
}

if (process.argv.includes(AGENTS_CHILD_FLAG)) {
  runChild();
}
