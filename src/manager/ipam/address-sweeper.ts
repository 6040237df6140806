import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KeyValue, KvStore, TxnOp } from '../../kvstore/index.js';
import { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import { Service } from '../../gen/vxmesh/v1/service.js';
import { storeKeys } from '../store/store-keys.js';
import { addressOwners } from './address-owners.js';
import type { AddressOwners } from './address-owners.js';
import { bitmapWrite, cursorKey, snapshotFromKeys } from './bitmap-store.js';
import type { BitmapLocation } from './bitmap-store.js';
import { BitmapDraft } from './chunked-bitmap.js';
import type { BitmapSnapshot } from './chunked-bitmap.js';
import { orphanCandidates } from './orphan-candidates.js';
import type { OrphanCandidate } from './orphan-candidates.js';
import { rangeAll } from './range-all.js';
import { subnetLayout } from './subnet-layout.js';
import type { SubnetLayout } from './subnet-layout.js';
import { MAX_TXN_OPS } from './txn-plan.js';

const log = createLogger('manager.ipam.address-sweeper');

/** Default time between sweeps. */
export const DEFAULT_SWEEP_INTERVAL_MS = 5 * 60_000;
/** Default time an address must have been seen unowned before it is freed. */
export const DEFAULT_MIN_ORPHAN_AGE_MS = 60_000;
/** Chunks one release transaction rewrites: with the fence, epoch and cursor compares, under the 128-op limit. */
const CHUNKS_PER_TXN = MAX_TXN_OPS - 8;

/** Options of {@link AddressSweeper}. */
export interface AddressSweeperOptions {
  readonly store: KvStore;
  readonly clock: Clock;
  /** The compare fencing this manager's writes while it leads; undefined while it does not (no sweep). */
  readonly leaderFence: () => Compare | undefined;
  /** Time between sweeps; default 5 min. */
  readonly sweepIntervalMs?: number;
  /** An address is freed only once seen unowned by an earlier sweep at least this long before; default 60 s. */
  readonly minOrphanAgeMs?: number;
  /** Addresses freed per sweep at most (the rest wait for the next one); default 4096. */
  readonly maxReleasesPerSweep?: number;
  /** Unowned addresses remembered at most (bounds memory when a subnet leaked many); default 65536. */
  readonly maxTrackedCandidates?: number;
  /** Subnets one sweep reclaims from at most; default 64. */
  readonly maxSubnetsPerSweep?: number;
}

/** What one sweep found and did. */
export interface SweepSummary {
  /** Clock time the sweep started. */
  readonly at: number;
  /** Store revision of its first read. */
  readonly revision: bigint;
  /** Allocated addresses no owner held at that read (gateway and aux excluded). */
  readonly candidates: number;
  /** Of those, seen unowned by an earlier sweep at least the minimum age before. */
  readonly ripe: number;
  /** Addresses freed. */
  readonly released: number;
  /** Subnets with ripe addresses left for a later sweep (lost race, epoch moved, over the caps). */
  readonly deferredSubnets: number;
}

/** When an unowned address was first seen (reset once it is owned or free again). */
interface Sighting {
  readonly firstSeenAt: number;
  readonly sweep: number;
}

/** One subnet's address state at a read. */
interface SubnetState {
  readonly networkId: string;
  readonly networkName: string;
  readonly layout: SubnetLayout;
  readonly loc: BitmapLocation;
  readonly epochKey: string;
  readonly snapshot: BitmapSnapshot;
  /** modRevision of the sweep epoch key (0: absent). */
  readonly epoch: bigint;
  /** createRevision of the cursor: constant while the network exists (0: gone). */
  readonly cursorCreated: bigint;
}

/** Everything a sweep decides on, read at one store revision. */
interface StoreState {
  readonly revision: bigint;
  readonly subnets: SubnetState[];
  readonly owners: AddressOwners;
}

/**
 * Frees addresses that are allocated but held by no owner record: those of owner writes whose
 * outcome was unknown (UncertainCommitError) or that a crash or pause cut off between the
 * allocation and the owner write. Runs on every manager, acts only while it leads (every write
 * carries `leaderFence()`), every `sweepIntervalMs`.
 *
 * It can never make an address have two holders (README.md, "Sweep"; address-fence.ts):
 * 1. A read at one revision R gives, per subnet, the candidates: allocated, not gateway or aux,
 *    held by no endpoint or VIP. A candidate is ripe once an earlier sweep saw it too, at least
 *    `minOrphanAgeMs` before (so owner writes in flight are left alone).
 * 2. For each subnet with ripe candidates, a transaction (leader fence, network still there)
 *    bumps the subnet's sweep epoch at revision B. From then on no owner write of an address
 *    allocated before B can commit: it carries the epoch as of its allocation.
 * 3. A second read at R2 > B. A ripe candidate is freed only if still unowned at R2 and the chunk
 *    holding it was last written before B (so its current allocation predates B: no owner can
 *    still appear for it).
 * 4. The release transaction compares the leader fence, the epoch (== B or its own previous
 *    write), the cursor's creation and each chunk's modRevision at R2; it clears the bits
 *    (deleting chunks that become all clear) and bumps the epoch again, so a give-back fenced by
 *    an owner's deletion before it (`removalFence`) can no longer free an address handed out anew.
 * A lost race skips the subnet until the next sweep. Work per sweep is capped.
 */
export class AddressSweeper implements AsyncDisposable {
  readonly #opts: AddressSweeperOptions;
  readonly #interval: number;
  readonly #minAge: number;
  readonly #maxReleases: number;
  readonly #maxTracked: number;
  readonly #maxSubnets: number;
  readonly #abort = new AbortController();
  /** `<network> <subnet> <offset>` → first sighting while unowned. */
  #sightings = new Map<string, Sighting>();
  #sweeps = 0;
  #loop: Promise<void> | undefined;
  /** The sweep running or queued last; sweeps run one at a time. */
  #tail: Promise<unknown> = Promise.resolve();
  #last: SweepSummary | undefined;
  #releasedTotal = 0;

  constructor(opts: AddressSweeperOptions) {
    this.#opts = opts;
    this.#interval = opts.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.#minAge = opts.minOrphanAgeMs ?? DEFAULT_MIN_ORPHAN_AGE_MS;
    this.#maxReleases = opts.maxReleasesPerSweep ?? 4096;
    this.#maxTracked = opts.maxTrackedCandidates ?? 65_536;
    this.#maxSubnets = opts.maxSubnetsPerSweep ?? 64;
    if (!Number.isSafeInteger(this.#interval) || this.#interval < 1) {
      throw new RangeError(`sweep interval ${this.#interval} ms: must be a positive integer`);
    }
  }

  /** What the last completed sweep did; undefined before the first one (or while not leading). */
  get lastSweep(): SweepSummary | undefined {
    return this.#last;
  }

  /** Addresses this manager's sweeps freed since it started. */
  get releasedTotal(): number {
    return this.#releasedTotal;
  }

  /** Starts sweeping every interval (the first sweep after one interval). Idempotent. */
  start(): void {
    if (this.#loop || this.#abort.signal.aborted) {
      return;
    }
    this.#loop = this.#periodic();
  }

  /** One sweep now (after the one running, if any). 'not-leader' when this manager does not lead. */
  sweep(): Promise<SweepSummary | 'not-leader'> {
    const next = this.#tail.then(() => this.#sweepOnce());
    // Only the order matters to the next sweep; its caller gets the error.
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    await this.#loop;
    await this.#tail;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #periodic(): Promise<void> {
    while (!this.#abort.signal.aborted) {
      try {
        await this.#opts.clock.sleep(this.#interval, this.#abort.signal);
      } catch {
        return; // closing
      }
      await this.sweep().catch((err: unknown) => log.warn({ err }, 'address sweep failed; next one retries'));
    }
  }

  async #sweepOnce(): Promise<SweepSummary | 'not-leader'> {
    if (!this.#opts.leaderFence()) {
      // A later leadership starts over: sightings are only trusted from consecutive sweeps.
      this.#sightings = new Map();
      this.#last = undefined;
      return 'not-leader';
    }
    const at = this.#opts.clock.now();
    const sweep = ++this.#sweeps;
    const first = await this.#read();

    // 1. Candidates and sightings.
    const sightings = new Map<string, Sighting>();
    const ripe = new Set<string>();
    const ripeSubnets: SubnetState[] = [];
    let candidates = 0;
    for (const subnet of first.subnets) {
      const found = this.#candidates(subnet, first.owners, this.#maxTracked - sightings.size);
      candidates += found.length;
      let hasRipe = false;
      for (const c of found) {
        const key = sightingKey(subnet, c);
        const seen = this.#sightings.get(key) ?? { firstSeenAt: at, sweep };
        sightings.set(key, seen);
        if (seen.sweep < sweep && at - seen.firstSeenAt >= this.#minAge) {
          ripe.add(key);
          hasRipe = true;
        }
      }
      if (hasRipe) {
        ripeSubnets.push(subnet);
      }
    }
    this.#sightings = sightings;
    const summary = { at, revision: first.revision, candidates, ripe: ripe.size };
    if (ripe.size === 0) {
      return this.#finish({ ...summary, released: 0, deferredSubnets: 0 });
    }

    // 2. Bump the epoch of each subnet with ripe candidates.
    const bumped = new Map<string, bigint>();
    for (const subnet of ripeSubnets.slice(0, this.#maxSubnets)) {
      const revision = await this.#bump(subnet);
      if (revision !== undefined) {
        bumped.set(subnet.loc.prefix, revision);
      }
    }

    // 3. and 4. Read again, free what is still unowned and predates the bump.
    const second = bumped.size > 0 ? await this.#read() : undefined;
    let released = 0;
    let deferredSubnets = ripeSubnets.length - bumped.size;
    for (const subnet of second?.subnets ?? []) {
      const bumpedAt = bumped.get(subnet.loc.prefix);
      if (bumpedAt === undefined || !second) {
        continue;
      }
      const budget = this.#maxReleases - released;
      const freed = budget > 0 ? await this.#reclaim(subnet, second.owners, bumpedAt, ripe, budget, at) : 0;
      if (freed < 0) {
        deferredSubnets++;
      } else {
        released += freed;
      }
    }
    return this.#finish({ ...summary, released, deferredSubnets });
  }

  #finish(summary: SweepSummary): SweepSummary {
    this.#last = summary;
    this.#releasedTotal += summary.released;
    if (summary.released > 0 || summary.deferredSubnets > 0) {
      log.info({ ...summary, revision: summary.revision.toString() }, 'address sweep');
    }
    return summary;
  }

  #candidates(subnet: SubnetState, owners: AddressOwners, limit: number): OrphanCandidate[] {
    if (owners.unreadable.has(subnet.networkId) || limit <= 0 || subnet.cursorCreated === 0n) {
      return [];
    }
    return orphanCandidates(subnet.layout, subnet.snapshot, owners.held.get(subnet.networkId) ?? new Set(), limit);
  }

  /** Step 2 for one subnet: the revision of the bump, or undefined when it did not commit. */
  async #bump(subnet: SubnetState): Promise<bigint | undefined> {
    const fence = this.#opts.leaderFence();
    if (!fence) {
      return undefined;
    }
    try {
      const res = await this.#opts.store.txn({
        compare: [fence, cursorGuard(subnet)],
        success: [epochPut(subnet, this.#opts.clock.now())],
      });
      return res.succeeded ? res.revision : undefined;
    } catch (err) {
      log.warn({ err, network: subnet.networkName, subnet: subnet.layout.subnet }, 'could not bump a sweep epoch');
      return undefined;
    }
  }

  /**
   * Steps 3 and 4 for one subnet read after its bump at `bumpedAt`: the number of addresses
   * freed, or -1 when it had to stop early (a lost race: the next sweep retries).
   */
  async #reclaim(
    subnet: SubnetState,
    owners: AddressOwners,
    bumpedAt: bigint,
    ripe: ReadonlySet<string>,
    budget: number,
    sweptAt: number,
  ): Promise<number> {
    if (subnet.epoch !== bumpedAt) {
      return -1; // another sweep step came in between: its reads are the ones to trust
    }
    // A chunk written at or after the bump may hold an allocation whose owner write can still commit.
    const free = this.#candidates(subnet, owners, this.#maxTracked).filter(
      (c) => ripe.has(sightingKey(subnet, c)) && c.chunkModRevision < bumpedAt,
    );
    const byChunk = new Map<bigint, OrphanCandidate[]>();
    for (const c of free.slice(0, budget)) {
      const list = byChunk.get(c.chunk);
      if (list) {
        list.push(c);
      } else {
        byChunk.set(c.chunk, [c]);
      }
    }
    const chunks = [...byChunk.values()];
    let epoch = bumpedAt;
    let freed = 0;
    for (let i = 0; i < chunks.length; i += CHUNKS_PER_TXN) {
      const group = chunks.slice(i, i + CHUNKS_PER_TXN).flat();
      const draft = new BitmapDraft(subnet.snapshot);
      for (const c of group) {
        draft.clear(c.offset);
      }
      const write = bitmapWrite(subnet.loc, draft, { guardCursor: false });
      const fence = this.#opts.leaderFence();
      if (!fence) {
        return -1;
      }
      let committed: bigint | undefined;
      try {
        const res = await this.#opts.store.txn({
          compare: [
            fence,
            { key: subnet.epochKey, target: 'modRevision', op: '==', value: epoch },
            cursorGuard(subnet),
            ...write.compares,
          ],
          success: [...write.ops, epochPut(subnet, sweptAt)],
        });
        committed = res.succeeded ? res.revision : undefined;
      } catch (err) {
        // Outcome unknown: the next sweep reads what happened (and frees only what is still unowned).
        log.warn({ err, network: subnet.networkName, subnet: subnet.layout.subnet }, 'address release outcome unknown');
        return -1;
      }
      if (committed === undefined) {
        return -1;
      }
      epoch = committed;
      for (const c of group) {
        const key = sightingKey(subnet, c);
        const ageMs = sweptAt - (this.#sightings.get(key)?.firstSeenAt ?? sweptAt);
        this.#sightings.delete(key);
        log.info(
          {
            network: subnet.networkName,
            networkId: subnet.networkId,
            subnet: subnet.layout.subnet,
            address: c.address,
            ageMs,
          },
          'freed an address no endpoint or VIP held',
        );
      }
      freed += group.length;
    }
    return freed;
  }

  /** Networks, address state and owners, all at the revision of the first range. */
  async #read(): Promise<StoreState> {
    const { store } = this.#opts;
    const signal = this.#abort.signal;
    const networks = await rangeAll(store, storeKeys.networksPrefix, { signal });
    const at = { signal, revision: networks.revision };
    const [addresses, endpoints, services] = await Promise.all([
      rangeAll(store, storeKeys.addressesPrefix, at),
      rangeAll(store, storeKeys.endpointsPrefix, at),
      rangeAll(store, storeKeys.servicesPrefix, at),
    ]);
    const owners = addressOwners(
      endpoints.kvs.map((kv) => Endpoint.decode(kv.value)),
      services.kvs.map((kv) => Service.decode(kv.value)),
    );
    const byPrefix = groupByNetwork(addresses.kvs);
    const subnets: SubnetState[] = [];
    for (const kv of networks.kvs) {
      const network = Network.decode(kv.value);
      const kvs = byPrefix.get(network.id) ?? [];
      for (const alloc of network.subnets) {
        const loc = { prefix: storeKeys.subnetAddressesPrefix(network.id, alloc.subnet) };
        const epochKey = storeKeys.subnetSweepEpoch(network.id, alloc.subnet);
        const own = kvs.filter((k) => k.key.startsWith(loc.prefix));
        subnets.push({
          networkId: network.id,
          networkName: network.name,
          layout: subnetLayout(alloc),
          loc,
          epochKey,
          snapshot: snapshotFromKeys(loc, own),
          epoch: own.find((k) => k.key === epochKey)?.modRevision ?? 0n,
          cursorCreated: own.find((k) => k.key === cursorKey(loc))?.createRevision ?? 0n,
        });
      }
    }
    return { revision: networks.revision, subnets, owners };
  }
}

function sightingKey(subnet: SubnetState, c: OrphanCandidate): string {
  return `${subnet.networkId} ${subnet.layout.subnet} ${c.offset}`;
}

/** The network (and so its address state) still exists: its cursor is the one read. */
function cursorGuard(subnet: SubnetState): Compare {
  return { key: cursorKey(subnet.loc), target: 'createRevision', op: '==', value: subnet.cursorCreated };
}

function epochPut(subnet: SubnetState, now: number): TxnOp {
  return { type: 'put', key: subnet.epochKey, value: String(now) };
}

/** Address keys by network ID (`v1/ipam/addresses/<id>/...`). */
function groupByNetwork(kvs: readonly KeyValue[]): Map<string, KeyValue[]> {
  const out = new Map<string, KeyValue[]>();
  for (const kv of kvs) {
    const id = kv.key.slice(storeKeys.addressesPrefix.length).split('/')[0] ?? '';
    const list = out.get(id);
    if (list) {
      list.push(kv);
    } else {
      out.set(id, [kv]);
    }
  }
  return out;
}
