import type { NetworkRecord } from '../../src/cli/daemon-api.js';
import { Endpoint, EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import { Network, SubnetAllocation, SubnetUsage } from '../../src/gen/vxmesh/v1/network.js';

/** IDs shaped like the manager's (25 base-36 chars); the two backends share an 11-char prefix. */
export const INGRESS_ID = 'rx0v9g3tq8l2pzw7kmd4hyc1s';
export const APPNET_ID = 'q7m2wkd0e4x9v3n1b8c5z6a0l';
export const BACKEND2_ID = 'k3j9x2m8q1w7e5r4t6y0u2i9o';
export const BACKEND10_ID = 'k3j9x2m8q1w8aaaa0000bbbb1';

const VXLANID_LIST = 'com.docker.network.driver.overlay.vxlanid_list';

/** 2^64 - 2: the free addresses of an IPv6 /64 with two in use, beyond a JS number's precision. */
export const IPV6_FREE = 18_446_744_073_709_551_614n;

/**
 * The containers `web` and `db` of container-fixtures.ts (same IDs, written out here because that
 * module imports this one), plus `api`, on another node, sharing web's alias `app`.
 */
const WEB = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const DB = '5be1c0f4a9d2e8b7c6a5f4e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a190';
const API = '7f3e2d1c0b9a89786756453423120f0e7f3e2d1c0b9a89786756453423120f0e';

function endpoint(fields: Partial<Endpoint>): Endpoint {
  return Endpoint.create({ kind: EndpointKind.ENDPOINT_KIND_CONTAINER, createdAt: 1_785_600_000_000n, ...fields });
}

/**
 * Four networks as a manager would report them: ingress from `swarm init`; `appnet`, encrypted,
 * attachable and dual-stack with an ip-range, aux addresses, labels and an MTU, with `web` and
 * `api` on it; two internal backends whose names sort differently in natural and plain order,
 * `backend2` holding `db` and `web`.
 */
export function networkViews(): NetworkRecord[] {
  return [
    {
      network: Network.create({
        id: BACKEND10_ID,
        name: 'backend10',
        driver: 'overlay',
        createdAt: 1_785_779_159_007n,
        internal: true,
        labels: { team: 'data' },
        options: { [VXLANID_LIST]: '4100' },
        ipamDriver: 'default',
        subnets: [SubnetAllocation.create({ subnet: '10.0.4.0/24', gateway: '10.0.4.1', vni: 4100, automatic: true })],
      }),
      version: 40n,
      usage: [SubnetUsage.create({ subnet: '10.0.4.0/24', inUse: 3n, free: 253n })],
      endpoints: [],
      peers: [],
    },
    {
      network: Network.create({
        id: APPNET_ID,
        name: 'appnet',
        driver: 'overlay',
        createdAt: 1_785_579_342_118n,
        enableIpv6: true,
        attachable: true,
        labels: { team: 'web', 'com.example.tier': 'front' },
        options: { encrypted: '', [VXLANID_LIST]: '4097', 'com.docker.network.driver.mtu': '1400' },
        ipamDriver: 'default',
        subnets: [
          SubnetAllocation.create({
            subnet: '10.0.1.0/24',
            ipRange: '10.0.1.128/25',
            gateway: '10.0.1.1',
            auxAddresses: { router: '10.0.1.5', 'dns-cache': '10.0.1.6' },
            vni: 4097,
          }),
          SubnetAllocation.create({ subnet: 'fd00:1::/64', gateway: 'fd00:1::1' }),
        ],
        mtu: 1400,
        encrypted: true,
      }),
      version: 12n,
      usage: [
        SubnetUsage.create({ subnet: 'fd00:1::/64', inUse: 2n, free: IPV6_FREE }),
        SubnetUsage.create({ subnet: '10.0.1.0/24', inUse: 5n, free: 127n }),
      ],
      endpoints: [
        endpoint({
          id: 'k8j7h6g5f4d3s2a1q0w9e8r7t',
          networkId: APPNET_ID,
          nodeId: 'node-a',
          ownerId: WEB,
          ownerName: 'web',
          hostname: 'web',
          ipv4Address: '10.0.1.10/24',
          ipv6Address: 'fd00:1::a/64',
          macAddress: '02:42:0a:00:01:0a',
          aliases: ['app', 'web'],
        }),
        endpoint({
          id: 'z9y8x7w6v5u4t3s2r1q0p9o8n',
          networkId: APPNET_ID,
          nodeId: 'node-b',
          ownerId: API,
          ownerName: 'api',
          hostname: 'api',
          ipv4Address: '10.0.1.130/24',
          ipv6Address: 'fd00:1::82/64',
          macAddress: '02:42:0a:00:01:82',
          aliases: ['app'],
        }),
      ],
      peers: [],
    },
    {
      network: Network.create({
        id: INGRESS_ID,
        name: 'ingress',
        driver: 'overlay',
        createdAt: 1_785_398_400_000n,
        ingress: true,
        options: { [VXLANID_LIST]: '4096' },
        ipamDriver: 'default',
        subnets: [SubnetAllocation.create({ subnet: '10.0.0.0/24', gateway: '10.0.0.1', vni: 4096, automatic: true })],
      }),
      version: 3n,
      usage: [SubnetUsage.create({ subnet: '10.0.0.0/24', inUse: 3n, free: 253n })],
      endpoints: [],
      peers: [],
    },
    {
      network: Network.create({
        id: BACKEND2_ID,
        name: 'backend2',
        driver: 'overlay',
        createdAt: 1_785_663_005_500n,
        internal: true,
        labels: { team: 'data', tier: '' },
        options: { [VXLANID_LIST]: '4098,4099' },
        ipamDriver: 'default',
        ipamOptions: { 'com.example.pool': 'blue' },
        subnets: [
          SubnetAllocation.create({ subnet: '10.0.2.0/24', gateway: '10.0.2.254', vni: 4098 }),
          SubnetAllocation.create({ subnet: '10.0.3.0/24', gateway: '10.0.3.1', vni: 4099 }),
        ],
      }),
      version: 30n,
      usage: [
        SubnetUsage.create({ subnet: '10.0.2.0/24', inUse: 3n, free: 253n }),
        SubnetUsage.create({ subnet: '10.0.3.0/24', inUse: 3n, free: 253n }),
      ],
      endpoints: [
        endpoint({
          id: 'm1n2b3v4c5x6z7l8k9j0h1g2f',
          networkId: BACKEND2_ID,
          nodeId: 'node-a',
          ownerId: DB,
          ownerName: 'db',
          ipv4Address: '10.0.2.5/24',
          macAddress: '02:42:0a:00:02:05',
        }),
        endpoint({
          id: 'p0o9i8u7y6t5r4e3w2q1a2s3d',
          networkId: BACKEND2_ID,
          nodeId: 'node-a',
          ownerId: WEB,
          ownerName: 'web',
          hostname: 'web',
          ipv4Address: '10.0.2.7/24',
          macAddress: '02:42:0a:00:02:07',
        }),
      ],
      peers: [],
    },
  ];
}

/** The fixture network with `id`. */
export function networkView(id: string): NetworkRecord {
  const found = networkViews().find((v) => v.network.id === id);
  if (found === undefined) {
    throw new Error(`no network fixture ${id}`);
  }
  return found;
}
