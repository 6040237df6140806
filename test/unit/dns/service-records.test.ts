import { describe, expect, it } from 'vitest';
import { buildRecordTable } from '../../../src/worker/dns/build-record-table.js';
import { dnsStateFromAssignments } from '../../../src/worker/dns/dns-state-from-assignments.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint, EndpointKind } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { EndpointMode, Service } from '../../../src/gen/vxmesh/v1/service.js';

const network: Assignment = {
  item: { $case: 'network', value: Network.fromPartial({ id: 'n1', name: 'appnet', subnets: [{ subnet: '10.1.0.0/24' }] }) },
};
const task = (id: string, ip: string, serving: boolean): Assignment => ({
  item: {
    $case: 'endpoint',
    value: Endpoint.fromPartial({
      id,
      networkId: 'n1',
      nodeId: 'other',
      kind: EndpointKind.ENDPOINT_KIND_TASK,
      ownerName: `web.${id}.abc`,
      ipv4Address: `${ip}/24`,
      serviceId: 's1',
      serviceName: 'web',
      serving,
    }),
  },
});
const service = (mode: EndpointMode): Assignment => ({
  item: {
    $case: 'service',
    value: Service.fromPartial({
      id: 's1',
      spec: {
        name: 'web',
        endpointMode: mode,
        networks: [{ network: 'n1', aliases: ['www'] }],
        ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 8080 }],
      },
      virtualIps: mode === EndpointMode.ENDPOINT_MODE_VIP ? [{ networkId: 'n1', addr: '10.1.0.100/24' }] : [],
    }),
  },
});

const tableFor = (assignments: Assignment[]) =>
  buildRecordTable(
    dnsStateFromAssignments({ nodeId: 'self', assignments, containers: [], knownNetworks: new Map() }),
    1,
  ).networks.get('n1');

describe('service records', () => {
  it('vip mode: the name and aliases give the VIP, tasks.<name> the serving tasks only', () => {
    const n = tableFor([network, service(EndpointMode.ENDPOINT_MODE_VIP), task('1', '10.1.0.5', true), task('2', '10.1.0.6', true), task('3', '10.1.0.7', false)]);
    expect(n?.names.get('web')?.ipv4).toEqual(['10.1.0.100']);
    expect(n?.names.get('www')?.ipv4).toEqual(['10.1.0.100']);
    expect(n?.names.get('tasks.web')?.ipv4).toEqual(['10.1.0.5', '10.1.0.6']);
    expect(n?.names.get('tasks.www')?.ipv4).toEqual(['10.1.0.5', '10.1.0.6']);
    expect(n?.srv.get('_80._tcp.web')?.map((t) => t.target)).toEqual(['web.1.abc.appnet', 'web.2.abc.appnet']);
    // A task still resolves by its own name while it is not serving.
    expect(n?.names.get('web.3.abc')?.ipv4).toEqual(['10.1.0.7']);
  });

  it('dnsrr mode: the name gives the serving task addresses', () => {
    const n = tableFor([network, service(EndpointMode.ENDPOINT_MODE_DNSRR), task('1', '10.1.0.5', true), task('2', '10.1.0.6', false)]);
    expect(n?.names.get('web')?.ipv4).toEqual(['10.1.0.5']);
    expect(n?.names.get('tasks.web')?.ipv4).toEqual(['10.1.0.5']);
  });

  it('a service without serving tasks has no tasks.<name> record', () => {
    const n = tableFor([network, service(EndpointMode.ENDPOINT_MODE_VIP)]);
    expect(n?.names.get('web')?.ipv4).toEqual(['10.1.0.100']);
    expect(n?.names.has('tasks.web')).toBe(false);
  });
});
