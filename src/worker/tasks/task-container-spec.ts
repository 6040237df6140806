import type { ContainerNetwork } from '../../gen/vxmesh/v1/container.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';

/**
 * The container name of a task, docker's `<service>.<slot>.<task id>`; a global service's task
 * (slot 0) takes the node ID instead: `<service>.<node id>.<task id>`. The endpoints' owner name
 * is the same string, so a task resolves by this name like a standalone container does.
 */
export function taskContainerName(task: Task): string {
  const middle = task.slot > 0 ? String(task.slot) : task.nodeId;
  return `${task.serviceName}.${middle}.${task.id}`;
}

/**
 * The container's interfaces, eth0, eth1, ... in the task's network order, filled from the
 * endpoints the managers allocated when they scheduled the task (the node never attaches a task).
 */
export function taskContainerNetworks(task: Task): ContainerNetwork[] {
  return task.networks.map((n, index) => ({
    networkId: n.networkId,
    networkName: n.networkName,
    endpointId: n.endpointId,
    requestedIpv4: '',
    requestedIpv6: '',
    aliases: [...n.aliases],
    links: [],
    ipv4Address: n.ipv4Address,
    ipv6Address: n.ipv6Address,
    macAddress: n.macAddress,
    gateway: n.gateway,
    ifName: `eth${index}`,
  }));
}

/**
 * The task error docker shows for an ended process: `task: non-zero exit (N)`. A negative code
 * means the runtime never saw the exit status (the process died while no daemon watched it).
 */
export function taskExitError(exitCode: number): string {
  if (exitCode < 0) {
    return 'task: container process ended while the daemon was down (exit status unknown)';
  }
  return `task: non-zero exit (${exitCode})`;
}
