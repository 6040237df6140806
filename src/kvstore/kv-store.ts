/**
 * The state store contract shared by etcd and the embedded store. Semantics follow etcd v3:
 * one global revision counter incremented by every write transaction, per-key version /
 * createRevision / modRevision, leases that delete their keys on expiry, and watches that replay
 * history from a revision. See README.md in this folder for the full contract.
 */

/** Bytes as stored. Strings given to the store are encoded as UTF-8. */
export type KvBytes = Uint8Array | string;

/** One stored key. */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  /** Revision of the write that created the key (reset after a delete). */
  readonly createRevision: bigint;
  /** Revision of the last write to the key. */
  readonly modRevision: bigint;
  /** Number of writes since creation; 1 after create. */
  readonly version: bigint;
  /** Lease the key is attached to, `0n` for none. */
  readonly lease: bigint;
}

/** Options common to every call that can block. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface GetResult {
  /** Undefined when the key does not exist. */
  readonly kv: KeyValue | undefined;
  /** Store revision the read was served at. */
  readonly revision: bigint;
}

export interface RangeOptions extends CallOptions {
  /** Maximum keys in this page; 0 or absent means no limit. */
  readonly limit?: number;
  /** Return keys strictly greater than this one (the last key of the previous page). */
  readonly after?: string;
  /** Read at this revision (pass the first page's revision to keep pages consistent). */
  readonly revision?: bigint;
}

export interface RangePage {
  /** Keys in ascending byte order. */
  readonly kvs: readonly KeyValue[];
  /** True when more keys follow; continue with `after` = last key and `revision` = this revision. */
  readonly more: boolean;
  /** Store revision the read was served at. */
  readonly revision: bigint;
}

export interface PutOptions extends CallOptions {
  /** Attach the key to this lease; it is deleted when the lease expires or is revoked. */
  readonly lease?: bigint;
}

export interface WriteResult {
  /** Store revision after the write. */
  readonly revision: bigint;
}

export interface DeleteResult extends WriteResult {
  /** Keys deleted; 0 when nothing matched (the revision is then unchanged). */
  readonly deleted: number;
}

export type CompareOp = '==' | '!=' | '<' | '>';

/**
 * A condition of a transaction. A missing key has version 0, createRevision 0 and modRevision 0,
 * as in etcd: `version == 0n` means "absent". A `value` compare on a missing key is false
 * whatever the operator (etcd's rule), so test existence with `version` first.
 */
export type Compare =
  | { readonly key: string; readonly target: 'value'; readonly op: CompareOp; readonly value: KvBytes }
  | {
      readonly key: string;
      readonly target: 'version' | 'createRevision' | 'modRevision';
      readonly op: CompareOp;
      readonly value: bigint;
    };

export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: KvBytes; readonly lease?: bigint }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'deletePrefix'; readonly prefix: string }
  | { readonly type: 'get'; readonly key: string };

export interface TxnRequest {
  /** All must hold for `success` to run; otherwise `failure` runs. Empty means always success. */
  readonly compare: readonly Compare[];
  readonly success: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/** Result of one op of the branch that ran, in the same order. */
export type TxnOpResult =
  | { readonly type: 'put' }
  | { readonly type: 'delete'; readonly deleted: number }
  | { readonly type: 'get'; readonly kv: KeyValue | undefined };

export interface TxnResult {
  readonly succeeded: boolean;
  /** Store revision after the transaction (unchanged when the branch that ran wrote nothing). */
  readonly revision: bigint;
  readonly results: readonly TxnOpResult[];
}

export interface LeaseGrant {
  readonly id: bigint;
  /** TTL granted, in seconds. */
  readonly ttlSeconds: number;
}

/**
 * What a watch yields.
 * - `put` / `delete`: one change, in revision order; changes of one transaction share a modRevision.
 * - `synced`: the initial list (or the relist after a reset) is complete; state seen so far equals
 *   the store at `revision`, and live changes follow.
 * - `reset`: the watch could not continue from where it was (history compacted, a gap after a
 *   reconnect). The consumer must drop what it built so far; the store relists the prefix as `put`
 *   events, then sends `synced`, then live changes.
 */
export type WatchEvent =
  | { readonly type: 'put'; readonly kv: KeyValue }
  | { readonly type: 'delete'; readonly key: string; readonly modRevision: bigint }
  | { readonly type: 'synced'; readonly revision: bigint }
  | { readonly type: 'reset'; readonly reason: 'compacted' | 'reconnected' };

export interface WatchOptions extends CallOptions {
  /**
   * Replay every change with modRevision >= this one, then continue live; no initial list and no
   * `synced`. Absent: list the prefix as `put` events, send `synced`, then continue live.
   * When the revision is compacted the watch yields `reset` and relists.
   */
  readonly fromRevision?: bigint;
}

/**
 * A key-value store with etcd v3 semantics. Keys are strings compared as UTF-8 bytes. Every method
 * rejects with `InvalidArgumentError` for an empty key or an oversized request before anything is
 * written, with `UnavailableError` when the backend cannot be reached, with `ClosedError` after
 * `close()`, and with the signal's reason when aborted.
 */
export interface KvStore extends AsyncDisposable {
  get(key: string, opts?: CallOptions): Promise<GetResult>;

  /** Keys starting with `prefix` (empty prefix: every key), paginated by `limit` and `after`. */
  range(prefix: string, opts?: RangeOptions): Promise<RangePage>;

  put(key: string, value: KvBytes, opts?: PutOptions): Promise<WriteResult>;

  /** Deletes one key; deleting a missing key is not an error. */
  delete(key: string, opts?: CallOptions): Promise<DeleteResult>;

  /** Deletes every key starting with `prefix` (which must not be empty). */
  deletePrefix(prefix: string, opts?: CallOptions): Promise<DeleteResult>;

  /** Atomic compare-and-swap over any keys. */
  txn(req: TxnRequest, opts?: CallOptions): Promise<TxnResult>;

  /** Grants a lease that expires `ttlSeconds` (>= 1) after the last keep-alive. */
  grantLease(ttlSeconds: number, opts?: CallOptions): Promise<LeaseGrant>;

  /**
   * Renews a lease for its full TTL.
   * @throws NotFoundError when the lease expired or was revoked.
   */
  keepAliveLease(id: bigint, opts?: CallOptions): Promise<LeaseGrant>;

  /** Revokes a lease and deletes its keys; revoking an unknown lease is not an error. */
  revokeLease(id: bigint, opts?: CallOptions): Promise<void>;

  /** Discards history before `revision`; watches from older revisions then get `reset`. */
  compact(revision: bigint, opts?: CallOptions): Promise<void>;

  /** Watches keys starting with `prefix`. Ends when the signal aborts or the store closes. */
  watch(prefix: string, opts?: WatchOptions): AsyncIterable<WatchEvent>;

  /** Releases connections and ends every open watch. Idempotent. */
  close(): Promise<void>;
}

/** etcd's default request limit is 1.5 MiB including framing; we stay clear of it. */
export const MAX_REQUEST_BYTES = 1_572_864 - 4096;
