import { VxmeshError } from '../../common/errors.js';
import { Endpoint, EndpointKind } from '../../gen/vxmesh/v1/endpoint.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import type { Task, TaskNetwork } from '../../gen/vxmesh/v1/task.js';
import type { TxnOp } from '../../kvstore/index.js';
import { macForAddress } from '../endpoints/endpoint-service.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { attachmentKey } from '../network/network-attachments.js';
import { newObjectId } from '../node-registry.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';
import { allocateIn, heldAddresses, ipv4Subnet, ipv6Subnet, releaseAll, withPrefix } from './network-addresses.js';
import type { HeldAddress, TakenAddress } from './network-addresses.js';
import { hasIngressPorts } from './service-spec-validation.js';
import { taskName } from './task-records.js';

/** The endpoints a task gets on its node, allocated but not yet written. */
export interface TaskEndpoints {
  readonly endpoints: Endpoint[];
  /** The task's interfaces in order (eth0, eth1...), for `Task.networks`. */
  readonly networks: TaskNetwork[];
  /** Addresses to give back if the write fails. */
  readonly taken: TakenAddress[];
}

/**
 * Networks a task of the service has an interface on, in order: the service's networks, then
 * ingress when it publishes through the routing mesh.
 */
export function taskNetworkIds(service: Service, ingressNetworkId: string | undefined): string[] {
  const spec = service.spec;
  const ids = spec?.networks.map((n) => n.network) ?? [];
  if (spec && ingressNetworkId && hasIngressPorts(spec)) {
    ids.push(ingressNetworkId);
  }
  return ids;
}

/**
 * Allocates the addresses of a task placed on `nodeId` and builds its endpoints (kind TASK,
 * owner = the task, owner name and hostname = the task name, not serving until it runs). On
 * failure what was allocated is given back.
 * @throws VxmeshError naming the network and subnet ("could not allocate an address on network
 *   x (10.9.0.0/29): ..."), NOT_FOUND when a network is gone.
 */
export async function allocateTaskEndpoints(
  allocator: AddressAllocator,
  service: Service,
  task: Task,
  nodeId: string,
  networks: (id: string) => Network | undefined,
  ingressNetworkId: string | undefined,
  now: number,
): Promise<TaskEndpoints> {
  const name = taskName({ ...task, nodeId });
  const taken: TakenAddress[] = [];
  const endpoints: Endpoint[] = [];
  const interfaces: TaskNetwork[] = [];
  try {
    for (const networkId of taskNetworkIds(service, ingressNetworkId)) {
      const network = networks(networkId);
      if (!network) {
        throw new VxmeshError('NOT_FOUND', `network ${networkId} of service ${task.serviceName} not found`);
      }
      const v4 = ipv4Subnet(network);
      const v6 = ipv6Subnet(network);
      const a4 = v4 ? await allocateIn(allocator, network, v4) : undefined;
      if (a4) {
        taken.push(a4);
      }
      const a6 = v6 ? await allocateIn(allocator, network, v6) : undefined;
      if (a6) {
        taken.push(a6);
      }
      const aliases = service.spec?.networks.find((n) => n.network === networkId)?.aliases ?? [];
      const endpoint = Endpoint.fromPartial({
        id: newObjectId(),
        networkId,
        nodeId,
        kind: EndpointKind.ENDPOINT_KIND_TASK,
        ownerId: task.id,
        ownerName: name,
        ipv4Address: a4 && v4 ? withPrefix(a4.address, v4) : '',
        ipv6Address: a6 && v6 ? withPrefix(a6.address, v6) : '',
        macAddress: macForAddress(a4?.address),
        aliases: [...aliases],
        createdAt: BigInt(now),
        hostname: name,
        serviceId: service.id,
        serviceName: service.spec?.name ?? '',
        serving: false,
      });
      endpoints.push(endpoint);
      interfaces.push({
        networkId,
        networkName: network.name,
        endpointId: endpoint.id,
        ipv4Address: endpoint.ipv4Address,
        ipv6Address: endpoint.ipv6Address,
        macAddress: endpoint.macAddress,
        gateway: v4?.gateway ?? v6?.gateway ?? '',
        aliases: [...aliases],
      });
    }
  } catch (err) {
    await releaseAll(allocator, taken);
    throw err;
  }
  return { endpoints, networks: interfaces, taken };
}

/** Owner-name index key of an endpoint (unique names per network, shared with containers). */
export function endpointNameKey(endpoint: Pick<Endpoint, 'networkId' | 'ownerName'>): string {
  return `${storeKeys.endpointNamesPrefix(endpoint.networkId)}${endpoint.ownerName}`;
}

/**
 * Writes of a new task endpoint: record, owner-name index and the network attachment that makes
 * `network rm` refuse the network while the endpoint exists. Ingress (load-balancer) endpoints
 * register no attachment (see ingress-endpoints.ts).
 */
export function endpointPutOps(endpoint: Endpoint): TxnOp[] {
  const ops: TxnOp[] = [
    { type: 'put', key: storeKeys.endpoint(endpoint.id), value: encodeMessage(Endpoint, endpoint) },
    { type: 'put', key: endpointNameKey(endpoint), value: endpoint.id },
  ];
  if (endpoint.kind !== EndpointKind.ENDPOINT_KIND_LOAD_BALANCER) {
    ops.push({
      type: 'put',
      key: attachmentKey(endpoint.networkId, { kind: 'endpoint', owner: endpoint.id }),
      value: endpoint.nodeId,
    });
  }
  return ops;
}

/** Deletes of an endpoint: the reverse of {@link endpointPutOps}. */
export function endpointDeleteOps(endpoint: Endpoint): TxnOp[] {
  const ops: TxnOp[] = [
    { type: 'delete', key: storeKeys.endpoint(endpoint.id) },
    { type: 'delete', key: endpointNameKey(endpoint) },
  ];
  if (endpoint.kind !== EndpointKind.ENDPOINT_KIND_LOAD_BALANCER) {
    ops.push({ type: 'delete', key: attachmentKey(endpoint.networkId, { kind: 'endpoint', owner: endpoint.id }) });
  }
  return ops;
}

/** The addresses an endpoint holds, to give back after it is deleted (`releaseHeld`). */
export function endpointAddresses(endpoint: Endpoint, network: Network | undefined): HeldAddress[] {
  return heldAddresses(network, [endpoint.ipv4Address, endpoint.ipv6Address]);
}
