import { describe, expect, it } from 'vitest';
import { Container, ContainerNetwork } from '../../../src/gen/vxmesh/v1/container.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import { createKeyRing } from '../../../src/manager/keys/key-ring.js';
import { encryptedOverlayMtu } from '../../../src/vxlan/ipsec/ipsec-mtu.js';
import { buildDataplaneSpec } from '../../../src/worker/dataplane-spec-builder.js';
import type { DataplaneInputs } from '../../../src/worker/dataplane-spec-builder.js';

const ENC = Network.create({
  id: 'enc000000000000000000000a',
  name: 'enc',
  encrypted: true,
  subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1', vni: 4500 }],
});
const PLAIN = Network.create({
  id: 'plain0000000000000000000a',
  name: 'plain',
  subnets: [{ subnet: '10.8.0.0/24', gateway: '10.8.0.1', vni: 4501 }],
});
const RING = createKeyRing(0);

function inputs(ipsec: DataplaneInputs['ipsec']): DataplaneInputs {
  const assignments = new Map<string, Assignment>([
    ['network/enc', { item: { $case: 'network', value: ENC } }],
    ['network/plain', { item: { $case: 'network', value: PLAIN } }],
    [
      'endpoint/r1',
      {
        item: {
          $case: 'endpoint',
          value: Endpoint.create({
            id: 'r1',
            networkId: ENC.id,
            nodeId: 'n2',
            ipv4Address: '10.9.0.3/24',
            macAddress: '02:42:0a:09:00:03',
          }),
        },
      },
    ],
    [
      'endpoint/r2',
      {
        item: {
          $case: 'endpoint',
          value: Endpoint.create({
            id: 'r2',
            networkId: PLAIN.id,
            nodeId: 'n3',
            ipv4Address: '10.8.0.3/24',
            macAddress: '02:42:0a:08:00:03',
          }),
        },
      },
    ],
    ['peer/n2', { item: { $case: 'peer', value: { nodeId: 'n2', dataPathAddr: '192.0.2.2', bootId: 'boot-n2' } } }],
    ['peer/n3', { item: { $case: 'peer', value: { nodeId: 'n3', dataPathAddr: '192.0.2.3' } } }],
    ['network-keys/cluster', { item: { $case: 'networkKeys', value: { keys: RING.keys } } }],
  ]);
  const container = Container.create({
    id: 'c'.repeat(64),
    namespace: 'x-c-1',
    networks: [
      ContainerNetwork.create({
        networkId: ENC.id,
        endpointId: 'l1',
        ipv4Address: '10.9.0.2/24',
        macAddress: '02:42:0a:09:00:02',
        ifName: 'eth0',
      }),
      ContainerNetwork.create({
        networkId: PLAIN.id,
        endpointId: 'l2',
        ipv4Address: '10.8.0.2/24',
        macAddress: '02:42:0a:08:00:02',
        ifName: 'eth1',
      }),
    ],
  });
  return {
    nodeId: 'n1',
    namespacePrefix: 'x-',
    dataPathAddr: '192.0.2.1',
    dataPathPort: 4789,
    underlayMtu: 1500,
    assignments,
    attachedNetworks: new Map(),
    attachments: container.networks.map((network) => ({ container, network })),
    loadBalancing: false,
    ...(ipsec === undefined ? {} : { ipsec }),
  };
}

describe('the dataplane spec of encrypted networks', () => {
  it('on a node that can enforce IPsec: the overlay is marked encrypted, its MTU leaves room for ESP, keys and peers are there', () => {
    const spec = buildDataplaneSpec(inputs({ bootId: 'boot-n1' }));
    const enc = spec.overlays.find((o) => o.networkId === ENC.id);
    const plain = spec.overlays.find((o) => o.networkId === PLAIN.id);
    expect(enc).toMatchObject({ encrypted: true, mtu: 1416 });
    expect(plain?.encrypted).toBeUndefined();
    expect(plain?.mtu).toBe(1450);
    expect(spec.encryption).toEqual({
      nodeId: 'n1',
      bootId: 'boot-n1',
      keys: RING.keys.map((k) => ({ tag: k.tag, key: k.key.toString('hex') })),
      // Only peers on encrypted networks: n3 shares just the plain one.
      peers: [{ nodeId: 'n2', bootId: 'boot-n2', addr: '192.0.2.2' }],
    });
  });

  it('on a node that cannot: no overlay at all for the encrypted network (no plaintext path), plain ones unchanged', () => {
    const spec = buildDataplaneSpec(inputs(undefined));
    expect(spec.overlays.map((o) => o.networkId)).toEqual([PLAIN.id]);
    expect(spec.encryption).toBeUndefined();
  });

  it('the ESP overhead: 34 bytes below plain VXLAN at 1500, aligned for GCM padding', () => {
    expect(encryptedOverlayMtu(1450)).toBe(1416);
    expect(encryptedOverlayMtu(8950)).toBe(8916);
    expect(encryptedOverlayMtu(1400)).toBe(1364);
    expect(encryptedOverlayMtu(60)).toBe(68);
  });
});
