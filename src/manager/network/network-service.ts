import type { Clock } from '../../common/clock.js';
import type { KvStore } from '../../kvstore/index.js';
import type { CreateNetworkRequest, NetworkView } from '../../gen/vxmesh/v1/control.js';
import { loadNetworkUsage, usageFromKeys } from '../ipam/address-usage.js';
import { rangeAll } from '../ipam/range-all.js';
import { readCluster } from '../cluster-records.js';
import { storeKeys } from '../store/store-keys.js';
import { createNetwork } from './network-create.js';
import { endpointsByNetwork, networkEndpoints } from './network-endpoints.js';
import { listNetworks, resolveNetwork } from './network-records.js';
import type { StoredNetwork } from './network-records.js';
import { pruneNetworks } from './network-prune.js';
import type { PruneFilters } from './network-prune.js';
import { removeNetwork } from './network-removal.js';

type Signal = { readonly signal?: AbortSignal };

/**
 * The network operations of the control API over the store: create, list, inspect, remove,
 * prune. Stateless apart from its dependencies; any number of instances (on any number of
 * managers) may run against one store.
 */
export class NetworkService {
  readonly #store: KvStore;
  readonly #clock: Clock;
  readonly #random: () => number;
  /**
   * Creates from this instance run one at a time: they all compare the same claims guard and
   * VNI cursor, so running them side by side would only make them fail each other's txns.
   */
  #createTail: Promise<unknown> = Promise.resolve();

  constructor(store: KvStore, clock: Clock, random: () => number = Math.random) {
    this.#store = store;
    this.#clock = clock;
    this.#random = random;
  }

  /** See {@link createNetwork}; reads the cluster's default pools first. */
  create(req: CreateNetworkRequest, opts: Signal = {}): Promise<StoredNetwork> {
    const run = async (): Promise<StoredNetwork> => {
      const cluster = await readCluster(this.#store);
      return createNetwork({ store: this.#store, clock: this.#clock, random: this.#random, cluster }, req, opts);
    };
    const result = this.#createTail.then(run, run);
    this.#createTail = result.catch(() => undefined);
    return result;
  }

  /** Every network with its address usage and endpoints, sorted by name. */
  async list(opts: Signal = {}): Promise<NetworkView[]> {
    const [networks, addresses, endpoints] = await Promise.all([
      listNetworks(this.#store, opts),
      rangeAll(this.#store, storeKeys.addressesPrefix, opts),
      endpointsByNetwork(this.#store, opts),
    ]);
    return networks.map((n) => ({
      network: n.network,
      version: n.modRevision,
      usage: usageFromKeys(
        n.network,
        addresses.kvs.filter((kv) => kv.key.startsWith(storeKeys.networkAddressesPrefix(n.network.id))),
      ),
      endpoints: endpoints.get(n.network.id) ?? [],
      peers: [],
    }));
  }

  /** One network by full ID, full name or unique ID prefix, with usage and endpoints. */
  async get(ref: string, opts: Signal = {}): Promise<NetworkView> {
    const n = await resolveNetwork(this.#store, ref, opts);
    const [usage, endpoints] = await Promise.all([
      loadNetworkUsage(this.#store, n.network, opts),
      networkEndpoints(this.#store, n.network.id, opts),
    ]);
    return { network: n.network, version: n.modRevision, usage, endpoints, peers: [] };
  }

  /** Removes a network that nothing uses; returns it (so the caller can warn about ingress). */
  async remove(ref: string, opts: Signal = {}): Promise<StoredNetwork['network']> {
    const target = await resolveNetwork(this.#store, ref, opts);
    return removeNetwork(this.#store, target, this.#clock, opts);
  }

  /** Removes unused networks matching the filters (never ingress); returns their names, sorted. */
  async prune(filters: PruneFilters, opts: Signal = {}): Promise<string[]> {
    const { removed } = await pruneNetworks(this.#store, filters, this.#clock, opts);
    return removed.map((n) => n.name).sort();
  }
}
