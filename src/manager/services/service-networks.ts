import { InvalidArgumentError } from '../../common/errors.js';
import type { KvStore } from '../../kvstore/index.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { ServiceNetwork, ServiceSpec } from '../../gen/vxmesh/v1/service.js';
import { getNetwork, resolveNetwork } from '../network/network-records.js';
import { OVERLAY_DRIVER } from '../network/network-spec.js';
import { storeKeys } from '../store/store-keys.js';
import { hasIngressPorts } from './service-spec-validation.js';

type Signal = { readonly signal?: AbortSignal };

/**
 * Resolves the `--network` references of a spec (full ID, name or unique ID prefix) to IDs, in
 * order, and returns the records too.
 * @throws NotFoundError for a missing network; InvalidArgumentError('network', ...) for the
 *   ingress network, a non-overlay network or a network listed twice.
 */
export async function resolveServiceNetworks(
  store: KvStore,
  refs: readonly ServiceNetwork[],
  opts: Signal = {},
): Promise<{ networks: ServiceNetwork[]; records: Map<string, Network> }> {
  const records = new Map<string, Network>();
  const networks: ServiceNetwork[] = [];
  for (const ref of refs) {
    const { network } = await resolveNetwork(store, ref.network, opts);
    if (network.ingress) {
      throw new InvalidArgumentError(
        'network',
        `${network.name} is the ingress network; a service joins it by publishing a port (--publish)`,
      );
    }
    if (network.driver !== '' && network.driver !== OVERLAY_DRIVER) {
      throw new InvalidArgumentError('network', `${network.name} is not an overlay network (driver ${network.driver})`);
    }
    if (records.has(network.id)) {
      throw new InvalidArgumentError('network', `network ${network.name} is listed twice`);
    }
    records.set(network.id, network);
    networks.push({ network: network.id, aliases: ref.aliases });
  }
  return { networks, records };
}

/** The ingress network, if the cluster has one. */
export async function readIngressNetwork(store: KvStore, opts: Signal = {}): Promise<Network | undefined> {
  const { kv } = await store.get(storeKeys.ingressNetwork, opts);
  if (!kv) {
    return undefined;
  }
  return (await getNetwork(store, Buffer.from(kv.value).toString('utf8'), opts))?.network;
}

/**
 * Networks a service registers an attachment on (so `network rm` refuses them): its networks,
 * and ingress when it publishes a port through the routing mesh.
 */
export function attachedNetworkIds(spec: ServiceSpec, ingressNetworkId: string | undefined): string[] {
  const ids = spec.networks.map((n) => n.network);
  if (ingressNetworkId && hasIngressPorts(spec)) {
    ids.push(ingressNetworkId);
  }
  return ids;
}
