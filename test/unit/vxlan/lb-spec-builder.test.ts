import { describe, expect, it } from 'vitest';
import { Container, ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint, EndpointKind } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { EndpointMode, PublishMode, Service } from '../../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../../src/gen/vxmesh/v1/task.js';
import { validateLoadBalancing } from '../../../src/vxlan/lb/lb-validation.js';
import { validateDataplaneSpec } from '../../../src/vxlan/spec-validation.js';
import { buildDataplaneSpec } from '../../../src/worker/dataplane-spec-builder.js';
import type { DataplaneInputs } from '../../../src/worker/dataplane-spec-builder.js';
import { buildLoadBalancingSpec, ingressSandboxOf, lastUsableAddress } from '../../../src/worker/lb-spec-builder.js';

const net1 = Network.fromPartial({
  id: 'net1',
  name: 'app',
  subnets: [{ subnet: '10.0.1.0/24', gateway: '10.0.1.1', vni: 4097 }],
});
const ingress = Network.fromPartial({
  id: 'ingress1',
  name: 'ingress',
  ingress: true,
  subnets: [{ subnet: '10.255.0.0/16', gateway: '10.255.0.1', vni: 4096 }],
});

const web = Service.fromPartial({
  id: 'svcweb',
  spec: {
    name: 'web',
    endpointMode: EndpointMode.ENDPOINT_MODE_VIP,
    ports: [
      { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
      { protocol: 'tcp', targetPort: 80, publishedPort: 8081, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
    ],
  },
  virtualIps: [
    { networkId: 'net1', addr: '10.0.1.100/24' },
    { networkId: 'ingress1', addr: '10.255.0.100/16' },
  ],
});
const dnsrr = Service.fromPartial({
  id: 'svcdns',
  spec: { name: 'rr', endpointMode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [{ protocol: 'udp', targetPort: 53 }] },
});
const noPorts = Service.fromPartial({
  id: 'svcnone',
  spec: { name: 'none' },
  virtualIps: [{ networkId: 'net1', addr: '10.0.1.101/24' }],
});
const hostMode = Service.fromPartial({
  id: 'svchost',
  spec: {
    name: 'h',
    ports: [{ protocol: 'udp', targetPort: 5353, publishedPort: 53, publishMode: PublishMode.PUBLISH_MODE_HOST }],
  },
});

function taskEndpoint(id: string, network: string, ip: string, serving: boolean, node = 'peer'): Endpoint {
  return Endpoint.fromPartial({
    id,
    networkId: network,
    nodeId: node,
    kind: EndpointKind.ENDPOINT_KIND_TASK,
    serviceId: 'svcweb',
    serving,
    ipv4Address: ip,
    macAddress: '02:42:0a:00:00:01',
  });
}

const lbEndpoint = Endpoint.fromPartial({
  id: 'lbself',
  networkId: 'ingress1',
  nodeId: 'self',
  kind: EndpointKind.ENDPOINT_KIND_LOAD_BALANCER,
  ipv4Address: '10.255.0.2/16',
  macAddress: '02:42:0a:ff:00:02',
});

const hostTask = Task.fromPartial({
  id: 'taskh',
  serviceId: 'svchost',
  nodeId: 'self',
  desiredState: TaskState.TASK_STATE_RUNNING,
  hostPorts: [{ protocol: 'udp', targetPort: 5353, publishedPort: 53, publishMode: PublishMode.PUBLISH_MODE_HOST }],
});

function assignments(extra: Assignment[] = []): Map<string, Assignment> {
  const items: Assignment[] = [
    { item: { $case: 'network', value: net1 } },
    { item: { $case: 'network', value: ingress } },
    { item: { $case: 'service', value: web } },
    { item: { $case: 'service', value: dnsrr } },
    { item: { $case: 'service', value: noPorts } },
    { item: { $case: 'service', value: hostMode } },
    { item: { $case: 'endpoint', value: taskEndpoint('t1', 'net1', '10.0.1.11/24', true) } },
    { item: { $case: 'endpoint', value: taskEndpoint('t2', 'net1', '10.0.1.12/24', true) } },
    { item: { $case: 'endpoint', value: taskEndpoint('t3', 'net1', '10.0.1.13/24', false) } },
    { item: { $case: 'endpoint', value: taskEndpoint('i1', 'ingress1', '10.255.0.11/16', true) } },
    { item: { $case: 'endpoint', value: taskEndpoint('i2', 'ingress1', '10.255.0.12/16', true) } },
    { item: { $case: 'peer', value: { nodeId: 'peer', dataPathAddr: '198.51.100.12' } } },
    { item: { $case: 'task', value: hostTask } },
    ...extra,
  ];
  return new Map(items.map((a, i) => [String(i), a]));
}

const client = Container.fromPartial({
  id: 'c1c1c1c1c1c1c1c1',
  namespace: 'vx-c-c1',
  state: ContainerState.CONTAINER_STATE_RUNNING,
  egressAddress: '172.18.0.2/16',
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
const hostTaskContainer = Container.fromPartial({
  id: 'c2c2c2c2c2c2c2c2',
  namespace: 'vx-c-c2',
  state: ContainerState.CONTAINER_STATE_RUNNING,
  egressAddress: '172.18.0.3/16',
  taskId: 'taskh',
  networks: [
    {
      networkId: 'net1',
      endpointId: 'l2',
      ipv4Address: '10.0.1.3/24',
      macAddress: '02:42:0a:00:01:03',
      ifName: 'eth0',
    },
  ],
});

function inputs(extra: Assignment[] = []): DataplaneInputs {
  return {
    nodeId: 'self',
    namespacePrefix: 'vx-',
    dataPathAddr: '198.51.100.11',
    dataPathPort: 4789,
    underlayMtu: 1500,
    assignments: assignments(extra),
    attachedNetworks: new Map(),
    attachments: [client, hostTaskContainer].map((c) => ({ container: c, network: c.networks[0]! })),
    egress: { bridge: 'vx_gwbridge', gatewayCidr: '172.18.0.1/16' },
  };
}

describe('load-balancing spec', () => {
  it('gives every container on a network the VIP frontends of its services, serving tasks only', () => {
    const lb = buildDataplaneSpec(inputs()).loadBalancing;
    const backends = [
      { addr: '10.0.1.11', port: 80 },
      { addr: '10.0.1.12', port: 80 },
    ];
    expect(lb?.namespaces).toEqual([
      {
        namespace: 'vx-c-c1',
        hook: 'output',
        frontends: [{ addr: '10.0.1.100', protocol: 'tcp', port: 80, backends }],
      },
      {
        namespace: 'vx-c-c2',
        hook: 'output',
        frontends: [{ addr: '10.0.1.100', protocol: 'tcp', port: 80, backends }],
      },
    ]);
    // No ingress endpoint here: no sandbox; the host-mode task's port is published.
    expect(lb?.ingressSandbox).toBeUndefined();
    expect(lb?.publishedPorts).toEqual([
      { protocol: 'udp', port: 53, target: { addr: '172.18.0.3', port: 5353 }, mode: 'host' },
    ]);
  });

  it('builds the ingress sandbox from this node’s load-balancer endpoint: overlay eth0, egress eth1, frontends, ports', () => {
    const spec = buildDataplaneSpec(inputs([{ item: { $case: 'endpoint', value: lbEndpoint } }]));
    expect(validateDataplaneSpec(spec)).toEqual([]);
    expect(validateLoadBalancing(spec)).toEqual([]);
    const lb = spec.loadBalancing;
    expect(lb?.ingressSandbox).toEqual({
      namespace: 'vx-ingress-sbox',
      egressAddr: '172.18.255.254',
      localBackends: [],
    });
    const ingressBackends = [
      { addr: '10.255.0.11', port: 80 },
      { addr: '10.255.0.12', port: 80 },
    ];
    expect(lb?.namespaces.at(-1)).toEqual({
      namespace: 'vx-ingress-sbox',
      hook: 'prerouting',
      masqueradeOut: 'eth0',
      frontends: [
        { addr: '172.18.255.254', protocol: 'tcp', port: 8080, backends: ingressBackends },
        { addr: '172.18.255.254', protocol: 'tcp', port: 8081, backends: ingressBackends },
      ],
    });
    expect(lb?.publishedPorts).toEqual([
      { protocol: 'udp', port: 53, target: { addr: '172.18.0.3', port: 5353 }, mode: 'host' },
      { protocol: 'tcp', port: 8080, target: { addr: '172.18.255.254', port: 8080 }, mode: 'ingress' },
      { protocol: 'tcp', port: 8081, target: { addr: '172.18.255.254', port: 8081 }, mode: 'ingress' },
    ]);
    const ingressOverlay = spec.overlays.find((o) => o.networkId === 'ingress1');
    expect(ingressOverlay?.localEndpoints).toEqual([
      expect.objectContaining({
        endpointId: 'lbself',
        containerNamespace: 'vx-ingress-sbox',
        ifName: 'eth0',
        ipv4Cidr: '10.255.0.2/16',
      }),
    ]);
    expect(ingressOverlay?.remoteEndpoints.map((r) => r.endpointId).sort()).toEqual(['i1', 'i2']);
    expect(spec.egress?.attachments).toContainEqual({
      containerId: 'ingress-sbox',
      containerNamespace: 'vx-ingress-sbox',
      ifName: 'eth1',
      ipv4Cidr: '172.18.255.254/16',
      defaultRoute: true,
    });
  });

  it('lists the local tasks on ingress with their egress address, for balancing in the daemon namespace', () => {
    const localTask = Container.fromPartial({
      id: 'c3c3c3c3c3c3c3c3',
      namespace: 'vx-c-c3',
      state: ContainerState.CONTAINER_STATE_RUNNING,
      egressAddress: '172.18.0.4/16',
      taskId: 'taski1',
      networks: [
        {
          networkId: 'ingress1',
          endpointId: 'i1',
          ipv4Address: '10.255.0.11/16',
          macAddress: '02:42:0a:ff:00:0b',
          ifName: 'eth0',
        },
      ],
    });
    const base = inputs([{ item: { $case: 'endpoint', value: lbEndpoint } }]);
    const spec = buildDataplaneSpec({
      ...base,
      attachments: [...base.attachments, { container: localTask, network: localTask.networks[0]! }],
    });
    expect(validateLoadBalancing(spec)).toEqual([]);
    expect(spec.loadBalancing?.ingressSandbox?.localBackends).toEqual([
      { addr: '10.255.0.11', egressAddr: '172.18.0.4' },
    ]);
    // The task's egress attachment (its default route) is in the spec too.
    expect(spec.egress?.attachments).toContainEqual(
      expect.objectContaining({ containerNamespace: 'vx-c-c3', ipv4Cidr: '172.18.0.4/16', defaultRoute: true }),
    );
  });

  it('no egress bridge: no sandbox and no published ports', () => {
    const { egress: _egress, ...rest } = inputs([{ item: { $case: 'endpoint', value: lbEndpoint } }]);
    const lbInputs = {
      nodeId: rest.nodeId,
      namespacePrefix: 'vx-',
      dataPathPort: 4789,
      assignments: rest.assignments,
      attachments: [],
    };
    expect(ingressSandboxOf(lbInputs)).toBeUndefined();
    expect(buildLoadBalancingSpec(lbInputs, undefined)).toEqual({ namespaces: [], publishedPorts: [] });
  });

  it('never publishes the VXLAN port; a replacement task does not publish a port twice', () => {
    const old = Task.fromPartial({ ...hostTask, id: 'taskold', desiredState: TaskState.TASK_STATE_SHUTDOWN });
    const oldContainer = Container.fromPartial({
      ...hostTaskContainer,
      id: 'c3c3c3c3c3c3',
      namespace: 'vx-c-c3',
      taskId: 'taskold',
      egressAddress: '172.18.0.4/16',
    });
    const vxlanTask = Task.fromPartial({
      ...hostTask,
      id: 'taskv',
      hostPorts: [
        { protocol: 'udp', targetPort: 4789, publishedPort: 4789, publishMode: PublishMode.PUBLISH_MODE_HOST },
      ],
    });
    const vxlanContainer = Container.fromPartial({
      ...hostTaskContainer,
      id: 'c4c4c4c4c4c4',
      namespace: 'vx-c-c4',
      taskId: 'taskv',
      egressAddress: '172.18.0.5/16',
    });
    const base = inputs([{ item: { $case: 'task', value: old } }, { item: { $case: 'task', value: vxlanTask } }]);
    const lb = buildLoadBalancingSpec(
      {
        nodeId: 'self',
        namespacePrefix: 'vx-',
        dataPathPort: 4789,
        assignments: base.assignments,
        attachments: [oldContainer, hostTaskContainer, vxlanContainer].map((c) => ({
          container: c,
          network: c.networks[0]!,
        })),
        egressGatewayCidr: '172.18.0.1/16',
      },
      undefined,
    );
    expect(lb.publishedPorts).toEqual([
      { protocol: 'udp', port: 53, target: { addr: '172.18.0.3', port: 5353 }, mode: 'host' },
    ]);
  });

  it.each([
    ['172.18.0.1/16', '172.18.255.254/16'],
    ['10.1.2.1/24', '10.1.2.254/24'],
    ['192.168.0.1/30', '192.168.0.2/30'],
    ['bad', undefined],
  ])('last usable address of %s is %s', (gateway, last) => {
    expect(lastUsableAddress(gateway)).toBe(last);
  });
});
