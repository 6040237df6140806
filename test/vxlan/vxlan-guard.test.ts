/**
 * The VXLAN ingress guard on a real kernel: UDP to the data port from a non-member is dropped and
 * counted, members are not, and the member set follows the spec.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeDataplaneSpec } from '../../src/vxlan/dataplane-spec.js';
import { commandCount, createDataplaneHosts, namespacesWithPrefix, networkId, overlayFor, specFor } from './dataplane-hosts.js';
import type { DataplaneHosts, TestEndpoint } from './dataplane-hosts.js';

const NET = { id: networkId('9a4d01'), vni: 4201, third: 7, mtu: 1450 };

let env: DataplaneHosts;
let e0: TestEndpoint;
let e1: TestEndpoint;

/** Sends `count` small UDP datagrams from host `from` to host 0's data port. */
async function sendUdp(from: number, count: number, port = 4789): Promise<void> {
  const script =
    `const s = require('node:dgram').createSocket('udp4'); let n = 0;` +
    `const send = () => s.send(Buffer.alloc(64), ${port}, '${env.node(0).host.underlayIp}', () => (++n < ${count} ? send() : s.close()));` +
    `send();`;
  await env.hosts.exec(from, process.execPath, ['-e', script]);
}

async function drops(): Promise<number> {
  return (await env.node(0).driver.readGuardDrops())?.packets ?? -1;
}

function spec(members: readonly number[], port = 4789): NodeDataplaneSpec {
  const nodes = env.nodes.slice(0, 2);
  const node = env.node(0);
  return {
    ...specFor(node, nodes, [overlayFor(node, nodes, NET, [e0, e1])]),
    memberVteps: members.map((i) => env.node(i).host.underlayIp),
    dataPathPort: port,
  };
}

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 3 });
  e0 = { id: 'e0'.padEnd(16, '0'), node: 0, containerNs: await env.addContainer('g0'), ip: '10.7.0.2' };
  e1 = { id: 'e1'.padEnd(16, '0'), node: 1, containerNs: await env.addContainer('g1'), ip: '10.7.0.3' };
});

afterAll(async () => {
  await env.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

describe('VXLAN ingress guard', () => {
  it('drops and counts VXLAN from a non-member, lets members through', async () => {
    const nodes = env.nodes.slice(0, 2);
    const node1 = env.node(1);
    await node1.driver.reconcile(specFor(node1, nodes, [overlayFor(node1, nodes, NET, [e0, e1])]));
    const report = await env.node(0).driver.reconcile(spec([0, 1]));
    expect(report.errors).toEqual([]);
    expect(await drops()).toBe(0);

    const ping = await env.execIn(e1.containerNs, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', e0.ip], false);
    expect(ping.exitCode).toBe(0);
    expect(await drops()).toBe(0);

    await sendUdp(2, 5);
    expect(await drops()).toBe(5);
    // Another port is none of the guard's business.
    await sendUdp(2, 3, 4790);
    expect(await drops()).toBe(5);
  });

  it('follows the member set and the data port without resetting the counter', async () => {
    const withHost2 = await env.node(0).driver.reconcile(spec([0, 1, 2]));
    expect(commandCount(withHost2)).toBe(1); // one `add element`
    await sendUdp(2, 4);
    expect(await drops()).toBe(5);

    await env.node(0).driver.reconcile(spec([0, 1]));
    await sendUdp(2, 2);
    expect(await drops()).toBe(7);

    // A new data port moves the rules (the VXLAN devices are recreated on it too).
    const moved = await env.node(0).driver.reconcile(spec([0, 1], 4790));
    expect(moved.errors).toEqual([]);
    await sendUdp(2, 3, 4790);
    await sendUdp(2, 3, 4789);
    expect(await drops()).toBe(10);
  });

  it('recreates a deleted table', async () => {
    await env.hosts.exec(0, 'nft', ['delete', 'table', 'inet', 'vxmesh']);
    expect(await drops()).toBe(-1);
    await env.node(0).driver.reconcile(spec([0, 1]));
    await sendUdp(2, 2);
    expect(await drops()).toBe(2);
    expect(commandCount(await env.node(0).driver.reconcile(spec([0, 1])))).toBe(0);
  });
});
