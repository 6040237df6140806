/**
 * The etcd backend of {@link KvStore}, on the `etcd3` package.
 *
 * etcd3 supplies the connection pool (per-endpoint gRPC clients, host selection, a per-host
 * circuit breaker) and the protobuf definitions. Calls are issued on the pool's gRPC clients
 * directly rather than through etcd3's builders or `client.kv`, because we need three things those
 * paths lack: real cancellation from an AbortSignal, a bounded wait for a connection
 * (`dialTimeoutMs`), and the gRPC status code of a failure (etcd3 rewrites errors into classes
 * that drop it). Watches use one gRPC stream per `watch()` and resume themselves, because
 * etcd3's watch manager resumes from the response header revision, which skips events when a
 * stream breaks while the watcher is still catching up on history.
 *
 * Writes are never retried here: a write that failed with `UnavailableError` may or may not have
 * been applied, and only the caller knows whether repeating it is safe (see `isRetryable`).
 */
import { connectivityState, status as GrpcStatus } from '@grpc/grpc-js';
import type {
  ChannelOptions,
  Client,
  ClientDuplexStream,
  ClientUnaryCall,
  Metadata,
  ServiceError,
} from '@grpc/grpc-js';
import {
  ClientClosedError,
  Etcd3,
  EtcdLeaseInvalidError,
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
  RecoverableError,
  castGrpcErrorMessage,
} from 'etcd3';
import type {
  ICallable,
  ICompare,
  IDeleteRangeResponse,
  IKeyValue,
  ILeaseGrantResponse,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IPutRequest,
  IPutResponse,
  IRangeRequest,
  IRangeResponse,
  IRequestOp,
  ITxnResponse,
  IWatchRequest,
  IWatchResponse,
  IOptions as Etcd3Options,
} from 'etcd3';
import type { Clock } from '../common/clock.js';
import { systemClock } from '../common/clock.js';
import {
  ClosedError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  VxmeshError,
  isRetryable,
} from '../common/errors.js';
import type {
  CallOptions,
  Compare,
  CompareOp,
  DeleteResult,
  GetResult,
  KeyValue,
  KvBytes,
  KvStore,
  LeaseGrant,
  PutOptions,
  RangeOptions,
  RangePage,
  TxnOp,
  TxnOpResult,
  TxnRequest,
  TxnResult,
  WatchEvent,
  WatchOptions,
  WriteResult,
} from './kv-store.js';
import { checkKey, checkPut, checkTtl, checkTxn, prefixEnd, toBytes } from './kv-validation.js';

/** TLS settings for `https://` endpoints. PEM text or bytes. */
export interface EtcdTlsOptions {
  /** CA bundle that signed etcd's server certificate; absent: the system roots. */
  readonly ca?: Uint8Array | string;
  /** Client certificate for etcd's `--client-cert-auth`; needs `key` and `ca`. */
  readonly cert?: Uint8Array | string;
  /** Private key of `cert`. */
  readonly key?: Uint8Array | string;
}

export interface EtcdKvStoreOptions {
  /** Client URLs, `http://host:port` or `https://host:port`; calls go to any of them. */
  readonly endpoints: readonly string[];
  /**
   * Prefix added to every key on the way in and removed on the way out, so several stores can
   * share one etcd without seeing each other's keys. Default: none.
   */
  readonly namespace?: string;
  /** TLS for `https://` endpoints; every endpoint must then use `https://`. */
  readonly tls?: EtcdTlsOptions;
  /**
   * How long a call waits for a connection to etcd before failing with `UnavailableError`.
   * Bounds only the connect; a connected call runs until it completes or its signal aborts.
   * Default 5000.
   */
  readonly dialTimeoutMs?: number;
  /** Time source for retry backoff and connect deadlines. Default: the system clock. */
  readonly clock?: Clock;
}

/** Context that lets {@link toVxmeshError} name what a failure was about. */
export interface EtcdErrorContext {
  /** The lease the request referred to, for `NotFoundError('lease', id)`. */
  readonly lease?: bigint;
  /** The revision the request asked for (range at revision, compact). */
  readonly revision?: bigint;
}

const DEFAULT_DIAL_TIMEOUT_MS = 5000;
/** Keys fetched per page when a watch lists its prefix. */
const LIST_PAGE_SIZE = 500;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;
/** Watch responses buffered before the stream is paused; resumed again below the low mark. */
const INBOX_HIGH = 64;
const INBOX_LOW = 16;
const ZERO = Buffer.from([0]);
const MAX_INT64 = (1n << 63n) - 1n;

const COMPARE_RESULT: Record<CompareOp, NonNullable<ICompare['result']>> = {
  '==': 'Equal',
  '!=': 'NotEqual',
  '<': 'Less',
  '>': 'Greater',
};

/**
 * A failed call's gRPC status, kept intact. etcd3's pool rewrites plain `Error`s into its own
 * classes without the status code; an error of another class passes through untouched, and not
 * being "recoverable" in etcd3's sense it neither trips the circuit breaker nor resets the host's
 * clients (which would also kill every watch stream on that host).
 */
class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
    options?: ErrorOptions,
  ) {
    super(`etcd call failed: ${GrpcStatus[code] ?? code} ${details}`, options);
    this.name = 'GrpcStatusError';
  }
}

/** Generated gRPC stubs, which `grpc.Client`'s type does not declare. */
type UnaryStub = (
  request: unknown,
  metadata: Metadata,
  options: object,
  callback: (err: ServiceError | null, response: unknown) => void,
) => ClientUnaryCall;
type DuplexStub = (metadata: Metadata, options: object) => ClientDuplexStream<unknown, unknown>;

type Service = 'KV' | 'Lease' | 'Watch';

/** One endpoint of etcd3's connection pool (its `Host`), as far as we use it. */
interface PoolHost {
  getServiceClient(name: Service): Client;
}

