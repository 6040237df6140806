import { InvalidArgumentError, NotFoundError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import { systemClock } from '../../common/clock.js';
import type { Clock } from '../../common/clock.js';
import type { KeyValue, KvStore, TxnOp, TxnOpResult } from '../../kvstore/index.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import { storeKeys } from '../store/store-keys.js';
import { allocationFence, fenceHolds } from './address-fence.js';
import type { AddressFence } from './address-fence.js';
import { bitmapRefreshOps, bitmapWrite, refreshSnapshot, snapshotFromKeys } from './bitmap-store.js';
import type { BitmapLocation } from './bitmap-store.js';
import { BitmapDraft, CHUNK_BITS, countSetBits } from './chunked-bitmap.js';
import type { BitmapSnapshot } from './chunked-bitmap.js';
import { cidrContains, formatCidr, parseAddress, parseCidr } from './cidr.js';
import { rangeAll } from './range-all.js';
import { addressAt, offsetOf, subnetLayout } from './subnet-layout.js';
import type { SubnetLayout } from './subnet-layout.js';

const log = createLogger('manager.ipam.address-allocator');

/** Options of {@link AddressAllocator}. */
export interface AddressAllocatorOptions {
  /** Clock for conflict backoff. Default: the system clock. */
  readonly clock?: Clock;
  /** Random source in [0, 1) for backoff jitter. Default: Math.random. */
  readonly random?: () => number;
  /** Compare-and-swap attempts per batch before giving up with CONFLICT. Default 64. */
  readonly maxAttempts?: number;
  /** Chunks one transaction may rewrite; bounds the txn under the store's 128-op limit. Default 96. */
  readonly maxChunksPerTxn?: number;
  /** Requests (counting each address of allocateMany) joined into one transaction. Default 1024. */
  readonly maxBatch?: number;
}

/** Options of one allocation. */
export interface AllocateOptions {
  /**
   * A static address (`--ip`): must lie in the subnet (outside the `--ip-range` is fine), not be
   * the network, broadcast, gateway or an aux address, and be unused.
   */
  readonly preferred?: string;
  readonly signal?: AbortSignal;
}

/** An allocated address with the fence its owner write must carry (see address-fence.ts). */
export interface FencedAddress {
  /** Without prefix length. */
  readonly address: string;
  readonly fence: AddressFence;
}

/** Options of one release. */
export interface ReleaseOptions {
  /**
   * Frees the address only if this fence holds at the commit: the allocation's fence after a
   * failed owner write, a removal fence after the owner record was deleted. Every release in
   * the managers passes one; without it the caller asserts that no sweep can have freed the
   * address (tests, tools on a stopped cluster).
   */
  readonly fence?: AddressFence;
  readonly signal?: AbortSignal;
}

type Settle<T> = { readonly resolve: (value: T) => void; readonly reject: (err: unknown) => void };

/** What a take or static request got: its offsets and the sweep epoch at the commit. */
interface Granted {
  readonly offsets: bigint[];
  readonly epochModRevision: bigint;
}

/** One queued request on a subnet. */
type Request =
  | ({ readonly kind: 'take'; readonly count: number } & Settle<Granted>)
  | ({ readonly kind: 'static'; readonly offset: bigint; readonly text: string } & Settle<Granted>)
  | ({ readonly kind: 'release'; readonly offset: bigint; readonly fence: AddressFence | undefined } & Settle<boolean>);

/** Per-subnet state: the cached bitmap and the queue that batches requests into one txn. */
interface SubnetQueue {
  readonly key: string;
  readonly networkId: string;
  readonly networkName: string;
  readonly layout: SubnetLayout;
  readonly loc: BitmapLocation;
  /** The subnet's sweep epoch key (store-keys.ts `subnetSweepEpoch`). */
  readonly epochKey: string;
  snapshot: BitmapSnapshot | undefined;
  /** modRevision of the epoch key read with `snapshot` or returned by the last txn (0: absent). */
  epoch: bigint;
  readonly pending: Request[];
  running: boolean;
}

/** What planning decided for one request. */
type Outcome =
  | { readonly type: 'ok'; readonly offsets: bigint[] }
  | { readonly type: 'noop' }
  | { readonly type: 'error'; readonly error: VxmeshError }
  /** Decided on cached state that may be stale: reload before answering. */
  | { readonly type: 'unsure' }
  /** Does not fit in this transaction: goes in the next one. */
  | { readonly type: 'defer' };

/**
 * Hands out the addresses of network subnets: endpoint IPs, service VIPs, task addresses.
 *
 * Contracts:
 * - **Uniqueness across managers.** Every allocation and release is a compare-and-swap on the
 *   subnet's cursor key and the 256-address chunk keys it changes; two allocators (in one
 *   process or on two managers) never hand out the same address. An acknowledged result is in
 *   the store.
 * - **Serial.** Dynamic allocation takes the next free address after the last one handed out in
 *   the subnet's dynamic range (its `--ip-range`, or the whole subnet), wrapping, so a released
 *   address is reissued only after the rest of the range has been used.
 * - **Batching.** Requests for one subnet that arrive while its transaction is in flight join the
 *   next one: one store round trip serves many requests. Each request is all-or-nothing.
 * - **Cache.** Bitmaps are cached per subnet; a stale cache only costs a failed compare (whose
 *   failure branch returns the fresh keys in the same round trip). Negative answers (exhausted,
 *   in use, not allocated) are always confirmed on a fresh read.
 * - **Errors.** NotFoundError when the network or subnet does not exist (or the network was
 *   removed meanwhile); InvalidArgumentError for an address outside the subnet or reserved;
 *   VxmeshError EXHAUSTED `no free address in <subnet> (network "<name>")` with nothing written;
 *   ALREADY_EXISTS for a preferred address in use; CONFLICT after `maxAttempts` lost races;
 *   store errors as the store raises them (an UnavailableError leaves the outcome unknown).
 * - **Fences.** Every allocation txn reads the subnet's sweep epoch in its success branch, so
 *   {@link allocateFenced} returns the epoch current at the commit (no extra compare, no extra
 *   conflict); a fenced release compares the epoch in its txn (address-fence.ts).
 */
export class AddressAllocator {
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #maxAttempts: number;
  readonly #maxChunks: number;
  readonly #maxBatch: number;
  /** Network records are immutable once created, so they are cached until the network is gone. */
  readonly #networks = new Map<string, Promise<Network>>();
  readonly #subnets = new Map<string, SubnetQueue>();

  constructor(store: KvStore, opts: AddressAllocatorOptions = {}) {
    this.#store = store;
    this.#clock = opts.clock ?? systemClock;
    // Jitter only spreads retries apart; it needs no quality.
    this.#random = opts.random ?? Math.random;
    this.#maxAttempts = opts.maxAttempts ?? 64;
    this.#maxChunks = opts.maxChunksPerTxn ?? 96;
    this.#maxBatch = opts.maxBatch ?? 1024;
  }

  /**
   * One address from `subnet` (a CIDR of the network, e.g. "10.0.1.0/24"): the next free one
   * serially, or `opts.preferred`. Resolves to the address as text, without prefix length.
   * Owner writes use {@link allocateFenced}: this one drops the fence.
   */
  async allocate(networkId: string, subnet: string, opts: AllocateOptions = {}): Promise<string> {
    return (await this.allocateFenced(networkId, subnet, opts)).address;
  }

  /**
   * As {@link allocate}, with the fence the owner write must carry (and a give-back after a
   * failed owner write must pass to {@link release}): the subnet's sweep epoch as of the
   * allocation's commit. An owner write whose fence fails must not use the address.
   */
  async allocateFenced(networkId: string, subnet: string, opts: AllocateOptions = {}): Promise<FencedAddress> {
    const queue = await this.#queue(networkId, subnet);
    opts.signal?.throwIfAborted();
    let granted: Granted;
    if (opts.preferred !== undefined) {
      const offset = this.#staticOffset(queue, opts.preferred);
      granted = await this.#enqueue<Granted>(queue, (s) => ({
        kind: 'static',
        offset,
        text: opts.preferred ?? '',
        ...s,
      }));
    } else {
      granted = await this.#enqueue<Granted>(queue, (s) => ({ kind: 'take', count: 1, ...s }));
    }
    const [offset] = granted.offsets;
    if (offset === undefined) {
      throw new VxmeshError('INTERNAL', 'allocation returned no address');
    }
    return {
      address: addressAt(queue.layout, offset),
      fence: allocationFence(queue.epochKey, granted.epochModRevision),
    };
  }

  /**
   * `count` addresses (a service's replicas) in one request: all or none, in serial order.
   * @throws InvalidArgumentError when count is not in [1, maxBatch].
   */
  async allocateMany(
    networkId: string,
    subnet: string,
    count: number,
    opts: { readonly signal?: AbortSignal } = {},
  ): Promise<string[]> {
    if (!Number.isInteger(count) || count < 1 || count > this.#maxBatch) {
      throw new InvalidArgumentError('count', `${count} must be an integer from 1 to ${this.#maxBatch}`);
    }
    const queue = await this.#queue(networkId, subnet);
    opts.signal?.throwIfAborted();
    const { offsets } = await this.#enqueue<Granted>(queue, (s) => ({ kind: 'take', count, ...s }));
    return offsets.map((o) => addressAt(queue.layout, o));
  }

  /**
   * Frees an address. Idempotent: resolves false when it was not allocated, or when
   * `opts.fence` no longer holds (confirmed on a fresh read): a sweep may have freed it, and
   * what is still allocated is the sweeper's to collect. The address is not handed out again
   * until serial allocation comes round to it.
   * @throws InvalidArgumentError for an address outside the subnet, or the gateway / an aux
   *   address (those are freed only with the network), or a fence of another subnet.
   */
  async release(networkId: string, subnet: string, address: string, opts: ReleaseOptions = {}): Promise<boolean> {
    const queue = await this.#queue(networkId, subnet);
    opts.signal?.throwIfAborted();
    const offset = this.#staticOffset(queue, address, 'address');
    const fence = opts.fence;
    if (fence && fence.key !== queue.epochKey) {
      throw new InvalidArgumentError('fence', `fence ${fence.key} is not the sweep epoch of ${queue.layout.subnet}`);
    }
    return this.#enqueue<boolean>(queue, (s) => ({ kind: 'release', offset, fence, ...s }));
  }

  /** Drops cached state of a network (after it is removed); later calls read the store again. */
  forget(networkId: string): void {
    this.#networks.delete(networkId);
    for (const [key, queue] of this.#subnets) {
      if (queue.networkId === networkId && !queue.running) {
        this.#subnets.delete(key);
      }
    }
  }

  #network(networkId: string): Promise<Network> {
    let pending = this.#networks.get(networkId);
    if (!pending) {
      pending = (async () => {
        const { kv } = await this.#store.get(storeKeys.network(networkId));
        if (!kv) {
          throw new NotFoundError('network', networkId);
        }
        return Network.decode(kv.value);
      })();
      pending.catch(() => this.#networks.delete(networkId));
      this.#networks.set(networkId, pending);
    }
    return pending;
  }

  async #queue(networkId: string, subnet: string): Promise<SubnetQueue> {
    const canonical = formatCidr(parseCidr(subnet, 'subnet'));
    const key = `${networkId} ${canonical}`;
    const existing = this.#subnets.get(key);
    if (existing) {
      return existing;
    }
    const network = await this.#network(networkId);
    const alloc = network.subnets.find((s) => s.subnet === canonical);
    if (!alloc) {
      throw new NotFoundError(`subnet of network ${network.name}`, canonical);
    }
    const queue: SubnetQueue = this.#subnets.get(key) ?? {
      key,
      networkId,
      networkName: network.name,
      layout: subnetLayout(alloc),
      loc: { prefix: storeKeys.subnetAddressesPrefix(networkId, canonical) },
      epochKey: storeKeys.subnetSweepEpoch(networkId, canonical),
      snapshot: undefined,
      epoch: 0n,
      pending: [],
      running: false,
    };
    this.#subnets.set(key, queue);
    return queue;
  }

  #staticOffset(queue: SubnetQueue, text: string, field = 'preferred address'): bigint {
    const { layout } = queue;
    const addr = parseAddress(text, field);
    if (!cidrContains(layout.cidr, addr)) {
      throw new InvalidArgumentError(
        field,
        `${text} is outside subnet ${layout.subnet} of network "${queue.networkName}"`,
      );
    }
    const offset = offsetOf(layout, addr);
    if (offset < layout.usableLo || offset > layout.usableHi) {
      throw new InvalidArgumentError(
        field,
        `${text} is the ${offset === 0n ? 'network' : 'broadcast'} address of ${layout.subnet}`,
      );
    }
    if (offset === layout.gatewayOffset) {
      throw new InvalidArgumentError(field, `${text} is the gateway of ${layout.subnet}`);
    }
    const aux = layout.auxOffsets.get(offset);
    if (aux !== undefined) {
      throw new InvalidArgumentError(field, `${text} is reserved as aux address ${aux} of ${layout.subnet}`);
    }
    return offset;
  }

  #enqueue<T>(queue: SubnetQueue, make: (settle: Settle<T>) => Request): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      queue.pending.push(make({ resolve, reject }));
      if (!queue.running) {
        queue.running = true;
        // Started on the next microtask so requests issued in the same turn share the first txn.
        queueMicrotask(() => void this.#drain(queue));
      }
    });
  }

  async #drain(queue: SubnetQueue): Promise<void> {
    try {
      while (queue.pending.length > 0) {
        const batch = this.#takeBatch(queue);
        try {
          await this.#runBatch(queue, batch);
        } catch (err) {
          // Requests deferred back into the queue are answered by a later batch.
          for (const r of batch.filter((b) => !this.#settled.has(b) && !queue.pending.includes(b))) {
            r.reject(err);
          }
        }
      }
    } finally {
      queue.running = false;
    }
  }

  #takeBatch(queue: SubnetQueue): Request[] {
    const batch: Request[] = [];
    let size = 0;
    while (queue.pending.length > 0) {
      const next = queue.pending[0];
      const cost = next?.kind === 'take' ? next.count : 1;
      if (!next || (batch.length > 0 && size + cost > this.#maxBatch)) {
        break;
      }
      batch.push(next);
      queue.pending.shift();
      size += cost;
    }
    return batch;
  }

  /** Requests already answered; lets a failing batch reject only the rest. */
  readonly #settled = new WeakSet<Request>();

  #settle(request: Request, outcome: Outcome, epochModRevision = 0n): void {
    this.#settled.add(request);
    switch (outcome.type) {
      case 'ok': {
        if (request.kind === 'release') {
          request.resolve(true);
        } else {
          request.resolve({ offsets: outcome.offsets, epochModRevision });
        }
        break;
      }
      case 'noop': {
        if (request.kind === 'release') {
          request.resolve(false);
        }
        break;
      }
      case 'error': {
        request.reject(outcome.error);
        break;
      }
      case 'unsure':
      case 'defer': {
        this.#settled.delete(request);
        break;
      }
    }
  }

  /** Plans every request of the batch on one draft; takes and statics before releases. */
  #plan(
    queue: SubnetQueue,
    snapshot: BitmapSnapshot,
    batch: readonly Request[],
    fresh: boolean,
  ): { draft: BitmapDraft; outcomes: Map<Request, Outcome> } {
    const { layout } = queue;
    const draft = new BitmapDraft(snapshot);
    const outcomes = new Map<Request, Outcome>();
    const ordered = [...batch.filter((r) => r.kind !== 'release'), ...batch.filter((r) => r.kind === 'release')];
    const exhausted = (count: number, free: bigint): VxmeshError =>
      new VxmeshError(
        'EXHAUSTED',
        count === 1
          ? `no free address in ${layout.subnet} (network "${queue.networkName}")`
          : `no free address in ${layout.subnet} for ${count} addresses (network "${queue.networkName}"; ${free} free)`,
      );
    for (const request of ordered) {
      // Room for the chunks this request may dirty: a run of `count` serial addresses spans at
      // most count/256 + 1 chunks, plus one more when the search wraps.
      const chunksNeeded = request.kind === 'take' ? Math.ceil(request.count / CHUNK_BITS) + 2 : 1;
      if (draft.dirtyCount + chunksNeeded > this.#maxChunks) {
        if (draft.dirtyCount === 0) {
          outcomes.set(request, {
            type: 'error',
            error: new InvalidArgumentError(
              'count',
              `${request.kind === 'take' ? request.count : 1} addresses do not fit one transaction`,
            ),
          });
        } else {
          outcomes.set(request, { type: 'defer' });
        }
        continue;
      }
      switch (request.kind) {
        case 'take': {
          if (request.count > 1) {
            const size = layout.dynamicHi - layout.dynamicLo + 1n;
            const free = size - this.#countSet(draft, layout.dynamicLo, layout.dynamicHi);
            if (free < BigInt(request.count)) {
              outcomes.set(
                request,
                fresh ? { type: 'error', error: exhausted(request.count, free) } : { type: 'unsure' },
              );
              continue;
            }
          }
          const offsets: bigint[] = [];
          for (let i = 0; i < request.count; i++) {
            const o = draft.takeNext(layout.dynamicLo, layout.dynamicHi);
            if (o === undefined) {
              break;
            }
            offsets.push(o);
          }
          if (offsets.length === request.count) {
            outcomes.set(request, { type: 'ok', offsets });
          } else {
            // Only a single take can get here (counts > 1 were checked above), with nothing taken.
            outcomes.set(request, fresh ? { type: 'error', error: exhausted(request.count, 0n) } : { type: 'unsure' });
          }
          break;
        }
        case 'static': {
          if (draft.isSet(request.offset)) {
            outcomes.set(
              request,
              fresh
                ? {
                    type: 'error',
                    error: new VxmeshError(
                      'ALREADY_EXISTS',
                      `address ${request.text} is already in use in network "${queue.networkName}"`,
                    ),
                  }
                : { type: 'unsure' },
            );
          } else {
            draft.set(request.offset);
            outcomes.set(request, { type: 'ok', offsets: [request.offset] });
          }
          break;
        }
        case 'release': {
          if (request.fence && !fenceHolds(request.fence, queue.epoch)) {
            // The epoch may be cached: a refusal is confirmed on a fresh read.
            outcomes.set(request, fresh ? { type: 'noop' } : { type: 'unsure' });
          } else if (draft.isSet(request.offset)) {
            draft.clear(request.offset);
            outcomes.set(request, { type: 'ok', offsets: [request.offset] });
          } else {
            outcomes.set(request, fresh ? { type: 'noop' } : { type: 'unsure' });
          }
          break;
        }
      }
    }
    return { draft, outcomes };
  }

  #countSet(draft: BitmapDraft, lo: bigint, hi: bigint): bigint {
    // The draft's pending changes are counted by committing it to a throwaway snapshot.
    return countSetBits(draft.committed(0n), lo, hi);
  }

  /** Reads the bitmap and the sweep epoch with one range over the subnet's prefix. */
  async #load(queue: SubnetQueue): Promise<BitmapSnapshot> {
    const { kvs } = await rangeAll(this.#store, queue.loc.prefix);
    const snapshot = snapshotFromKeys(queue.loc, kvs);
    if (snapshot.cursor === undefined) {
      // Every network is created with its cursors; none means it is gone.
      this.#gone(queue);
    }
    queue.epoch = kvs.find((kv) => kv.key === queue.epochKey)?.modRevision ?? 0n;
    return snapshot;
  }

  #gone(queue: SubnetQueue): never {
    this.forget(queue.networkId);
    this.#subnets.delete(queue.key);
    throw new NotFoundError('network', queue.networkId);
  }

  async #runBatch(queue: SubnetQueue, batch: Request[]): Promise<void> {
    let fresh = false;
    for (let attempt = 0; attempt < this.#maxAttempts; attempt++) {
      if (!queue.snapshot) {
        queue.snapshot = await this.#load(queue);
        fresh = true;
      }
      const { draft, outcomes } = this.#plan(queue, queue.snapshot, batch, fresh);
      if (!fresh && [...outcomes.values()].some((o) => o.type === 'unsure')) {
        queue.snapshot = undefined;
        continue;
      }
      const deferred = batch.filter((r) => outcomes.get(r)?.type === 'defer');
      if (deferred.length > 0) {
        queue.pending.unshift(...deferred);
        batch = batch.filter((r) => outcomes.get(r)?.type !== 'defer');
      }
      for (const r of batch) {
        const o = outcomes.get(r);
        if (o && o.type !== 'ok') {
          this.#settle(r, o);
        }
      }
      const writers = batch.filter((r) => outcomes.get(r)?.type === 'ok');
      if (writers.length === 0) {
        return;
      }
      const write = bitmapWrite(queue.loc, draft, { guardCursor: true });
      // Fenced releases were planned on the epoch as known: comparing it covers all of them.
      if (writers.some((r) => r.kind === 'release' && r.fence !== undefined)) {
        write.compares.push({ key: queue.epochKey, target: 'modRevision', op: '==', value: queue.epoch });
      }
      const epochGet: TxnOp = { type: 'get', key: queue.epochKey };
      const refresh = [...bitmapRefreshOps(queue.loc, draft), epochGet];
      const res = await this.#store.txn({
        compare: write.compares,
        success: [...write.ops, epochGet],
        failure: refresh,
      });
      const epoch = epochOf(res.results);
      if (res.succeeded) {
        queue.snapshot = draft.committed(res.revision);
        queue.epoch = epoch;
        for (const r of writers) {
          const o = outcomes.get(r);
          if (o) {
            this.#settle(r, o, epoch);
          }
        }
        return;
      }
      queue.snapshot = refreshSnapshot(queue.loc, queue.snapshot, freshKeys(refresh, res.results));
      queue.epoch = epoch;
      if (queue.snapshot.cursor === undefined) {
        this.#gone(queue);
      }
      fresh = false;
      batch = writers;
      if (attempt >= 2) {
        await this.#clock.sleep(Math.min(50, 2 ** attempt) * this.#random());
      }
    }
    log.warn({ subnet: queue.layout.subnet, network: queue.networkId }, 'address allocation kept losing races');
    throw new VxmeshError('CONFLICT', `addresses of ${queue.layout.subnet} are being changed concurrently; try again`);
  }
}

/** modRevision of the sweep epoch from the `get` that ends both branches (0: absent). */
function epochOf(results: readonly TxnOpResult[]): bigint {
  const last = results[results.length - 1];
  return last?.type === 'get' ? (last.kv?.modRevision ?? 0n) : 0n;
}

/** Pairs the `get` ops of a failure branch with their results. */
function freshKeys(
  ops: readonly TxnOp[],
  results: readonly TxnOpResult[],
): { key: string; kv: KeyValue | undefined }[] {
  const out: { key: string; kv: KeyValue | undefined }[] = [];
  ops.forEach((op, i) => {
    const r = results[i];
    if (op.type === 'get' && r?.type === 'get') {
      out.push({ key: op.key, kv: r.kv });
    }
  });
  return out;
}
