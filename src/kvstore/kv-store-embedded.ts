/**
 * The zero-setup backend: a single-process durable `KvStore` on SQLite (better-sqlite3) with the
 * etcd v3 semantics of `kv-store.ts`. Writes are group-committed, watches are served in process.
 *
 * Durability: WAL with `synchronous=FULL`, so a write is on disk (fsync'ed) before its promise
 * resolves and survives kill -9 and power loss.
 *
 * Exclusivity: the database is opened with `locking_mode=EXCLUSIVE` and written once at open, so
 * the connection holds an OS lock on the file until `close()` (or process death, which releases
 * it). A second open of the same file, from this or another process, fails at once.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  ClosedError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  UnavailableError,
  VxmeshError,
} from '../common/errors.js';
import { systemClock } from '../common/clock.js';
import type { Clock } from '../common/clock.js';
import { EmbeddedWatch, prefixRange } from './kv-store-embedded-watch.js';
import type { Change, KeyRange, WatchHost } from './kv-store-embedded-watch.js';
import { checkKey, checkPut, checkTtl, checkTxn, toBytes } from './kv-validation.js';
import type {
  CallOptions,
  Compare,
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

/** Options of {@link EmbeddedKvStore.open}. */
export interface EmbeddedKvStoreOptions {
  /**
   * Database file; created with its tables when missing. Its directory must exist.
   * `:memory:` gives a store that is neither durable nor locked (for tests).
   */
  readonly path: string;
  /** Time source for lease expiry (a manual clock in tests). Default: the system clock. */
  readonly clock?: Clock;
  /**
   * Revisions of history kept for watch replay and reads at old revisions; older history is
   * compacted automatically. 0 disables auto-compaction. Default 10,000.
   */
  readonly autoCompactRetention?: number;
  /** How often expired leases are looked for, in ms of the injected clock. Default 250. */
  readonly leaseCheckIntervalMs?: number;
  /**
   * Events a watch may buffer for a consumer that is not reading. Past it the watch stops
   * buffering and later catches up from history (or gets `reset` if that history was compacted
   * meanwhile), like a slow etcd watcher. Default 10,000.
   */
  readonly maxWatchBufferedEvents?: number;
}

/** etcd's default `--max-txn-ops`: etcd rejects bigger transactions, so we do too. */
export const MAX_TXN_OPS = 128;

const DEFAULT_RETENTION = 10_000;
const DEFAULT_LEASE_CHECK_MS = 250;
const DEFAULT_WATCH_BUFFER = 10_000;
/** History rows read per step when a watch replays or catches up. */
const REPLAY_PAGE = 1_000;
/**
 * Estimated WAL growth after which we checkpoint, in bytes. We checkpoint ourselves, right after
 * a batch has been delivered, because SQLite's auto-checkpoint runs inside COMMIT and would add
 * its few ms of write-back to that write's latency (and to watch delivery).
 */
const CHECKPOINT_AFTER_BYTES = 4 * 1024 * 1024;
/** SQLite's own auto-checkpoint, in pages, only as a backstop should our estimate be off. */
const WAL_AUTOCHECKPOINT_PAGES = 16_384;
/** Rough WAL cost of one commit beyond its data: kv, history and meta pages touched. */
const COMMIT_OVERHEAD_BYTES = 3 * 4096;
const SCHEMA_VERSION = 1;

const PUT = 0;
const DEL = 1;

/** A `kv` row. Revisions are kept as numbers inside: 2^53 writes is beyond any real store. */
interface KvRow {
  readonly key: Buffer;
  readonly value: Buffer;
  readonly create_rev: number;
  readonly mod_rev: number;
  readonly version: number;
  readonly lease: number;
}

/** A `history` row: the change at (rev, sub) and the key's state just before it (prev_*). */
interface HistoryRow {
  readonly rev: number;
  readonly sub: number;
  readonly key: Buffer;
  readonly type: number;
  readonly value: Buffer | null;
  readonly create_rev: number | null;
  readonly version: number | null;
  readonly lease: number | null;
}

/** The state of one key before the oldest change after a revision, for reads at that revision. */
interface PrevRow {
  readonly key: Buffer;
  readonly prev_value: Buffer | null;
  readonly prev_create: number | null;
  readonly prev_mod: number | null;
  readonly prev_version: number | null;
  readonly prev_lease: number | null;
}

interface MetaRow {
  readonly revision: number;
  readonly compact_revision: number;
  readonly next_lease: number;
}

interface LeaseState {
  readonly ttl: number;
  expiresAt: number;
  /** A revoke for expiry is queued; keeps the checker from queuing it twice. */
  expiring: boolean;
}

/** State shared by the requests of one group commit, applied to memory only after COMMIT. */
interface Batch {
  revision: number;
  compactRevision: number;
  nextLease: number;
  readonly changes: Change[];
  /** Bytes of keys and values written, for the WAL growth estimate. */
  bytes: number;
  readonly granted: { id: number; ttl: number }[];
  readonly revoked: number[];
}

/** One queued write request; `apply` runs inside the batch transaction. */
interface PendingWrite {
  readonly apply: (w: WriteScope) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  readonly signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/**
 * One request applied inside a batch. It gets revision `rev` if it writes anything; requests
 * validate everything first and only then write, so a `VxmeshError` never leaves half a write.
 */
class WriteScope {
  sub = 0;
  constructor(
    readonly batch: Batch,
    readonly rev: number,
  ) {}

  get wrote(): boolean {
    return this.sub > 0;
  }