/**
 * etcd3's pool, with what its `ICallable` type leaves out: the host list, and the host order
 * `withConnection` accepts.
 */
interface HostPool {
  readonly hosts?: readonly PoolHost[];
  withConnection<R>(
    service: Service,
    fn: (args: { resource: PoolHost; client: Client; metadata: Metadata }) => Promise<R> | R,
    order?: Generator<PoolHost, void, unknown>,
  ): Promise<R>;
}

/** Marks a failure that happened before anything was sent, so another endpoint may be tried. */
const NOT_SENT = Symbol('vxmesh.etcd.notSent');

/** What a caller cannot do while etcd has no quorum (part of the error users see). */
const NO_QUORUM_CONSEQUENCE =
  'state can be neither read nor changed until a majority of etcd members is reachable again';

/** A connection attempt gets at least this long, however many endpoints share the dial timeout. */
const MIN_DIAL_MS = 1000;

/**
 * etcd's require-leader metadata (clientv3 `WithRequireLeader`): a member that has no leader
 * refuses the call at once with "etcdserver: no leader" instead of holding it until its request
 * timeout, and ends watch streams, which then resume on a member that has a quorum.
 */
function requireLeader(metadata: Metadata): Metadata {
  const copy = metadata.clone();
  copy.set('hasleader', 'true');
  return copy;
}

function* repeatHost(host: PoolHost): Generator<PoolHost, void, unknown> {
  for (;;) {
    yield host;
  }
}

/** Nothing reached etcd: our connect deadline passed, or etcd3's circuit breaker refused the endpoint. */
function notSent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (NOT_SENT in err || 'isBrokenCircuitError' in err);
}

/** A request's key range on the wire (namespace applied). */
interface WireRange {
  readonly key: Buffer;
  readonly range_end: Buffer;
}

/** Where a watch continues from; shared between its list and its stream phases. */
interface WatchCursor {
  /** First revision not yet delivered. */
  next: bigint;
  /** Highest store revision seen; a store that reports less after a reconnect lost history. */
  observed: bigint;
  /** etcd cluster the watch has been talking to; another cluster means a gap. */
  clusterId: string | undefined;
  /** Consecutive failures, for backoff; reset once a stream is established. */
  failures: number;
  /** Consecutive resets, for backoff; reset once a stream is established. */
  resets: number;
}

type FollowOutcome = 'aborted' | 'disconnected' | 'compacted' | 'reconnected';

