/**
 * MTU on a real kernel: an MTU-1400 underlay gives overlay MTU 1350; a 1322-byte DF ping (1350 on
 * the wire inside the overlay) crosses hosts, a 1400-byte one does not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { chooseOverlayMtu, underlayMtuOf } from '../../src/vxlan/overlay-mtu.js';
import { createDataplaneHosts, namespacesWithPrefix, networkId, overlayFor, specFor } from './dataplane-hosts.js';
import type { DataplaneHosts, TestEndpoint } from './dataplane-hosts.js';

let env: DataplaneHosts;

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 2, mtu: 1400 });
});

afterAll(async () => {
  await env.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

async function mtuOf(netns: string, ifname: string): Promise<number> {
  const r = await runCommand('ip', ['-n', netns, '-j', 'link', 'show', ifname]);
  return (JSON.parse(r.stdout) as { mtu: number }[])[0]?.mtu ?? 0;
}

describe('overlay MTU', () => {
  it('derives 1350 from a 1400 underlay; 1322-byte DF pings pass, 1400-byte ones do not', async () => {
    const node0 = env.node(0);
    const underlay = await underlayMtuOf(node0.runner, node0.host.underlayIp);
    expect(underlay).toBe(1400);
    const mtu = chooseOverlayMtu({ underlayMtu: underlay ?? 0 });
    expect(mtu).toBe(1350);

    const net = { id: networkId('3707'), vni: 4301, third: 9, mtu };
    const m0: TestEndpoint = { id: 'm0'.padEnd(16, '0'), node: 0, containerNs: await env.addContainer('m0'), ip: '10.9.0.2' };
    const m1: TestEndpoint = { id: 'm1'.padEnd(16, '0'), node: 1, containerNs: await env.addContainer('m1'), ip: '10.9.0.3' };
    for (const node of env.nodes) {
      const report = await node.driver.reconcile(specFor(node, env.nodes, [overlayFor(node, env.nodes, net, [m0, m1])]));
      expect(report.errors).toEqual([]);
    }
    expect(await mtuOf(m0.containerNs, 'eth0')).toBe(1350);
    const ovNs = overlayFor(node0, env.nodes, net, [m0, m1]).namespace;
    expect(await mtuOf(ovNs, 'vxlan0')).toBe(1350);
    expect(await mtuOf(ovNs, 'br0')).toBe(1350);

    const ping = (size: number) =>
      env.execIn(m0.containerNs, 'ping', ['-M', 'do', '-s', String(size), '-c', '1', '-W', '1', m1.ip], false);
    expect((await ping(1322)).exitCode).toBe(0);
    expect((await ping(1400)).exitCode).not.toBe(0);
    // And the other way.
    const back = await env.execIn(m1.containerNs, 'ping', ['-M', 'do', '-s', '1322', '-c', '1', '-W', '1', m0.ip], false);
    expect(back.exitCode).toBe(0);
  });

  it('prefers the network option, and a smaller measured path MTU', () => {
    expect(chooseOverlayMtu({ underlayMtu: 1500 })).toBe(1450);
    expect(chooseOverlayMtu({ underlayMtu: 1500, optionMtu: 1300 })).toBe(1300);
    expect(chooseOverlayMtu({ underlayMtu: 1500, pathMtus: [1500, 1420] })).toBe(1370);
  });
});