  /** The store revision after this request: its own if it wrote, else the one before it. */
  get revision(): bigint {
    return BigInt(this.wrote ? this.rev : this.rev - 1);
  }
}

function copyBytes(value: KvBytes): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : Buffer.from(toBytes(value));
}

function toKeyValue(key: string, r: KvRow): KeyValue {
  return {
    key,
    value: r.value,
    createRevision: BigInt(r.create_rev),
    modRevision: BigInt(r.mod_rev),
    version: BigInt(r.version),
    lease: BigInt(r.lease),
  };
}

function changeFromHistory(r: HistoryRow): Change {
  const key = r.key.toString();
  const event: WatchEvent =
    r.type === PUT
      ? {
          type: 'put',
          kv: {
            key,
            value: r.value ?? Buffer.alloc(0),
            createRevision: BigInt(r.create_rev ?? r.rev),
            modRevision: BigInt(r.rev),
            version: BigInt(r.version ?? 1),
            lease: BigInt(r.lease ?? 0),
          },
        }
      : { type: 'delete', key, modRevision: BigInt(r.rev) };
  return { rev: r.rev, sub: r.sub, key, event };
}

function compareValues(op: Compare['op'], cmp: number): boolean {
  switch (op) {
    case '==': {
      return cmp === 0;
    }
    case '!=': {
      return cmp !== 0;
    }
    case '<': {
      return cmp < 0;
    }
    case '>': {
      return cmp > 0;
    }
  }
}

function bigCmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Lease ids we hand out are positive safe integers; anything else cannot exist here. */
function leaseNumber(id: bigint): number | undefined {
  return id > 0n && id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : undefined;
}

/**
 * etcd's `checkIntervals`: within one branch a key may be put once, and not both put and deleted.
 * Deletes may overlap each other.
 */
function checkBranchKeys(ops: readonly TxnOp[], branch: string): void {
  const puts = new Set<string>();
  const deletes: KeyRange[] = [];
  for (const op of ops) {
    if (op.type === 'put') {
      if (puts.has(op.key)) {
        throw new InvalidArgumentError(branch, `duplicate key ${JSON.stringify(op.key)} given in txn request`);
      }
      puts.add(op.key);
    } else if (op.type === 'delete') {
      const lo = Buffer.from(op.key);
      deletes.push({ lo, hi: Buffer.concat([lo, Buffer.from([0])]) });
    } else if (op.type === 'deletePrefix') {
      deletes.push(prefixRange(op.prefix));
    }
  }
  for (const key of puts) {
    const k = Buffer.from(key);
    for (const d of deletes) {
      if (Buffer.compare(k, d.lo) >= 0 && (d.hi === undefined || Buffer.compare(k, d.hi) < 0)) {
        throw new InvalidArgumentError(branch, `key ${JSON.stringify(key)} is both put and deleted in txn request`);
      }
    }
  }
}

function checkTxnShape(req: TxnRequest): void {
  const failure = req.failure ?? [];
  if (req.compare.length > MAX_TXN_OPS || req.success.length > MAX_TXN_OPS || failure.length > MAX_TXN_OPS) {
    throw new InvalidArgumentError('txn', `too many operations in txn request (max ${MAX_TXN_OPS} per list)`);
  }
  checkBranchKeys(req.success, 'success');
  checkBranchKeys(failure, 'failure');
}

function checkRevisionArg(revision: bigint, field: string): void {
  if (revision < 0n) {
    throw new InvalidArgumentError(field, `${revision} is negative`);
  }
}

/** fsyncs a directory so a file just created in it survives power loss. */
function syncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function sqliteCode(err: unknown): string | undefined {
  return err instanceof Database.SqliteError ? err.code : undefined;
}

/**
 * The one place SQLite failures become vxmesh errors. Lock contention and I/O trouble (disk full,
 * read-only, I/O error) are `UnavailableError`: the same call may succeed once the other process
 * exits or space is freed. Corruption and anything unknown are `InternalError`.
 */