/** Subclass only to reach the connection pool, which etcd3 keeps protected. */
class PoolClient extends Etcd3 {
  get connections(): ICallable<unknown> {
    return this.pool;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function pem(value: Uint8Array | string): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : asBuffer(value);
}

function checkLeaseId(id: bigint, field = 'lease'): void {
  if (typeof id !== 'bigint' || id <= 0n || id > MAX_INT64) {
    throw new InvalidArgumentError(field, `${String(id)} is not a lease id`);
  }
}

function checkRevision(revision: bigint, field: string): void {
  if (typeof revision !== 'bigint' || revision < 0n || revision > MAX_INT64) {
    throw new InvalidArgumentError(field, `${String(revision)} is not a revision`);
  }
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/**
 * gRPC throws synchronously when a call starts on a channel that etcd3 just closed to reset the
 * host after a failure; to the caller that is the same as a dropped connection.
 */
function shutDown(err: unknown): GrpcStatusError {
  const detail = err instanceof Error ? err.message : String(err);
  return new GrpcStatusError(GrpcStatus.UNAVAILABLE, `channel closed: ${detail}`, { cause: err });
}

function statusOf(err: Error): { code: number; details: string } | undefined {
  const candidate = err as Partial<ServiceError>;
  return typeof candidate.code === 'number' && typeof candidate.details === 'string'
    ? { code: candidate.code, details: candidate.details }
    : undefined;
}

/**
 * Maps a failure of etcd, gRPC or etcd3 to the vxmesh error hierarchy. The only place that
 * looks at etcd's error texts: etcd reports its errors as a gRPC status plus a fixed message
 * (`etcdserver: ...`, `mvcc: ...`), as etcd's own Go client also decodes them.
 *
 * - connection failures, timeouts, no leader, overload → `UnavailableError` (retryable)
 * - lease not found → `NotFoundError('lease', id)`
 * - revision compacted → code `FAILED_PRECONDITION`; future revision → `InvalidArgumentError`
 * - request too large, too many txn ops, duplicate txn key → `InvalidArgumentError`
 * - etcd out of space → code `EXHAUSTED`
 * - client closed → `ClosedError`; anything else → `InternalError` with the cause attached.
 */
export function toVxmeshError(err: unknown, ctx: EtcdErrorContext = {}): VxmeshError {
  if (err instanceof VxmeshError) {
    return err;
  }
  if (!(err instanceof Error)) {
    return new InternalError('etcd call failed with a non-error value', { cause: err });
  }
  if (err instanceof ClientClosedError) {
    return new ClosedError('etcd store');
  }
  const options = { cause: err };
  const message = err.message;
  const grpcStatus = statusOf(err);
  const code = grpcStatus?.code;
  const text = grpcStatus?.details ?? message;

  if (err instanceof EtcdLeaseInvalidError || text.includes('requested lease not found')) {
    return new NotFoundError('lease', ctx.lease === undefined ? 'unknown' : ctx.lease.toString(), options);
  }
  if (text.includes('required revision has been compacted')) {
    const revision = ctx.revision === undefined ? 'requested' : `revision ${ctx.revision}`;
    return new VxmeshError('FAILED_PRECONDITION', `the ${revision} has been compacted`, options);
  }
  if (text.includes('required revision is a future revision')) {
    return new InvalidArgumentError(
      'revision',
      `${ctx.revision ?? 'requested revision'} is newer than the store`,
      options,
    );
  }
  if (text.includes('database space exceeded')) {
    return new VxmeshError('EXHAUSTED', 'etcd is out of space (NOSPACE alarm); compact and defragment it', options);
  }
  if (text.includes('too many operations in txn request')) {
    return new InvalidArgumentError('txn', 'more operations than etcd allows (--max-txn-ops)', options);
  }
  if (text.includes('duplicate key given in txn request')) {
    return new InvalidArgumentError('txn', 'a key is written more than once in one branch', options);
  }
  if (text.includes('request is too large')) {
    return new InvalidArgumentError('request', 'larger than etcd accepts (--max-request-bytes)', options);
  }
  if (err instanceof EtcdPermissionDeniedError || code === GrpcStatus.PERMISSION_DENIED) {
    return new VxmeshError('PERMISSION_DENIED', `etcd denied the request: ${text}`, options);
  }
  if (code === GrpcStatus.UNAUTHENTICATED || text.includes('invalid auth token')) {
    return new VxmeshError('UNAUTHENTICATED', `etcd rejected the credentials: ${text}`, options);
  }
  if (/etcdserver: (no leader|request timed out)/.test(text)) {
    // A member that lost its quorum refuses at once (we ask for a leader on every call) or, if it
    // still believed in a leader when the call came, gives up after its request timeout.
    return new UnavailableError(`etcd has no quorum (${text}): ${NO_QUORUM_CONSEQUENCE}`, options);
  }
  if (
    code === GrpcStatus.UNAVAILABLE ||
    code === GrpcStatus.DEADLINE_EXCEEDED ||
    code === GrpcStatus.CANCELLED || // not by our signal (that case never gets here): the channel went away
    code === GrpcStatus.RESOURCE_EXHAUSTED || // "too many requests": etcd sheds load
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    'isBrokenCircuitError' in err || // etcd3's circuit breaker for the host is open
    /etcdserver: (no leader|leader changed|request timed out|too many requests)/.test(text)
  ) {
    return new UnavailableError(`etcd unavailable: ${text}`, options);
  }
  if (code === GrpcStatus.INVALID_ARGUMENT) {
    return new InvalidArgumentError('request', text, options);
  }
  return new InternalError(`etcd call failed: ${message}`, options);
}

/**
 * Buffers the responses of one gRPC stream for an async consumer, pausing the stream while the
 * consumer lags so a slow watcher cannot grow memory without bound.
 */
class StreamInbox<T> {
  readonly #stream: ClientDuplexStream<unknown, unknown>;
  readonly #signal: AbortSignal;
  readonly #items: T[] = [];
  #ended: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #paused = false;
  readonly #onAbort = (): void => this.#notify();

  constructor(stream: ClientDuplexStream<unknown, unknown>, signal: AbortSignal) {
    this.#stream = stream;
    this.#signal = signal;
    stream.on('data', (item: T) => {
      this.#items.push(item);
      if (this.#items.length >= INBOX_HIGH && !this.#paused) {
        this.#paused = true;
        stream.pause();
      }
      this.#notify();
    });
    stream.on('error', (error: unknown) => {
      this.#ended ??= { error };
      this.#notify();
    });
    stream.on('end', () => {
      this.#ended ??= { error: undefined };
      this.#notify();
    });
    signal.addEventListener('abort', this.#onAbort, { once: true });
  }

  /** Next response; `end` once the stream is over and drained; `aborted` as soon as the signal fires. */
  async next(): Promise<{ kind: 'item'; item: T } | { kind: 'end'; error: unknown } | { kind: 'aborted' }> {
    for (;;) {
      if (this.#signal.aborted) {
        return { kind: 'aborted' };
      }
      const item = this.#items.shift();
      if (item !== undefined) {
        if (this.#paused && this.#items.length <= INBOX_LOW) {
          this.#paused = false;
          this.#stream.resume();
        }
        return { kind: 'item', item };
      }
      if (this.#ended) {
        return { kind: 'end', error: this.#ended.error };
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }

  dispose(): void {
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#items.length = 0;
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/**
 * {@link KvStore} on etcd v3. Safe for concurrent use; one instance shares its connections
 * between all calls and watches. Reads are linearizable.
 *
 * Errors: see {@link toVxmeshError}. `UnavailableError` is raised when no connection can be made
 * within `dialTimeoutMs` or an in-flight call loses its connection; such a write may have been
 * applied. Watches survive outages: they retry with backoff and resume where they left off, and
 * yield `reset` only when history they need is gone.
 */
export class EtcdKvStore implements KvStore {
  readonly #client: PoolClient;
  readonly #pool: ICallable<unknown>;
  readonly #ns: string;
  readonly #nsBytes: number;
  readonly #dialTimeoutMs: number;
  readonly #clock: Clock;
  /** Rotates the first endpoint tried among equally good ones, spreading the load. */
  #nextHost = 0;
  #closed = false;
  /** Cancels every in-flight call and stream; run by `close()`. */
  readonly #inflight = new Set<() => void>();
  /** Stops every open watch; aborted by `close()`. */
  readonly #watchStops = new Set<AbortController>();

  /** @throws InvalidArgumentError for a bad endpoint list, TLS setting or timeout. */
  constructor(opts: EtcdKvStoreOptions) {
    const endpoints = opts.endpoints;
    // Checked at run time too: the options often come from parsed configuration.
    if (!Array.isArray(endpoints) || endpoints.length === 0) {
      throw new InvalidArgumentError('endpoints', 'at least one etcd endpoint is required');
    }
    const scheme = opts.tls ? 'https://' : undefined;
    endpoints.forEach((endpoint: string, i) => {
      if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
        throw new InvalidArgumentError(`endpoints[${i}]`, `${endpoint} is not http(s)://host:port`);
      }
      if (scheme && !endpoint.startsWith(scheme)) {
        throw new InvalidArgumentError(`endpoints[${i}]`, `${endpoint} must use https:// when tls is set`);
      }
    });
    const dialTimeoutMs = opts.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS;
    if (!Number.isInteger(dialTimeoutMs) || dialTimeoutMs <= 0) {
      throw new InvalidArgumentError('dialTimeoutMs', `${dialTimeoutMs} is not a positive whole number of ms`);
    }
    this.#ns = opts.namespace ?? '';
    this.#nsBytes = Buffer.byteLength(this.#ns);
    if (this.#nsBytes > 1024) {
      throw new InvalidArgumentError('namespace', `${this.#nsBytes} bytes is longer than 1024`);
    }
    this.#dialTimeoutMs = dialTimeoutMs;
    this.#clock = opts.clock ?? systemClock;

    const grpcOptions: ChannelOptions = {
      // Detect a dead connection under a long-lived watch; etcd accepts pings every 5 s or slower.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      // Reconnect quickly after an etcd restart; gRPC's default backoff grows to 2 minutes.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      // A range without a limit can exceed gRPC's 4 MiB default; etcd itself sends up to 2 GiB.
      'grpc.max_receive_message_length': -1,
    };
    const options: Etcd3Options = { hosts: opts.endpoints.slice(), grpcOptions };
    const tls = opts.tls;
    if (tls) {
      if ((tls.cert === undefined) !== (tls.key === undefined)) {
        throw new InvalidArgumentError('tls', 'cert and key must be given together');
      }
      if (tls.ca !== undefined) {
        options.credentials = {
          rootCertificate: pem(tls.ca),
          ...(tls.key === undefined ? {} : { privateKey: pem(tls.key) }),
          ...(tls.cert === undefined ? {} : { certChain: pem(tls.cert) }),
        };
      } else if (tls.cert !== undefined) {
        throw new InvalidArgumentError('tls.ca', 'required with a client certificate');
      }
    }
    this.#client = new PoolClient(options);
    this.#pool = this.#client.connections;
  }

  /** @inheritDoc */
  async get(key: string, opts: CallOptions = {}): Promise<GetResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkKey(key);
    const res = await this.#call<IRangeResponse>('KV', 'range', { key: this.#wireKey(key) }, signal);
    const kv = res.kvs[0];
    return { kv: kv === undefined ? undefined : this.#toKeyValue(kv), revision: BigInt(res.header.revision) };
  }

  /** @inheritDoc */
  async range(prefix: string, opts: RangeOptions = {}): Promise<RangePage> {
    const { signal, limit, after, revision } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new InvalidArgumentError('limit', `${limit} is not a whole number >= 0`);
    }
    if (revision !== undefined) {
      checkRevision(revision, 'revision');
    }
    const bounds = this.#prefixRange(prefix);
    let key = bounds.key;
    if (after !== undefined) {
      // The smallest key strictly greater than `after` is `after` followed by a zero byte.
      const start = Buffer.concat([Buffer.from(this.#ns + after), ZERO]);
      if (Buffer.compare(start, key) > 0) {
        key = start;
      }
    }
    const req: IRangeRequest = { key, range_end: bounds.range_end };
    if (limit !== undefined && limit > 0) {
      req.limit = limit;
    }
    if (revision !== undefined && revision > 0n) {
      req.revision = revision.toString();
    }
    const ctx = revision === undefined ? {} : { revision };
    const res = await this.#call<IRangeResponse>('KV', 'range', req, signal, ctx);
    return {
      kvs: res.kvs.map((kv) => this.#toKeyValue(kv)),
      more: res.more,
      // etcd's header carries the current revision even for a read at an older one.
      revision: revision !== undefined && revision > 0n ? revision : BigInt(res.header.revision),
    };
  }

  /** @inheritDoc */
  async put(key: string, value: KvBytes, opts: PutOptions = {}): Promise<WriteResult> {
    const { signal, lease } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    const bytes = toBytes(value);
    checkPut(key, bytes);
    const req: IPutRequest = { key: this.#wireKey(key), value: asBuffer(bytes) };
    if (lease !== undefined && lease !== 0n) {
      checkLeaseId(lease);
      req.lease = lease.toString();
    }
    const res = await this.#call<IPutResponse>('KV', 'put', req, signal, lease === undefined ? {} : { lease });
    return { revision: BigInt(res.header.revision) };
  }

  /** @inheritDoc */
  async delete(key: string, opts: CallOptions = {}): Promise<DeleteResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkKey(key);
    const res = await this.#call<IDeleteRangeResponse>('KV', 'deleteRange', { key: this.#wireKey(key) }, signal);
    return { deleted: Number(res.deleted), revision: BigInt(res.header.revision) };
  }

  /** @inheritDoc */
  async deletePrefix(prefix: string, opts: CallOptions = {}): Promise<DeleteResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkKey(prefix, 'prefix');
    const res = await this.#call<IDeleteRangeResponse>('KV', 'deleteRange', this.#prefixRange(prefix), signal);
    return { deleted: Number(res.deleted), revision: BigInt(res.header.revision) };
  }

  /** @inheritDoc */
  async txn(req: TxnRequest, opts: CallOptions = {}): Promise<TxnResult> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkTxn(req);
    let lease: bigint | undefined;
    const toOps = (ops: readonly TxnOp[], branch: string): IRequestOp[] =>
      ops.map((op, i) => {
        if (op.type === 'put' && op.lease !== undefined && op.lease !== 0n) {
          checkLeaseId(op.lease, `${branch}[${i}].lease`);
          lease ??= op.lease;
        }
        return this.#toRequestOp(op);
      });
    const failure = req.failure ?? [];
    const wire = {
      compare: req.compare.map((c, i) => this.#toCompare(c, i)),
      success: toOps(req.success, 'success'),
      failure: toOps(failure, 'failure'),
    };
    const res = await this.#call<ITxnResponse>('KV', 'txn', wire, signal, lease === undefined ? {} : { lease });
    const ran = res.succeeded ? req.success : failure;
    return {
      succeeded: res.succeeded,
      revision: BigInt(res.header.revision),
      results: ran.map((op, i): TxnOpResult => {
        const r = res.responses[i];
        switch (op.type) {
          case 'put': {
            return { type: 'put' };
          }
          case 'get': {
            const kv = r?.response_range?.kvs[0];
            return { type: 'get', kv: kv === undefined ? undefined : this.#toKeyValue(kv) };
          }
          default: {
            return { type: 'delete', deleted: Number(r?.response_delete_range?.deleted ?? 0) };
          }
        }
      }),
    };
  }

  /** @inheritDoc */
  async grantLease(ttlSeconds: number, opts: CallOptions = {}): Promise<LeaseGrant> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkTtl(ttlSeconds);
    const res = await this.#call<ILeaseGrantResponse>('Lease', 'leaseGrant', { TTL: ttlSeconds, ID: 0 }, signal);
    if (res.error) {
      throw toVxmeshError(castGrpcErrorMessage(res.error));
    }
    return { id: BigInt(res.ID), ttlSeconds: Number(res.TTL) };
  }

  /**
   * @inheritDoc
   * One renewal over a short-lived keep-alive stream; keeping a lease alive is the caller's loop.
   */
  async keepAliveLease(id: bigint, opts: CallOptions = {}): Promise<LeaseGrant> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkLeaseId(id, 'id');
    let res: ILeaseKeepAliveResponse;
    try {
      res = await this.#onSomeHost('Lease', signal, (client, metadata) =>
        this.#keepAliveOnce(client, metadata, id, signal),
      );
    } catch (err) {
      throw this.#failure(err, signal, { lease: id });
    }
    // etcd answers a keep-alive for an unknown or expired lease with TTL 0 rather than an error.
    const ttl = Number(res.TTL);
    if (!(ttl > 0)) {
      throw new NotFoundError('lease', id.toString());
    }
    return { id, ttlSeconds: ttl };
  }

  /** @inheritDoc */
  async revokeLease(id: bigint, opts: CallOptions = {}): Promise<void> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkLeaseId(id, 'id');
    try {
      await this.#call('Lease', 'leaseRevoke', { ID: id.toString() }, signal, { lease: id });
    } catch (err) {
      if (!(err instanceof NotFoundError)) {
        throw err;
      }
    }
  }

  /**
   * @inheritDoc
   * Waits until etcd has physically discarded the history. Compacting at or below an
   * already-compacted revision does nothing.
   * @throws InvalidArgumentError for a revision newer than the store.
   */
  async compact(revision: bigint, opts: CallOptions = {}): Promise<void> {
    const { signal } = opts;
    signal?.throwIfAborted();
    this.#assertOpen();
    checkRevision(revision, 'revision');
    if (revision === 0n) {
      return;
    }
    try {
      await this.#call('KV', 'compact', { revision: revision.toString(), physical: true }, signal, { revision });
    } catch (err) {
      if (!(err instanceof VxmeshError && err.code === 'FAILED_PRECONDITION')) {
        throw err;
      }
    }
  }

  /**
   * @inheritDoc
   * Errors reach the consumer from the iterator: `ClosedError` when the store is closed before
   * the first event is read, `InvalidArgumentError` for a negative `fromRevision`, and any
   * non-retryable failure (e.g. permission denied). The iterator ends quietly when the signal
   * aborts, including before it starts. A `fromRevision` of 0 replays the whole history.
   */
  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    return this.#watch(prefix, opts);
  }

  /** @inheritDoc */
  close(): Promise<void> {
    if (this.#closed) {
      return Promise.resolve();
    }
    this.#closed = true;
    for (const stop of this.#watchStops) {
      stop.abort(new ClosedError('etcd store'));
    }
    for (const cancel of this.#inflight) {
      cancel();
    }
    this.#inflight.clear();
    this.#client.close();
    return Promise.resolve();
  }

  /** Same as `close()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---------------------------------------------------------------------------------------------
  // Calls

  #assertOpen(): void {
    if (this.#closed) {
      throw new ClosedError('etcd store');
    }
  }

  /** The error a failed call rejects with: the abort reason, `ClosedError`, or the mapped failure. */
  #failure(err: unknown, signal: AbortSignal | undefined, ctx: EtcdErrorContext = {}): unknown {
    if (signal?.aborted) {
      return signal.reason;
    }
    if (this.#closed) {
      return new ClosedError('etcd store');
    }
    return toVxmeshError(err, ctx);
  }

  /** One unary RPC on some endpoint, after waiting (bounded) for a connection. */
  #call<Res>(
    service: Service,
    method: string,
    request: object,
    signal: AbortSignal | undefined,
    ctx?: EtcdErrorContext,
  ): Promise<Res> {
    return this.#onSomeHost(service, signal, (client, metadata) =>
      this.#invoke<Res>(client, method, request, metadata, signal),
    ).catch((err: unknown) => {
      throw this.#failure(err, signal, ctx);
    });
  }

  /**
   * Runs `fn` on a connected endpoint, trying the endpoints one after another until one takes
   * it: those already connected first, then the others, each waiting for a connection for its
   * share of `dialTimeoutMs` (at least {@link MIN_DIAL_MS}). Moving on is safe only while nothing
   * was sent (no connection in time, or etcd3's circuit breaker refused the endpoint); a call
   * that was sent and failed is never repeated here, since it may have been applied. Without
   * this, etcd3 picks an endpoint at random, so with one member of three down a third of all
   * calls waited the whole dial timeout and failed, although a quorum was up.
   */
  async #onSomeHost<R>(
    service: Service,
    signal: AbortSignal | undefined,
    fn: (client: Client, metadata: Metadata) => Promise<R>,
  ): Promise<R> {
    const pool = this.#pool as unknown as HostPool;
    const hosts = pool.hosts ?? [];
    const connected = (client: Client): boolean =>
      client.getChannel().getConnectivityState(false) === connectivityState.READY;
    const first = this.#nextHost++ % Math.max(1, hosts.length);
    const rotated = [...hosts.slice(first), ...hosts.slice(0, first)];
    const ready = rotated.filter((h) => connected(h.getServiceClient(service)));
    const others = rotated.filter((h) => !ready.includes(h));
    const dialMs = Math.max(MIN_DIAL_MS, Math.floor(this.#dialTimeoutMs / Math.max(1, others.length)));
    const attempt = async ({ client, metadata }: { client: Client; metadata: Metadata }): Promise<R> => {
      if (!connected(client)) {
        await this.#whenReady(client, signal, hosts.length === 0 ? this.#dialTimeoutMs : dialMs);
      }
      return await fn(client, requireLeader(metadata));
    };
    if (hosts.length === 0) {
      // Not etcd3's ConnectionPool as we know it: let it pick.
      return await pool.withConnection(service, attempt);
    }
    const unreachable = (cause: unknown): Error =>
      Object.assign(
        new UnavailableError(`cannot connect to any of the ${hosts.length} etcd endpoints: ${NO_QUORUM_CONSEQUENCE}`, {
          cause,
        }),
        { [RecoverableError]: true, [NOT_SENT]: true },
      );
    let order = [...ready, ...others];
    if (ready.length === 0 && others.length > 1) {
      // Nothing connected (a fresh client, or the members it used died): dial every endpoint at
      // once and start with the first that answers, instead of waiting on dead ones in turn.
      const winner = await this.#firstToConnect(
        others.map((h) => h.getServiceClient(service)),
        signal,
      );
      const host = winner === undefined ? undefined : others[winner];
      if (!host) {
        throw unreachable(undefined);
      }
      order = [host, ...others.filter((h) => h !== host)];
    }
    let last: unknown;
    for (const host of order) {
      try {
        return await pool.withConnection(service, attempt, repeatHost(host));
      } catch (err) {
        last = err;
        if (signal?.aborted || this.#closed || !notSent(err)) {
          throw err;
        }
      }
    }
    throw hosts.length === 1 ? last : unreachable(last);
  }

  /**
   * Starts connecting every client and resolves with the index of the first one connected, or
   * undefined when none is within `dialTimeoutMs` (or the signal aborts, or the store closes).
   */
  #firstToConnect(clients: readonly Client[], signal: AbortSignal | undefined): Promise<number | undefined> {
    return new Promise<number | undefined>((resolve) => {
      let pending = clients.length;
      let done = false;
      const finish = (index: number | undefined): void => {
        if (!done) {
          done = true;
          signal?.removeEventListener('abort', onAbort);
          this.#inflight.delete(onAbort);
          resolve(index);
        }
      };
      const onAbort = (): void => finish(undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#inflight.add(onAbort);
      const deadline = this.#clock.now() + this.#dialTimeoutMs;
      clients.forEach((client, i) => {
        client.waitForReady(deadline, (err) => {
          if (err === undefined) {
            finish(i);
          } else if (--pending === 0) {
            finish(undefined);
          }
        });
      });
    });
  }

  #invoke<Res>(
    client: Client,
    method: string,
    request: object,
    metadata: Metadata,
    signal: AbortSignal | undefined,
  ): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      const stub = (client as unknown as Record<string, UnaryStub>)[method];
      if (stub === undefined) {
        reject(new InternalError(`etcd client has no method ${method}`));
        return;
      }
      let call: ClientUnaryCall;
      try {
        call = stub.call(client, request, metadata, {}, (err, response) => {
          this.#inflight.delete(cancel);
          signal?.removeEventListener('abort', cancel);
          if (err === null) {
            resolve(response as Res);
          } else if (signal?.aborted || this.#closed) {
            // Not a gRPC failure: settled by `#failure`, and must not look recoverable to etcd3.
            reject(new ClosedError('etcd call'));
          } else {
            reject(new GrpcStatusError(err.code, err.details, { cause: err }));
          }
        });
      } catch (err) {
        reject(shutDown(err));
        return;
      }
      const cancel = (): void => call.cancel();
      this.#inflight.add(cancel);
      signal?.addEventListener('abort', cancel, { once: true });
    });
  }

  /**
   * Resolves once `client`'s channel is connected, or fails after `dialTimeoutMs`. The failure
   * is marked recoverable for etcd3 so its per-host circuit breaker steers later calls to
   * another endpoint.
   */
  #whenReady(client: Client, signal: AbortSignal | undefined, timeoutMs = this.#dialTimeoutMs): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      signal?.throwIfAborted();
      // gRPC offers no way to stop waiting; abort and close() settle the promise instead, and the
      // wait itself ends at its deadline. The placeholder error is replaced by `#failure`.
      const onAbort = (): void => reject(new ClosedError('etcd call'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#inflight.add(onAbort);
      client.waitForReady(this.#clock.now() + timeoutMs, (err) => {
        signal?.removeEventListener('abort', onAbort);
        this.#inflight.delete(onAbort);
        if (err === undefined) {
          resolve();
          return;
        }
        const unavailable = new UnavailableError(
          `cannot connect to etcd at ${client.getChannel().getTarget()} within ${timeoutMs} ms`,
          { cause: err },
        );
        reject(Object.assign(unavailable, { [RecoverableError]: true, [NOT_SENT]: true }));
      });
    });
  }

  #openStream(client: Client, method: string, metadata: Metadata): ClientDuplexStream<unknown, unknown> {
    const stub = (client as unknown as Record<string, DuplexStub>)[method];
    if (stub === undefined) {
      throw new InternalError(`etcd client has no stream ${method}`);
    }
    let stream: ClientDuplexStream<unknown, unknown>;
    try {
      stream = stub.call(client, metadata, {});
    } catch (err) {
      throw shutDown(err);
    }
    // Errors are read through StreamInbox or the caller's listener; this one only guarantees an
    // 'error' emitted after we stopped listening never becomes an uncaught exception.
    stream.on('error', () => undefined);
    return stream;
  }

  #keepAliveOnce(
    client: Client,
    metadata: Metadata,
    id: bigint,
    signal: AbortSignal | undefined,
  ): Promise<ILeaseKeepAliveResponse> {
    return new Promise<ILeaseKeepAliveResponse>((resolve, reject) => {
      const stream = this.#openStream(client, 'leaseKeepAlive', metadata);
      const finish = (): void => {
        this.#inflight.delete(cancel);
        signal?.removeEventListener('abort', cancel);
        stream.removeAllListeners('data');
        // Half-close: etcd then ends the stream normally.
        stream.end();
      };
      const cancel = (): void => {
        finish();
        stream.cancel();
        reject(new ClosedError('etcd call'));
      };
      stream.on('data', (res: ILeaseKeepAliveResponse) => {
        finish();
        resolve(res);
      });
      stream.on('error', (err: Error) => {
        finish();
        const grpcStatus = statusOf(err);
        reject(grpcStatus ? new GrpcStatusError(grpcStatus.code, grpcStatus.details, { cause: err }) : err);
      });
      stream.on('end', () => {
        finish();
        reject(new GrpcStatusError(GrpcStatus.UNAVAILABLE, 'keep-alive stream ended without an answer'));
      });
      this.#inflight.add(cancel);
      signal?.addEventListener('abort', cancel, { once: true });
      const req: ILeaseKeepAliveRequest = { ID: id.toString() };
      stream.write(req);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Watch

  async *#watch(prefix: string, opts: WatchOptions): AsyncGenerator<WatchEvent, void, undefined> {
    const { signal, fromRevision } = opts;
    if (signal?.aborted) {
      return;
    }
    this.#assertOpen();
    if (fromRevision !== undefined) {
      checkRevision(fromRevision, 'fromRevision');
    }
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#watchStops.add(stop);
    try {
      yield* this.#watchLoop(this.#prefixRange(prefix), fromRevision, stop.signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.#watchStops.delete(stop);
      stop.abort();
    }
  }

  async *#watchLoop(
    bounds: WireRange,
    fromRevision: bigint | undefined,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent, void, undefined> {
    // Revision 0 means "from now" to etcd; in our contract it means the whole history.
    const cursor: WatchCursor = {
      next: fromRevision === undefined ? 0n : max(1n, fromRevision),
      observed: 0n,
      clusterId: undefined,
      failures: 0,
      resets: 0,
    };
    let mustList = fromRevision === undefined;
    for (;;) {
      if (mustList) {
        const revision = yield* this.#list(bounds, cursor, signal);
        if (revision === undefined) {
          return;
        }
        yield { type: 'synced', revision };
        cursor.next = revision + 1n;
        mustList = false;
      }
      const outcome = yield* this.#follow(bounds, cursor, signal);
      switch (outcome) {
        case 'aborted': {
          return;
        }
        case 'disconnected': {
          cursor.failures++;
          if (!(await this.#backoff(cursor.failures, signal))) {
            return;
          }
          break;
        }
        default: {
          yield { type: 'reset', reason: outcome };
          // The relist defines what has been seen from now on, possibly on a store that restarted
          // from scratch. Back-to-back resets (e.g. endpoints of different clusters) back off.
          cursor.observed = 0n;
          cursor.clusterId = undefined;
          cursor.resets++;
          if (cursor.resets > 1 && !(await this.#backoff(cursor.resets - 1, signal))) {
            return;
          }
          mustList = true;
          break;
        }
      }
    }
  }

  /**
   * Lists the range as `put` events at one revision, page by page, and returns that revision
   * (undefined when aborted). Pages after a failure continue at the same revision; if that
   * revision was compacted meanwhile, what was emitted is revoked with a `reset` and the list
   * starts over.
   */
  async *#list(
    bounds: WireRange,
    cursor: WatchCursor,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent, bigint | undefined, undefined> {
    let revision: bigint | undefined;
    let start = bounds.key;
    let emitted = false;
    for (;;) {
      let page: IRangeResponse;
      try {
        const req: IRangeRequest = { key: start, range_end: bounds.range_end, limit: LIST_PAGE_SIZE };
        if (revision !== undefined) {
          req.revision = revision.toString();
        }
        page = await this.#call<IRangeResponse>('KV', 'range', req, signal, revision === undefined ? {} : { revision });
      } catch (err) {
        if (signal.aborted) {
          return undefined;
        }
        if (err instanceof VxmeshError && err.code === 'FAILED_PRECONDITION' && revision !== undefined) {
          if (emitted) {
            yield { type: 'reset', reason: 'compacted' };
          }
          revision = undefined;
          start = bounds.key;
          emitted = false;
          continue;
        }
        if (!isRetryable(err)) {
          throw err;
        }
        cursor.failures++;
        if (!(await this.#backoff(cursor.failures, signal))) {
          return undefined;
        }
        continue;
      }
      cursor.failures = 0;
      revision ??= BigInt(page.header.revision);
      for (const kv of page.kvs) {
        emitted = true;
        yield { type: 'put', kv: this.#toKeyValue(kv) };
      }
      const last = page.kvs[page.kvs.length - 1];
      if (!page.more || last === undefined) {
        cursor.observed = max(cursor.observed, revision);
        cursor.clusterId ??= page.header.cluster_id;
        return revision;
      }
      start = Buffer.concat([last.key, ZERO]);
    }
  }

  /** Streams changes from `cursor.next` until the stream breaks, history is gone, or the signal aborts. */
  async *#follow(
    bounds: WireRange,
    cursor: WatchCursor,
    signal: AbortSignal,
  ): AsyncGenerator<WatchEvent, FollowOutcome, undefined> {
    let stream: ClientDuplexStream<unknown, unknown>;
    try {
      stream = await this.#onSomeHost('Watch', signal, (client, metadata) =>
        Promise.resolve(this.#openStream(client, 'watch', metadata)),
      );
    } catch (err) {
      return this.#streamFailure(err, signal);
    }
    const inbox = new StreamInbox<IWatchResponse>(stream, signal);
    const cancel = (): void => stream.cancel();
    this.#inflight.add(cancel);
    try {
      const create: IWatchRequest = {
        create_request: {
          key: bounds.key,
          range_end: bounds.range_end,
          start_revision: cursor.next.toString(),
          // Lets `next` advance while the prefix is quiet, so a resume is less likely to hit compaction.
          progress_notify: true,
        },
      };
      stream.write(create);
      for (;;) {
        const got = await inbox.next();
        if (got.kind === 'aborted') {
          return 'aborted';
        }
        if (got.kind === 'end') {
          return this.#streamFailure(
            got.error ?? new GrpcStatusError(GrpcStatus.UNAVAILABLE, 'watch stream ended'),
            signal,
          );
        }
        const res = got.item;
        const headerRevision = BigInt(res.header.revision);
        if (res.created) {
          // The store we reconnected to must still hold everything we have seen, in the same cluster.
          if (
            (cursor.clusterId !== undefined && res.header.cluster_id !== cursor.clusterId) ||
            headerRevision < cursor.observed
          ) {
            return 'reconnected';
          }
          cursor.clusterId = res.header.cluster_id;
          cursor.failures = 0;
          cursor.resets = 0;
        }
        if (res.canceled) {
          if (BigInt(res.compact_revision || '0') > 0n) {
            return 'compacted';
          }
          return this.#streamFailure(castGrpcErrorMessage(res.cancel_reason || 'etcd cancelled the watch'), signal);
        }
        const events = res.events;
        const last = events[events.length - 1];
        if (last === undefined) {
          // Created or progress notification: nothing before this header revision is pending.
          if (!res.created) {
            cursor.next = max(cursor.next, headerRevision + 1n);
          }
          cursor.observed = max(cursor.observed, headerRevision);
          continue;
        }
        for (const ev of events) {
          if (String(ev.type).toUpperCase() === 'DELETE') {
            yield { type: 'delete', key: this.#userKey(ev.kv.key), modRevision: BigInt(ev.kv.mod_revision) };
          } else {
            yield { type: 'put', kv: this.#toKeyValue(ev.kv) };
          }
        }
        const lastRevision = BigInt(last.kv.mod_revision);
        cursor.next = lastRevision + 1n;
        cursor.observed = max(cursor.observed, lastRevision);
      }
    } finally {
      this.#inflight.delete(cancel);
      inbox.dispose();
      stream.end();
      stream.cancel();
    }
  }

  /** Classifies a broken or refused watch stream: retry later, stop, or give up with an error. */
  #streamFailure(err: unknown, signal: AbortSignal): FollowOutcome {
    if (signal.aborted) {
      return 'aborted';
    }
    const mapped = this.#failure(err, undefined);
    if (mapped instanceof VxmeshError && isRetryable(mapped)) {
      return 'disconnected';
    }
    throw mapped;
  }

  /** Sleeps before retry number `failures`; false when the signal aborted the wait. */
  async #backoff(failures: number, signal: AbortSignal): Promise<boolean> {
    const ms = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(failures - 1, 10));
    try {
      await this.#clock.sleep(ms, signal);
      return true;
    } catch {
      return false;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding

  #wireKey(key: string): Buffer {
    return Buffer.from(this.#ns + key);
  }

  #userKey(key: Buffer): string {
    return key.toString('utf8', this.#nsBytes);
  }

  /** The wire range of every key starting with `prefix` inside the namespace. */
  #prefixRange(prefix: string): WireRange {
    const full = this.#ns + prefix;
    // key "\0" with range_end "\0" is etcd's spelling of "every key".
    return full === '' ? { key: ZERO, range_end: ZERO } : { key: Buffer.from(full), range_end: prefixEnd(full) };
  }

  #toKeyValue(kv: IKeyValue): KeyValue {
    const value = kv.value;
    return {
      key: this.#userKey(kv.key),
      value: new Uint8Array(value.buffer, value.byteOffset, value.byteLength),
      createRevision: BigInt(kv.create_revision),
      modRevision: BigInt(kv.mod_revision),
      version: BigInt(kv.version),
      lease: BigInt(kv.lease),
    };
  }

  #toCompare(c: Compare, i: number): ICompare {
    const key = this.#wireKey(c.key);
    const result = COMPARE_RESULT[c.op];
    if (result === undefined) {
      throw new InvalidArgumentError(`compare[${i}].op`, `${String(c.op)} is not one of == != < >`);
    }
    switch (c.target) {
      case 'value': {
        return { key, result, target: 'Value', value: asBuffer(toBytes(c.value)) };
      }
      case 'version': {
        return { key, result, target: 'Version', version: c.value.toString() };
      }
      case 'createRevision': {
        return { key, result, target: 'Create', create_revision: c.value.toString() };
      }
      case 'modRevision': {
        return { key, result, target: 'Mod', mod_revision: c.value.toString() };
      }
      default: {
        throw new InvalidArgumentError(
          `compare[${i}].target`,
          `${String((c as { target: unknown }).target)} is unknown`,
        );
      }
    }
  }

  #toRequestOp(op: TxnOp): IRequestOp {
    switch (op.type) {
      case 'put': {
        const put: IPutRequest = { key: this.#wireKey(op.key), value: asBuffer(toBytes(op.value)) };
        if (op.lease !== undefined && op.lease !== 0n) {
          put.lease = op.lease.toString();
        }
        return { request_put: put };
      }
      case 'delete': {
        return { request_delete_range: { key: this.#wireKey(op.key) } };
      }
      case 'deletePrefix': {
        return { request_delete_range: this.#prefixRange(op.prefix) };
      }
      case 'get': {
        return { request_range: { key: this.#wireKey(op.key) } };
      }
      default: {
        throw new InvalidArgumentError('txn', `unknown operation ${String((op as { type: unknown }).type)}`);
      }
    }
  }
}
