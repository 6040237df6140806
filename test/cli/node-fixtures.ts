import type { NodeRecord } from '../../src/cli/daemon-api.js';
import { Node, NodeAvailability, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';

/** IDs shaped like the daemon's (25 base-36 chars). */
export const MANAGER_ID = 'e216jshn25ckzbvmwlnh5jr3g';
export const WORKER1_ID = '38ciaotwjuritcdtn9npbnkuz';
export const WORKER2_ID = '1bcef6utixb0l0ca7gxuivsj0';

/** 2024-05-16T22:52:44.991Z */
const CREATED = 1_715_899_964_991n;

/**
 * A three-node cluster as the managers would report it: a leader and two workers, one down; the
 * ready worker holds a session with the answering manager, so its agent (and resolver) is shown.
 */
export function clusterViews(): NodeRecord[] {
  return [
    {
      node: Node.create({
        id: WORKER2_ID,
        hostname: 'worker2',
        role: NodeRole.NODE_ROLE_WORKER,
        availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
        status: NodeStatus.NODE_STATUS_DOWN,
        advertiseAddr: '10.0.0.12:2377',
        createdAt: CREATED + 2000n,
        updatedAt: CREATED + 9000n,
      }),
      version: 31n,
      leader: false,
      reachability: '',
      certNotAfter: '',
      sessionState: '',
      agent: undefined,
    },
    {
      node: Node.create({
        id: MANAGER_ID,
        hostname: 'manager1',
        role: NodeRole.NODE_ROLE_MANAGER,
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
        status: NodeStatus.NODE_STATUS_READY,
        advertiseAddr: '10.0.0.10:2377',
        createdAt: CREATED,
        updatedAt: CREATED + 5000n,
      }),
      version: 10n,
      leader: true,
      reachability: 'reachable',
      certNotAfter: '2024-08-14T22:52:44Z',
      sessionState: '',
      agent: undefined,
    },
    {
      node: Node.create({
        id: WORKER1_ID,
        hostname: 'worker1',
        role: NodeRole.NODE_ROLE_WORKER,
        availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
        status: NodeStatus.NODE_STATUS_READY,
        advertiseAddr: '10.0.0.11:2377',
        dataPathAddr: '192.168.50.11',
        createdAt: CREATED + 1000n,
        updatedAt: CREATED + 1000n,
      }),
      version: 22n,
      leader: false,
      reachability: '',
      certNotAfter: '',
      sessionState: 'connected',
      agent: {
        appliedVersion: '418',
        overlayMtus: {},
        lastError: '',
        itemCount: 7,
        resolver: {
          queries: 1520n,
          answered: 1200n,
          forwarded: 290n,
          nxDomain: 24n,
          malformed: 3n,
          refused: 1n,
          failed: 2n,
          errors: 0n,
        },
      },
    },
  ];
}