function toStoreError(err: unknown, path: string, action: string): Error {
  if (err instanceof VxmeshError) {
    return err;
  }
  const code = sqliteCode(err);
  if (code === undefined) {
    const errno = (err as NodeJS.ErrnoException | undefined)?.code;
    if (errno === 'ENOSPC' || errno === 'EIO' || errno === 'EROFS' || errno === 'EACCES') {
      return new UnavailableError(`embedded store ${path}: ${action} failed (${errno})`, { cause: err });
    }
    if (err instanceof TypeError && /directory does not exist/.test(err.message)) {
      return new InvalidArgumentError('path', `directory of ${path} does not exist`, { cause: err });
    }
    return new InternalError(`embedded store ${path}: ${action} failed`, { cause: err });
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new UnavailableError(`embedded store ${path} is locked: another process (or store) has it open`, {
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_FULL')) {
    return new UnavailableError(`embedded store ${path}: ${action} failed, disk full`, { cause: err });
  }
  if (code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_CANTOPEN') || code.startsWith('SQLITE_READONLY')) {
    return new UnavailableError(`embedded store ${path}: ${action} failed (${code})`, { cause: err });
  }
  return new InternalError(`embedded store ${path}: ${action} failed (${code})`, { cause: err });
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    revision INTEGER NOT NULL,
    compact_revision INTEGER NOT NULL,
    next_lease INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS kv (
    key BLOB PRIMARY KEY,
    value BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    mod_rev INTEGER NOT NULL,
    version INTEGER NOT NULL,
    lease INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease <> 0;
  CREATE TABLE IF NOT EXISTS history (
    rev INTEGER NOT NULL,
    sub INTEGER NOT NULL,
    key BLOB NOT NULL,
    type INTEGER NOT NULL,
    value BLOB,
    create_rev INTEGER,
    version INTEGER,
    lease INTEGER,
    prev_value BLOB,
    prev_create INTEGER,
    prev_mod INTEGER,
    prev_version INTEGER,
    prev_lease INTEGER,
    PRIMARY KEY (rev, sub)
  ) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS leases (
    id INTEGER PRIMARY KEY,
    ttl INTEGER NOT NULL
  );
`;

/**
 * `KvStore` on a local SQLite file. Single process: the file is locked while open.
 *
 * Concurrency: writes called in the same tick are applied in one SQLite transaction on the next
 * `setImmediate` (group commit), each with its own revision in call order; their promises resolve
 * after COMMIT, in call order. Reads run at once against committed state, so a read never sees a
 * write whose promise has not resolved.
 *
 * Reads at an old revision (`range` with `revision`) work while that revision's history is kept;
 * below the compact revision they reject with `InvalidArgumentError` on field `revision` (etcd's
 * "required revision has been compacted"), and above the current revision likewise (etcd's
 * "future revision").
 *
 * Leases are checked every `leaseCheckIntervalMs` of the injected clock. Expiry times live in
 * memory only: after a reopen every lease gets its full TTL again, as after an etcd leader change.
 */
export class EmbeddedKvStore implements KvStore {
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #clock: Clock;
  readonly #retention: number;
  readonly #leaseCheckMs: number;
  readonly #maxWatchBuffered: number;

  #revision: number;
  #compactRevision: number;
  #nextLease: number;
  readonly #leases = new Map<number, LeaseState>();
  readonly #watches = new Set<EmbeddedWatch>();
  #queue: PendingWrite[] = [];
  #flushScheduled = false;
  #checkpointScheduled = false;
  /** Estimated WAL bytes since the last checkpoint. */
  #walBytes = 0;
  #closed = false;
  readonly #closing = new AbortController();
  readonly #stmts = new Map<string, Database.Statement>();
  readonly #host: WatchHost;

  private constructor(db: Database.Database, opts: EmbeddedKvStoreOptions, meta: MetaRow) {
    this.#db = db;
    this.#path = opts.path;
    this.#clock = opts.clock ?? systemClock;
    this.#retention = opts.autoCompactRetention ?? DEFAULT_RETENTION;
    this.#leaseCheckMs = opts.leaseCheckIntervalMs ?? DEFAULT_LEASE_CHECK_MS;
    this.#maxWatchBuffered = opts.maxWatchBufferedEvents ?? DEFAULT_WATCH_BUFFER;
    this.#revision = meta.revision;
    this.#compactRevision = meta.compact_revision;
    this.#nextLease = meta.next_lease;
    this.#host = {
      start: (w) => this.#startWatch(w),
      catchUp: (w) => this.#catchUp(w),
      detach: (w) => this.#watches.delete(w),
    };
    const now = this.#clock.now();
    for (const l of this.#all<{ id: number; ttl: number }>('SELECT id, ttl FROM leases')) {
      this.#leases.set(l.id, { ttl: l.ttl, expiresAt: now + l.ttl * 1000, expiring: false });
    }
  }

  /**
   * Opens (creating if needed) the store at `opts.path` and locks the file until `close()`.
   * @throws UnavailableError when another process or store has the file open, or on I/O failure.
   * @throws InvalidArgumentError for bad options or a missing directory.
   * @throws InternalError when the file is not a vxmesh store (or is corrupt).
   */
  static async open(opts: EmbeddedKvStoreOptions): Promise<EmbeddedKvStore> {
    const retention = opts.autoCompactRetention ?? DEFAULT_RETENTION;
    if (!Number.isSafeInteger(retention) || retention < 0) {
      throw new InvalidArgumentError('autoCompactRetention', `${retention} is not a whole number >= 0`);
    }
    const interval = opts.leaseCheckIntervalMs ?? DEFAULT_LEASE_CHECK_MS;
    if (!(interval > 0)) {
      throw new InvalidArgumentError('leaseCheckIntervalMs', `${interval} is not > 0`);
    }
    const buffered = opts.maxWatchBufferedEvents ?? DEFAULT_WATCH_BUFFER;
    if (!Number.isSafeInteger(buffered) || buffered < 1) {
      throw new InvalidArgumentError('maxWatchBufferedEvents', `${buffered} is not a whole number >= 1`);
    }
    let db: Database.Database | undefined;
    try {
      // timeout 0: the only contender for the lock is another live process; waiting would just
      // delay the error.
      db = new Database(opts.path, { timeout: 0 });
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      const inMemory = opts.path === ':memory:';
      if (mode !== (inMemory ? 'memory' : 'wal')) {
        throw new InternalError(`embedded store ${opts.path}: cannot enable WAL (journal_mode is ${String(mode)})`);
      }
      db.pragma('synchronous = FULL');
      db.pragma('cache_size = -16384');
      db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
      const meta = EmbeddedKvStore.#initSchema(db, opts.path);
      if (!inMemory) {
        // SQLite syncs the directory for the WAL it creates but not for a new database file.
        syncDirectory(dirname(resolve(opts.path)));
      }
      const store = new EmbeddedKvStore(db, opts, meta);
      store.#startLeaseChecker();
      return Promise.resolve(store);
    } catch (err) {
      db?.close();
      throw toStoreError(err, opts.path, 'open');
    }
  }

  /** Creates or checks the schema in one write, which also takes the exclusive file lock. */
  static #initSchema(db: Database.Database, path: string): MetaRow {
    db.exec('BEGIN IMMEDIATE');
    try {
      const version = db.pragma('user_version', { simple: true });
      const hasTables = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() !== undefined;
      if (version !== SCHEMA_VERSION && (version !== 0 || hasTables)) {
        throw new InternalError(`embedded store ${path}: not a vxmesh store of schema ${SCHEMA_VERSION}`);
      }
      db.exec(SCHEMA);
      db.pragma(`user_version = ${SCHEMA_VERSION}`);
      // etcd starts at revision 1, so the first write gets revision 2.
      db.prepare('INSERT OR IGNORE INTO meta (id, revision, compact_revision, next_lease) VALUES (0, 1, 0, 1)').run();
      const meta = db.prepare<[], MetaRow>('SELECT revision, compact_revision, next_lease FROM meta').get();
      db.exec('COMMIT');
      if (meta === undefined) {
        throw new InternalError(`embedded store ${path}: meta row missing`);
      }
      return meta;
    } catch (err) {
      if (db.inTransaction) {
        db.exec('ROLLBACK');
      }
      throw err;
    }
  }

  // ---------------------------------------------------------------- reads

  /** Reads one key at the current committed revision. */
  async get(key: string, opts: CallOptions = {}): Promise<GetResult> {
    this.#enter(opts);
    checkKey(key);
    const row = this.#read(() => this.#stmt<[Buffer], KvRow>(SELECT_KV).get(Buffer.from(key)));
    return Promise.resolve({
      kv: row === undefined ? undefined : toKeyValue(key, row),
      revision: BigInt(this.#revision),
    });
  }

  /**
   * Lists keys under `prefix`. With `revision` below the current one the page is rebuilt from
   * history; see the class comment for the errors.
   */
  async range(prefix: string, opts: RangeOptions = {}): Promise<RangePage> {
    this.#enter(opts);
    const limit = opts.limit ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new InvalidArgumentError('limit', `${limit} is not a whole number >= 0`);
    }
    let at = this.#revision;
    if (opts.revision !== undefined && opts.revision !== 0n) {
      checkRevisionArg(opts.revision, 'revision');
      if (opts.revision > BigInt(this.#revision)) {
        throw new InvalidArgumentError('revision', `${opts.revision} is a future revision (current ${this.#revision})`);
      }
      if (opts.revision < BigInt(this.#compactRevision)) {
        throw new InvalidArgumentError(
          'revision',
          `required revision ${opts.revision} has been compacted (compact revision ${this.#compactRevision})`,
        );
      }
      at = Number(opts.revision);
    }
    const { lo: prefixLo, hi } = prefixRange(prefix);
    let lo = prefixLo;
    if (opts.after !== undefined) {
      const afterLo = Buffer.concat([Buffer.from(opts.after), Buffer.from([0])]);
      if (Buffer.compare(afterLo, lo) > 0) {
        lo = afterLo;
      }
    }
    const want = limit === 0 ? -1 : limit + 1;
    const rows = this.#read(() =>
      at === this.#revision ? this.#rangeRows(lo, hi, want) : this.#rangeRowsAt(lo, hi, want, at),
    );
    const more = limit !== 0 && rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return Promise.resolve({ kvs: page.map((r) => toKeyValue(r.key.toString(), r)), more, revision: BigInt(at) });
  }

  // ---------------------------------------------------------------- writes

  /** Writes one key (creating it or bumping its version). @throws NotFoundError for an unknown lease. */
  async put(key: string, value: KvBytes, opts: PutOptions = {}): Promise<WriteResult> {
    this.#enter(opts);
    const bytes = copyBytes(value);
    checkPut(key, bytes);
    const lease = opts.lease ?? 0n;
    return this.#enqueue(opts.signal, (w) => {
      const leaseId = this.#checkLease(lease);
      this.#putKey(w, key, bytes, leaseId);
      return { revision: w.revision };
    });
  }

  async delete(key: string, opts: CallOptions = {}): Promise<DeleteResult> {
    this.#enter(opts);
    checkKey(key);
    return this.#enqueue(opts.signal, (w) => {
      const deleted = this.#deleteKey(w, key);
      return { deleted, revision: w.revision };
    });
  }

  async deletePrefix(prefix: string, opts: CallOptions = {}): Promise<DeleteResult> {
    this.#enter(opts);
    checkKey(prefix, 'prefix');
    return this.#enqueue(opts.signal, (w) => {
      const deleted = this.#deleteRange(w, prefixRange(prefix));
      return { deleted, revision: w.revision };
    });
  }

  /**
   * Atomic compare-and-swap. Compares and `get` ops see the effects of earlier requests and of
   * earlier ops in the same branch. As in etcd: a `value` compare on a missing key is false
   * whatever the op; a branch may not put a key twice or put and delete it
   * (`InvalidArgumentError`); at most {@link MAX_TXN_OPS} compares and ops per branch.
   * @throws NotFoundError when the branch that runs puts with an unknown lease (nothing written).
   */
  async txn(req: TxnRequest, opts: CallOptions = {}): Promise<TxnResult> {
    this.#enter(opts);
    checkTxn(req);
    checkTxnShape(req);
    const values = new Map<TxnOp, Buffer>();
    for (const op of [...req.success, ...(req.failure ?? [])]) {
      if (op.type === 'put') {
        values.set(op, copyBytes(op.value));
      }
    }
    const compares = req.compare.map((c) => ({ c, bytes: c.target === 'value' ? copyBytes(c.value) : undefined }));
    return this.#enqueue(opts.signal, (w) => {
      const succeeded = compares.every(({ c, bytes }) => this.#holds(c, bytes));
      const ops = succeeded ? req.success : (req.failure ?? []);
      const leases = ops.map((op) => (op.type === 'put' ? this.#checkLease(op.lease ?? 0n) : 0));
      const results = ops.map((op, i): TxnOpResult => {
        switch (op.type) {
          case 'put': {
            this.#putKey(w, op.key, values.get(op) ?? Buffer.alloc(0), leases[i] ?? 0);
            return { type: 'put' };
          }
          case 'delete': {
            return { type: 'delete', deleted: this.#deleteKey(w, op.key) };
          }
          case 'deletePrefix': {
            return { type: 'delete', deleted: this.#deleteRange(w, prefixRange(op.prefix)) };
          }
          case 'get': {
            const row = this.#stmt<[Buffer], KvRow>(SELECT_KV).get(Buffer.from(op.key));
            return { type: 'get', kv: row === undefined ? undefined : toKeyValue(op.key, row) };
          }
        }
      });
      return { succeeded, revision: w.revision, results };
    });
  }

  // ---------------------------------------------------------------- leases

  /** Grants a lease; it starts expiring when the grant commits. Does not change the revision. */
  async grantLease(ttlSeconds: number, opts: CallOptions = {}): Promise<LeaseGrant> {
    this.#enter(opts);
    checkTtl(ttlSeconds);
    return this.#enqueue(opts.signal, (w) => {
      const id = w.batch.nextLease++;
      this.#stmt<[number, number]>('INSERT INTO leases (id, ttl) VALUES (?, ?)').run(id, ttlSeconds);
      w.batch.granted.push({ id, ttl: ttlSeconds });
      return { id: BigInt(id), ttlSeconds };
    });
  }

  /**
   * Renews a lease for its full TTL. Memory only (expiry is not persisted), so it costs no fsync.
   * @throws NotFoundError when the lease expired or was revoked.
   */
  async keepAliveLease(id: bigint, opts: CallOptions = {}): Promise<LeaseGrant> {
    this.#enter(opts);
    const n = leaseNumber(id);
    const lease = n === undefined ? undefined : this.#leases.get(n);
    const now = this.#clock.now();
    if (lease === undefined || lease.expiresAt <= now) {
      throw new NotFoundError('lease', id.toString());
    }
    lease.expiresAt = now + lease.ttl * 1000;
    return Promise.resolve({ id, ttlSeconds: lease.ttl });
  }

  async revokeLease(id: bigint, opts: CallOptions = {}): Promise<void> {
    this.#enter(opts);
    const n = leaseNumber(id);
    if (n === undefined) {
      return;
    }
    await this.#enqueue(opts.signal, (w) => {
      this.#revokeLease(w, n);
      return undefined;
    });
  }

  // ---------------------------------------------------------------- compaction

  /**
   * Discards history before `revision`. Compacting at or below the compact revision is a no-op
   * (etcd errors there; a no-op keeps explicit calls from racing auto-compaction).
   * @throws InvalidArgumentError when `revision` is above the current revision.
   */
  async compact(revision: bigint, opts: CallOptions = {}): Promise<void> {
    this.#enter(opts);
    checkRevisionArg(revision, 'revision');
    await this.#enqueue(opts.signal, (w) => {
      if (revision > BigInt(w.rev - 1)) {
        throw new InvalidArgumentError('revision', `${revision} is a future revision (current ${w.rev - 1})`);
      }
      this.#compactTo(w.batch, Number(revision));
      return undefined;
    });
  }

  // ---------------------------------------------------------------- watch

  /**
   * Watches `prefix`; see `WatchOptions`. The watch starts at the first `next()`. Iteration ends
   * (done) when the signal aborts, the consumer breaks, or the store closes; on a store that is
   * already closed the first `next()` rejects with `ClosedError`.
   */
  watch(prefix: string, opts: WatchOptions = {}): AsyncIterable<WatchEvent> {
    if (opts.fromRevision !== undefined) {
      checkRevisionArg(opts.fromRevision, 'fromRevision');
    }
    const from = opts.fromRevision === undefined ? undefined : Number(opts.fromRevision);
    return {
      [Symbol.asyncIterator]: () => new EmbeddedWatch(this.#host, prefix, from, opts.signal, this.#maxWatchBuffered),
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Applies writes already queued, ends every watch, stops the lease checker and closes the
   * database (releasing the file lock). Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) {
      return;
    }
    this.#flush();
    this.#closed = true;
    this.#closing.abort();
    for (const w of [...this.#watches]) {
      w.end();
    }
    try {
      this.#db.close();
    } catch (err) {
      throw toStoreError(err, this.#path, 'close');
    }
    return Promise.resolve();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- internals: requests

  #enter(opts: CallOptions): void {
    opts.signal?.throwIfAborted();
    if (this.#closed) {
      throw new ClosedError('embedded kv store');
    }
  }

  #read<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw toStoreError(err, this.#path, 'read');
    }
  }

  #stmt<P extends unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let s = this.#stmts.get(sql);
    if (s === undefined) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s as unknown as Database.Statement<P, R>;
  }

  #all<R>(sql: string): R[] {
    return this.#db.prepare<[], R>(sql).all();
  }

  #enqueue<T>(signal: AbortSignal | undefined, apply: (w: WriteScope) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const p: PendingWrite = {
        apply,
        resolve: resolve as (v: unknown) => void,
        reject,
        signal,
        onAbort: undefined,
        settled: false,
      };
      if (signal !== undefined) {
        // Only a write still waiting for its batch can be abandoned; once applied it commits.
        p.onAbort = () => this.#settle(p, false, signal.reason);
        signal.addEventListener('abort', p.onAbort, { once: true });
      }
      this.#queue.push(p);
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #settle(p: PendingWrite, ok: boolean, value: unknown): void {
    if (p.settled) {
      return;
    }
    p.settled = true;
    if (p.onAbort !== undefined) {
      p.signal?.removeEventListener('abort', p.onAbort);
    }
    if (ok) {
      p.resolve(value);
    } else {
      p.reject(value);
    }
  }

  /**
   * Group commit: applies every queued write in one transaction, then (only after COMMIT)
   * updates memory, hands the changes to watches and settles the promises in call order.
   * An SQLite failure rolls the whole batch back and rejects all of it.
   */
  #flush(): void {
    this.#flushScheduled = false;
    const pending = this.#queue.filter((p) => !p.settled);
    this.#queue = [];
    if (pending.length === 0 || this.#closed) {
      for (const p of pending) {
        this.#settle(p, false, new ClosedError('embedded kv store'));
      }
      return;
    }
    const batch: Batch = {
      revision: this.#revision,
      compactRevision: this.#compactRevision,
      nextLease: this.#nextLease,
      changes: [],
      bytes: 0,
      granted: [],
      revoked: [],
    };
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const p of pending) {
        const w = new WriteScope(batch, batch.revision + 1);
        try {
          outcomes.push({ ok: true, value: p.apply(w) });
        } catch (err) {
          if (!(err instanceof VxmeshError) || w.wrote) {
            throw err;
          }
          outcomes.push({ ok: false, value: err });
        }
        if (w.wrote) {
          batch.revision = w.rev;
        }
      }
      this.#autoCompact(batch);
      if (
        batch.revision !== this.#revision ||
        batch.compactRevision !== this.#compactRevision ||
        batch.nextLease !== this.#nextLease
      ) {
        this.#stmt<[number, number, number]>(
          'UPDATE meta SET revision = ?, compact_revision = ?, next_lease = ? WHERE id = 0',
        ).run(batch.revision, batch.compactRevision, batch.nextLease);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.inTransaction) {
        try {
          this.#db.exec('ROLLBACK');
        } catch {
          // The transaction is gone either way; the error that matters is the original one.
        }
      }
      const mapped = toStoreError(err, this.#path, 'write');
      for (const p of pending) {
        this.#settle(p, false, mapped);
      }
      return;
    }
    this.#revision = batch.revision;
    this.#compactRevision = batch.compactRevision;
    this.#nextLease = batch.nextLease;
    this.#walBytes += COMMIT_OVERHEAD_BYTES + 3 * batch.bytes;
    if (this.#walBytes >= CHECKPOINT_AFTER_BYTES && !this.#checkpointScheduled) {
      this.#checkpointScheduled = true;
      setImmediate(() => this.#checkpoint());
    }
    const now = this.#clock.now();
    for (const g of batch.granted) {
      this.#leases.set(g.id, { ttl: g.ttl, expiresAt: now + g.ttl * 1000, expiring: false });
    }
    for (const id of batch.revoked) {
      this.#leases.delete(id);
    }
    if (batch.changes.length > 0 && this.#watches.size > 0) {
      for (const c of batch.changes) {
        for (const w of this.#watches) {
          w.offer(c);
        }
      }
    }
    pending.forEach((p, i) => {
      const o = outcomes[i];
      if (o !== undefined) {
        this.#settle(p, o.ok, o.value);
      }
    });
  }

  // ---------------------------------------------------------------- internals: applying writes

  /** Returns the lease as a row id, 0 for none. @throws NotFoundError for an unknown lease. */
  #checkLease(lease: bigint): number {
    if (lease === 0n) {
      return 0;
    }
    const n = leaseNumber(lease);
    if (n === undefined || this.#stmt<[number]>('SELECT 1 FROM leases WHERE id = ?').get(n) === undefined) {
      throw new NotFoundError('lease', lease.toString());
    }
    return n;
  }

  #holds(c: Compare, bytes: Buffer | undefined): boolean {
    const row = this.#stmt<[Buffer], KvRow>(SELECT_KV).get(Buffer.from(c.key));
    if (c.target === 'value') {
      // etcd: comparing the value of a missing key is always false (no value to compare).
      return row !== undefined && compareValues(c.op, Buffer.compare(row.value, bytes ?? Buffer.alloc(0)));
    }
    let actual = 0n;
    if (row !== undefined) {
      actual = BigInt(
        c.target === 'version' ? row.version : c.target === 'createRevision' ? row.create_rev : row.mod_rev,
      );
    }
    return compareValues(c.op, bigCmp(actual, c.value));
  }

  #putKey(w: WriteScope, key: string, value: Buffer, lease: number): void {
    const keyBuf = Buffer.from(key);
    const prev = this.#stmt<[Buffer], KvRow>(SELECT_KV).get(keyBuf);
    const createRev = prev === undefined ? w.rev : prev.create_rev;
    const version = prev === undefined ? 1 : prev.version + 1;
    this.#stmt<[Buffer, Buffer, number, number, number, number]>(
      'INSERT OR REPLACE INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)',
    ).run(keyBuf, value, createRev, w.rev, version, lease);
    const sub = w.sub++;
    this.#insertHistory(w.rev, sub, keyBuf, PUT, value, createRev, version, lease, prev);
    w.batch.bytes += keyBuf.byteLength + value.byteLength + (prev?.value.byteLength ?? 0);
    w.batch.changes.push({
      rev: w.rev,
      sub,
      key,
      event: {
        type: 'put',
        kv: {
          key,
          value,
          createRevision: BigInt(createRev),
          modRevision: BigInt(w.rev),
          version: BigInt(version),
          lease: BigInt(lease),
        },
      },
    });
  }

  #deleteKey(w: WriteScope, key: string): number {
    const row = this.#stmt<[Buffer], KvRow>(SELECT_KV).get(Buffer.from(key));
    if (row === undefined) {
      return 0;
    }
    this.#deleteRows(w, [row]);
    return 1;
  }

  #deleteRange(w: WriteScope, range: KeyRange): number {
    const rows = this.#rangeRows(range.lo, range.hi, -1);
    this.#deleteRows(w, rows);
    return rows.length;
  }

  #deleteRows(w: WriteScope, rows: readonly KvRow[]): void {
    const del = this.#stmt<[Buffer]>('DELETE FROM kv WHERE key = ?');
    for (const row of rows) {
      del.run(row.key);
      const sub = w.sub++;
      this.#insertHistory(w.rev, sub, row.key, DEL, null, null, null, null, row);
      w.batch.bytes += row.key.byteLength + row.value.byteLength;
      const key = row.key.toString();
      w.batch.changes.push({ rev: w.rev, sub, key, event: { type: 'delete', key, modRevision: BigInt(w.rev) } });
    }
  }

  #insertHistory(
    rev: number,
    sub: number,
    key: Buffer,
    type: number,
    value: Buffer | null,
    createRev: number | null,
    version: number | null,
    lease: number | null,
    prev: KvRow | undefined,
  ): void {
    this.#stmt<
      [
        number,
        number,
        Buffer,
        number,
        Buffer | null,
        number | null,
        number | null,
        number | null,
        Buffer | null,
        number | null,
        number | null,
        number | null,
        number | null,
      ]
    >(
      `INSERT INTO history (rev, sub, key, type, value, create_rev, version, lease,
         prev_value, prev_create, prev_mod, prev_version, prev_lease)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      rev,
      sub,
      key,
      type,
      value,
      createRev,
      version,
      lease,
      prev?.value ?? null,
      prev?.create_rev ?? null,
      prev?.mod_rev ?? null,
      prev?.version ?? null,
      prev?.lease ?? null,
    );
  }

  /** Deletes the lease's keys at one revision (none if it has no keys) and forgets the lease. */
  #revokeLease(w: WriteScope, id: number): void {
    const rows = this.#stmt<[number], KvRow>(`${SELECT_KV_COLUMNS} WHERE lease = ? AND lease <> 0 ORDER BY key`).all(
      id,
    );
    this.#deleteRows(w, rows);
    this.#stmt<[number]>('DELETE FROM leases WHERE id = ?').run(id);
    w.batch.revoked.push(id);
  }

  #compactTo(batch: Batch, revision: number): void {
    if (revision <= batch.compactRevision) {
      return;
    }
    this.#stmt<[number]>('DELETE FROM history WHERE rev < ?').run(revision);
    batch.compactRevision = revision;
  }

  /** Keeps the last `retention` revisions, compacting in steps so it costs little per write. */
  #autoCompact(batch: Batch): void {
    if (this.#retention === 0) {
      return;
    }
    const target = batch.revision - this.#retention;
    const step = Math.max(1, Math.min(1_000, Math.floor(this.#retention / 10)));
    if (target >= batch.compactRevision + step) {
      this.#compactTo(batch, target);
    }
  }

  // ---------------------------------------------------------------- internals: range

  /** Current rows in [lo, hi) in key order; `limit` -1 for all. */
  #rangeRows(lo: Buffer, hi: Buffer | undefined, limit: number): KvRow[] {
    if (hi === undefined) {
      return this.#stmt<[Buffer, number], KvRow>(`${SELECT_KV_COLUMNS} WHERE key >= ? ORDER BY key LIMIT ?`).all(
        lo,
        limit,
      );
    }
    return this.#stmt<[Buffer, Buffer, number], KvRow>(
      `${SELECT_KV_COLUMNS} WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`,
    ).all(lo, hi, limit);
  }

  /**
   * Rows in [lo, hi) as they were at revision `at`: current rows, with every key changed after
   * `at` replaced by its state before its oldest later change (kept in that change's prev_*).
   */
  #rangeRowsAt(lo: Buffer, hi: Buffer | undefined, limit: number, at: number): KvRow[] {
    const prevSql = `SELECT key, prev_value, prev_create, prev_mod, prev_version, prev_lease FROM history
      WHERE rev > ? AND key >= ?${hi === undefined ? '' : ' AND key < ?'} ORDER BY rev, sub`;
    const prevStmt = this.#stmt<unknown[], PrevRow>(prevSql);
    const prevRows = hi === undefined ? prevStmt.all(at, lo) : prevStmt.all(at, lo, hi);
    const before = new Map<string, { key: Buffer; row: KvRow | undefined }>();
    for (const p of prevRows) {
      const id = p.key.toString('latin1');
      if (before.has(id)) {
        continue;
      }
      before.set(id, {
        key: p.key,
        row:
          p.prev_mod === null
            ? undefined
            : {
                key: p.key,
                value: p.prev_value ?? Buffer.alloc(0),
                create_rev: p.prev_create ?? p.prev_mod,
                mod_rev: p.prev_mod,
                version: p.prev_version ?? 1,
                lease: p.prev_lease ?? 0,
              },
      });
    }
    const changed = [...before.values()].sort((a, b) => Buffer.compare(a.key, b.key));
    const out: KvRow[] = [];
    const full = (): boolean => limit >= 0 && out.length >= limit;
    let i = 0;
    const current =
      hi === undefined
        ? this.#stmt<[Buffer], KvRow>(`${SELECT_KV_COLUMNS} WHERE key >= ? ORDER BY key`).iterate(lo)
        : this.#stmt<[Buffer, Buffer], KvRow>(`${SELECT_KV_COLUMNS} WHERE key >= ? AND key < ? ORDER BY key`).iterate(
            lo,
            hi,
          );
    for (const row of current) {
      for (let c = changed[i]; c !== undefined && Buffer.compare(c.key, row.key) < 0 && !full(); c = changed[++i]) {
        if (c.row !== undefined) {
          out.push(c.row);
        }
      }
      if (full()) {
        break;
      }
      if (!before.has(row.key.toString('latin1'))) {
        out.push(row);
      }
    }
    for (let c = changed[i]; c !== undefined && !full(); c = changed[++i]) {
      if (c.row !== undefined) {
        out.push(c.row);
      }
    }
    return out;
  }

  // ---------------------------------------------------------------- internals: watch

  /**
   * Starts a watch in one synchronous step, so nothing can commit between its list or replay
   * position and its registration: no gap and no duplicate.
   */
  #startWatch(w: EmbeddedWatch): void {
    if (this.#closed) {
      throw new ClosedError('embedded kv store');
    }
    this.#watches.add(w);
    if (w.fromRevision === undefined) {
      this.#relist(w);
      return;
    }
    if (w.fromRevision < this.#compactRevision) {
      w.push({ type: 'reset', reason: 'compacted' });
      this.#relist(w);
      return;
    }
    w.state = 'unsynced';
    w.cursorRev = Math.max(w.fromRevision, 1);
    w.cursorSub = 0;
    w.minRev = w.fromRevision;
  }

  #relist(w: EmbeddedWatch): void {
    const rows = this.#read(() => this.#rangeRows(w.range.lo, w.range.hi, -1));
    for (const r of rows) {
      w.push({ type: 'put', kv: toKeyValue(r.key.toString(), r) });
    }
    w.push({ type: 'synced', revision: BigInt(this.#revision) });
    w.state = 'live';
    w.minRev = this.#revision + 1;
  }

  #catchUp(w: EmbeddedWatch): void {
    if (this.#closed) {
      w.end();
      return;
    }
    if (w.cursorRev < this.#compactRevision) {
      w.clear();
      w.push({ type: 'reset', reason: 'compacted' });
      this.#relist(w);
      return;
    }
    const { lo, hi } = w.range;
    const rows = this.#read(() => {
      const sql = `SELECT rev, sub, key, type, value, create_rev, version, lease FROM history
        WHERE (rev, sub) >= (?, ?)${hi === undefined ? '' : ' AND key >= ? AND key < ?'}
        ORDER BY rev, sub LIMIT ${REPLAY_PAGE}`;
      const s = this.#stmt<unknown[], HistoryRow>(sql);
      return hi === undefined ? s.all(w.cursorRev, w.cursorSub) : s.all(w.cursorRev, w.cursorSub, lo, hi);
    });
    for (const r of rows) {
      w.push(changeFromHistory(r).event);
    }
    const last = rows[rows.length - 1];
    if (last !== undefined) {
      w.cursorRev = last.rev;
      w.cursorSub = last.sub + 1;
    }
    if (rows.length < REPLAY_PAGE) {
      // Everything committed is in history and every later commit is offered to live watches.
      w.state = 'live';
    }
  }

  /**
   * Copies the WAL back into the database file. Runs in its own macrotask, after the batch that
   * triggered it has resolved its promises and fed its watches. Failure is harmless (the WAL just
   * keeps growing until the next attempt or SQLite's backstop), so it is not reported.
   */
  #checkpoint(): void {
    this.#checkpointScheduled = false;
    if (this.#closed) {
      return;
    }
    try {
      this.#db.pragma('wal_checkpoint(PASSIVE)');
      this.#walBytes = 0;
    } catch {
      // Retried after the next batch.
    }
  }

  // ---------------------------------------------------------------- internals: leases

  #startLeaseChecker(): void {
    const signal = this.#closing.signal;
    const loop = async (): Promise<void> => {
      while (!signal.aborted) {
        try {
          await this.#clock.sleep(this.#leaseCheckMs, signal);
        } catch {
          return; // closed
        }
        this.#expireLeases();
      }
    };
    void loop();
  }

  /** Queues a revoke for each lease past its expiry; a failed revoke is retried next round. */
  #expireLeases(): void {
    if (this.#closed) {
      return;
    }
    const now = this.#clock.now();
    for (const [id, lease] of this.#leases) {
      if (lease.expiring || lease.expiresAt > now) {
        continue;
      }
      lease.expiring = true;
      this.#enqueue(undefined, (w) => {
        this.#revokeLease(w, id);
        return undefined;
      }).catch(() => {
        lease.expiring = false;
      });
    }
  }
}

const SELECT_KV_COLUMNS = 'SELECT key, value, create_rev, mod_rev, version, lease FROM kv';
const SELECT_KV = `${SELECT_KV_COLUMNS} WHERE key = ?`;
