import { describe, expect, it } from 'vitest';
import { Container, ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { buildDataplaneSpec } from '../../../src/worker/dataplane-spec-builder.js';
import type { DataplaneInputs } from '../../../src/worker/dataplane-spec-builder.js';

const network = Network.fromPartial({
  id: 'net1',
  name: 'n',
  subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097 }],
});
const remote = Endpoint.fromPartial({
  id: 'r1',
  networkId: 'net1',
  nodeId: 'peer',
  ipv4Address: '10.0.1.3/24',
  macAddress: '02:42:0a:00:01:03',
});
const assignments = new Map<string, Assignment>([
  ['network/net1', { item: { $case: 'network', value: network } }],
  ['endpoint/r1', { item: { $case: 'endpoint', value: remote } }],
  ['peer/peer', { item: { $case: 'peer', value: { nodeId: 'peer', dataPathAddr: '198.51.100.12' } } }],
]);
const container = Container.fromPartial({
  id: 'c1',
  namespace: 'vx-c-c1',
  state: ContainerState.CONTAINER_STATE_RUNNING,
  networks: [
    {
      networkId: 'net1',
      endpointId: 'l1',
      ipv4Address: '10.0.1.2/24',
      macAddress: '02:42:0a:00:01:02',
      ifName: 'eth0',
    },
  ],
});
const [attached] = container.networks;
if (!attached) {
  throw new Error('fixture has no network');
}
const inputs: DataplaneInputs = {
  nodeId: 'self',
  namespacePrefix: 'vx-',
  dataPathAddr: '198.51.100.11',
  dataPathPort: 4789,
  underlayMtu: 1500,
  assignments,
  attachedNetworks: new Map(),
  attachments: [{ container, network: attached }],
};

describe('buildDataplaneSpec', () => {
  it('derives the overlay MTU from the underlay, the narrowest measured path, or the network option', () => {
    expect(buildDataplaneSpec(inputs).overlays[0]?.mtu).toBe(1450);
    expect(
      buildDataplaneSpec({ ...inputs, pathMtuOf: (v) => (v === '198.51.100.12' ? 1400 : undefined) }).overlays[0]?.mtu,
    ).toBe(1350);
    expect(buildDataplaneSpec({ ...inputs, pathMtuOf: () => 9000 }).overlays[0]?.mtu).toBe(1450);
    const withOption = new Map(assignments);
    withOption.set('network/net1', { item: { $case: 'network', value: { ...network, mtu: 1200 } } });
    expect(buildDataplaneSpec({ ...inputs, assignments: withOption }).overlays[0]?.mtu).toBe(1200);
  });

  it('programs remote endpoints with their node’s VTEP and the local one into its namespace', () => {
    const overlay = buildDataplaneSpec(inputs).overlays[0];
    expect(overlay?.remoteEndpoints).toEqual([
      { endpointId: 'r1', subnetIndex: 0, mac: '02:42:0a:00:01:03', ipv4: '10.0.1.3', vtep: '198.51.100.12' },
    ]);
    expect(overlay?.localEndpoints[0]).toMatchObject({
      containerNamespace: 'vx-c-c1',
      ifName: 'eth0',
      ipv4Cidr: '10.0.1.2/24',
      gateway: '10.0.1.1',
    });
    expect(buildDataplaneSpec(inputs).memberVteps).toEqual(['198.51.100.12']);
  });
});
