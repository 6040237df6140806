import { describe, expect, it } from 'vitest';
import { Task } from '../../../src/gen/vxmesh/v1/task.js';
import { taskContainerName, taskContainerNetworks, taskExitError } from '../../../src/worker/tasks/task-container-spec.js';

describe('task container spec', () => {
  it('names a replicated task <service>.<slot>.<id> and a global one <service>.<node id>.<id>', () => {
    expect(taskContainerName(Task.fromPartial({ id: 'abc', serviceName: 'web', slot: 3, nodeId: 'n1' }))).toBe('web.3.abc');
    expect(taskContainerName(Task.fromPartial({ id: 'abc', serviceName: 'agent', slot: 0, nodeId: 'n1' }))).toBe('agent.n1.abc');
  });

  it('gives the allocated endpoints interface names in order', () => {
    const networks = taskContainerNetworks(
      Task.fromPartial({
        networks: [
          { networkId: 'a', networkName: 'front', endpointId: 'e1', ipv4Address: '10.0.0.5/24', macAddress: '02:42:0a:00:00:05', aliases: ['web'] },
          { networkId: 'i', networkName: 'ingress', endpointId: 'e2', ipv4Address: '10.255.0.7/16', gateway: '10.255.0.1' },
        ],
      }),
    );
    expect(networks.map((n) => [n.ifName, n.networkId, n.endpointId, n.ipv4Address])).toEqual([
      ['eth0', 'a', 'e1', '10.0.0.5/24'],
      ['eth1', 'i', 'e2', '10.255.0.7/16'],
    ]);
    expect(networks[0]).toMatchObject({ macAddress: '02:42:0a:00:00:05', aliases: ['web'], requestedIpv4: '' });
    expect(networks[1]?.gateway).toBe('10.255.0.1');
  });

  it('says docker’s words for an exit', () => {
    expect(taskExitError(127)).toBe('task: non-zero exit (127)');
    expect(taskExitError(-1)).toMatch(/exit status unknown/);
  });
});
