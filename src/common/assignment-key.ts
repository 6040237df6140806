import type { Assignment } from '../gen/vxmesh/v1/dispatcher.js';

/** The stable key of an assignment item, shared by manager and worker. */
export function assignmentKey(a: Assignment): string {
  switch (a.item?.$case) {
    case 'network': {
      return `network/${a.item.value.id}`;
    }
    case 'endpoint': {
      return `endpoint/${a.item.value.id}`;
    }
    case 'peer': {
      return `peer/${a.item.value.nodeId}`;
    }
    case 'task': {
      return `task/${a.item.value.id}`;
    }
    case 'service': {
      return `service/${a.item.value.id}`;
    }
    case 'networkKeys': {
      // One item per node: the cluster's IPsec keys.
      return 'network-keys/cluster';
    }
    default: {
      return 'unknown/';
    }
  }
}
