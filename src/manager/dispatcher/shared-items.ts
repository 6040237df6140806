import { hostPart } from '../../common/net/host-part.js';
import { Assignment } from '../../gen/vxmesh/v1/dispatcher.js';
import type { NetworkKeys } from '../../gen/vxmesh/v1/dispatcher.js';
import type { Endpoint } from '../../gen/vxmesh/v1/endpoint.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';
import type { Service } from '../../gen/vxmesh/v1/service.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';

/**
 * One version of one assignment item, built and encoded once and shared by every session that
 * sends it. Sessions remember what they sent by holding these objects, so a session's state is one
 * reference per item instead of its own key string and bytes (with ingress, every node holds an
 * item for every node on ingress: hundreds per session, on a thousand sessions).
 */
export interface SharedItem {
  /** `<kind>/<id>`: which item this is, whatever its version. */
  readonly key: string;
  readonly assignment: Assignment;
  /** `assignment` encoded: equal bytes mean an unchanged item. */
  readonly bytes: Uint8Array;
}

/** The key of the IPsec keys item (one per node). */
export const NETWORK_KEYS_KEY = 'network-keys/cluster';

/**
 * Items by the record they were built from. The cluster view replaces a record's object on every
 * change, so an object's item never goes stale, and it lives exactly as long as the view or a
 * session still refers to that version. A peer item is keyed by its node record.
 */
const itemByRecord = new WeakMap<object, SharedItem>();

function cached(record: object, build: () => { key: string; assignment: Assignment }): SharedItem {
  const hit = itemByRecord.get(record);
  if (hit) {
    return hit;
  }
  const { key, assignment } = build();
  const item: SharedItem = { key, assignment, bytes: Assignment.encode(assignment).finish() };
  itemByRecord.set(record, item);
  return item;
}

export function networkItem(id: string, network: Network): SharedItem {
  return cached(network, () => ({ key: `network/${id}`, assignment: { item: { $case: 'network', value: network } } }));
}

export function endpointItem(id: string, endpoint: Endpoint): SharedItem {
  return cached(endpoint, () => ({
    key: `endpoint/${id}`,
    assignment: { item: { $case: 'endpoint', value: endpoint } },
  }));
}

/** What another node needs to reach `node` over VXLAN (its data-path address and boot ID). */
export function peerItem(id: string, node: Node): SharedItem {
  return cached(node, () => ({
    key: `peer/${id}`,
    assignment: {
      item: {
        $case: 'peer',
        value: {
          nodeId: id,
          dataPathAddr: node.dataPathAddr || hostPart(node.advertiseAddr),
          ...(node.bootId ? { bootId: node.bootId } : {}),
        },
      },
    },
  }));
}

export function taskItem(id: string, task: Task): SharedItem {
  return cached(task, () => ({ key: `task/${id}`, assignment: { item: { $case: 'task', value: task } } }));
}

export function serviceItem(id: string, service: Service): SharedItem {
  return cached(service, () => ({ key: `service/${id}`, assignment: { item: { $case: 'service', value: service } } }));
}

export function networkKeysItem(keys: NetworkKeys): SharedItem {
  return cached(keys, () => ({ key: NETWORK_KEYS_KEY, assignment: { item: { $case: 'networkKeys', value: keys } } }));
}

/** Whether two versions of an item carry the same content. */
export function sameContent(a: SharedItem, b: SharedItem): boolean {
  return a === b || Buffer.from(a.bytes.buffer, a.bytes.byteOffset, a.bytes.byteLength).equals(b.bytes);
}
