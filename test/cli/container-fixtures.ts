import { Container, ContainerNetwork, ContainerState } from '../../src/gen/vxmesh/v1/container.js';
import { APPNET_ID, BACKEND2_ID } from './network-fixtures.js';

/** IDs shaped like the daemon's (64 hex characters). */
export const WEB_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
export const DB_ID = '5be1c0f4a9d2e8b7c6a5f4e3d2c1b0a9f8e7d6c5b4a3928170f6e5d4c3b2a190';
export const JOB_ID = 'e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5';
export const FRESH_ID = '0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d';

/** The moment the fixtures are described from: 2026-08-01T12:00:00Z. */
export const FIXTURE_NOW_MS = 1_785_585_600_000;

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/**
 * Four containers of one node as the daemon reports them, newest first, with times `nowMs` minus
 * fixed offsets (so `ps` reads the same whenever it runs; offsets sit mid-unit, far from rounding):
 * - `fresh`: created with --create-only a minute and a half ago, attached to appnet, never started;
 * - `job`: exited with status 3 twelve and a half minutes ago; detached from appnet, where it
 *   asked for 10.0.1.20 (kept for its next start);
 * - `web`: running for 3 hours on appnet (--ip, --ip6 none, aliases, a link, dual-stack addresses)
 *   and backend2 (second interface), with its own hostname and two DNS servers;
 * - `db`: running for two days on backend2, default hostname (its short ID).
 */
export function containerViews(nowMs: number = FIXTURE_NOW_MS): Container[] {
  const at = (agoMs: number): bigint => BigInt(nowMs - agoMs);
  return [
    Container.create({
      id: FRESH_ID,
      name: 'fresh',
      hostname: FRESH_ID.slice(0, 12),
      command: ['/usr/bin/env'],
      state: ContainerState.CONTAINER_STATE_CREATED,
      createdAt: at(90 * SECOND),
      namespace: `vxm-c-${FRESH_ID.slice(0, 12)}`,
      networks: [
        ContainerNetwork.create({
          networkId: APPNET_ID,
          networkName: 'appnet',
          endpointId: 'f3e2d1c0b9a8z7y6x5w4v3u2t',
          ipv4Address: '10.0.1.130/24',
          ipv6Address: 'fd00:1::82/64',
          macAddress: '02:42:0a:00:01:82',
          gateway: '10.0.1.1',
          ifName: 'eth0',
        }),
      ],
      egressAddress: '172.18.0.5/16',
    }),
    Container.create({
      id: JOB_ID,
      name: 'job',
      hostname: 'job',
      command: ['sh', '-c', 'exit 3'],
      state: ContainerState.CONTAINER_STATE_EXITED,
      exitCode: 3,
      createdAt: at(HOUR + 5 * MINUTE),
      startedAt: at(20 * MINUTE),
      finishedAt: at(12 * MINUTE + 30 * SECOND),
      autoRemove: false,
      namespace: `vxm-c-${JOB_ID.slice(0, 12)}`,
      networks: [
        // What the daemon keeps of a stopped container's attachment: the request and the gateway.
        ContainerNetwork.create({
          networkId: APPNET_ID,
          networkName: 'appnet',
          requestedIpv4: '10.0.1.20',
          aliases: ['worker'],
          gateway: '10.0.1.1',
          ifName: 'eth0',
        }),
      ],
      error: '',
    }),
    Container.create({
      id: WEB_ID,
      name: 'web',
      hostname: 'web',
      command: ['sh', '-c', 'while true; do sleep 1; done'],
      state: ContainerState.CONTAINER_STATE_RUNNING,
      pid: 4242,
      createdAt: at(3 * HOUR + 12 * MINUTE),
      startedAt: at(3 * HOUR + 10 * MINUTE),
      namespace: `vxm-c-${WEB_ID.slice(0, 12)}`,
      networks: [
        ContainerNetwork.create({
          networkId: APPNET_ID,
          networkName: 'appnet',
          endpointId: 'k8j7h6g5f4d3s2a1q0w9e8r7t',
          requestedIpv4: '10.0.1.10',
          aliases: ['app', 'web'],
          links: ['db:database'],
          ipv4Address: '10.0.1.10/24',
          ipv6Address: 'fd00:1::a/64',
          macAddress: '02:42:0a:00:01:0a',
          gateway: '10.0.1.1',
          ifName: 'eth0',
        }),
        ContainerNetwork.create({
          networkId: BACKEND2_ID,
          networkName: 'backend2',
          endpointId: 'p0o9i8u7y6t5r4e3w2q1a2s3d',
          ipv4Address: '10.0.2.7/24',
          macAddress: '02:42:0a:00:02:07',
          gateway: '10.0.2.254',
          ifName: 'eth1',
        }),
      ],
      dns: ['10.0.0.2', 'fd00::53'],
      dnsSearch: ['corp.example', 'example.com'],
      dnsOptions: ['ndots:2'],
      egressAddress: '172.18.0.2/16',
    }),
    Container.create({
      id: DB_ID,
      name: 'db',
      hostname: DB_ID.slice(0, 12),
      command: ['sleep', 'infinity'],
      state: ContainerState.CONTAINER_STATE_RUNNING,
      pid: 4100,
      createdAt: at(2 * 24 * HOUR + 5 * HOUR),
      startedAt: at(2 * 24 * HOUR + 5 * HOUR - 2 * SECOND),
      autoRemove: true,
      namespace: `vxm-c-${DB_ID.slice(0, 12)}`,
      networks: [
        ContainerNetwork.create({
          networkId: BACKEND2_ID,
          networkName: 'backend2',
          endpointId: 'm1n2b3v4c5x6z7l8k9j0h1g2f',
          ipv4Address: '10.0.2.5/24',
          macAddress: '02:42:0a:00:02:05',
          gateway: '10.0.2.254',
          ifName: 'eth0',
        }),
      ],
      egressAddress: '172.18.0.3/16',
    }),
  ];
}

/** The fixture container with `id`. */
export function containerView(id: string, nowMs: number = FIXTURE_NOW_MS): Container {
  const found = containerViews(nowMs).find((c) => c.id === id);
  if (found === undefined) {
    throw new Error(`no container fixture ${id}`);
  }
  return found;
}
