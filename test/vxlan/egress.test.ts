/**
 * The docker_gwbridge-like egress on a real kernel: a container reaches a stub "internet" host on
 * the underlay through the egress bridge and is masqueraded to the host's address; a container
 * without `defaultRoute` has no route out; containers on the bridge cannot reach each other.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import type { EgressSpec, NodeDataplaneSpec } from '../../src/vxlan/dataplane-spec.js';
import { commandCount, createDataplaneHosts, namespacesWithPrefix, specFor } from './dataplane-hosts.js';
import type { DataplaneHosts } from './dataplane-hosts.js';

let env: DataplaneHosts;
let c0 = '';
let c1 = '';
const INTERNET = 1;

function spec(egress: EgressSpec | undefined): NodeDataplaneSpec {
  const node = env.node(0);
  return specFor(node, [node], [], egress === undefined ? {} : { egress });
}

function egress(): EgressSpec {
  return {
    bridge: 'vxgw0',
    gatewayCidr: '172.18.0.1/16',
    attachments: [
      { containerId: 'c0'.padEnd(16, '0'), containerNamespace: c0, ifName: 'eth0', ipv4Cidr: '172.18.0.2/16', defaultRoute: true },
      { containerId: 'c1'.padEnd(16, '0'), containerNamespace: c1, ifName: 'eth0', ipv4Cidr: '172.18.0.3/16', defaultRoute: false },
    ],
  };
}

async function ping(ns: string, ip: string): Promise<boolean> {
  return (await env.execIn(ns, 'ping', ['-c', '1', '-W', '1', ip], false)).exitCode === 0;
}

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 2 });
  c0 = await env.addContainer('e0');
  c1 = await env.addContainer('e1');
});

afterAll(async () => {
  await env.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

describe('egress bridge', () => {
  it('reaches the internet stub through masquerade; no default route without defaultRoute', async () => {
    const report = await env.node(0).driver.reconcile(spec(egress()));
    expect(report.errors).toEqual([]);
    expect(commandCount(await env.node(0).driver.reconcile(spec(egress())))).toBe(0);
    const internet = env.node(INTERNET).host.underlayIp;

    expect(await ping(c0, internet)).toBe(true);
    // The stub has no route back to 172.18/16: the reply needs the masquerade, and the peer
    // address it sees is the host's underlay address.
    const server = env.hosts.spawn(INTERNET, process.execPath, [
      '-e',
      `require('node:net').createServer((s) => s.end(s.remoteAddress)).listen(18080, '${internet}', () => console.log('ready'));`,
    ]);
    try {
      if (server.stdout === null) {
        throw new Error('no stdout');
      }
      const lines = createInterface({ input: server.stdout });
      await once(lines, 'line');
      const seen = await env.execIn(c0, process.execPath, [
        '-e',
        `require('node:net').connect(18080, '${internet}').on('data', (d) => process.stdout.write(d));`,
      ]);
      expect(seen.stdout.replace(/^::ffff:/, '')).toBe(env.node(0).host.underlayIp);
    } finally {
      server.kill('SIGKILL');
    }

    const routes = await runCommand('ip', ['-n', c1, '-j', 'route', 'show', 'default']);
    expect(JSON.parse(routes.stdout)).toEqual([]);
    expect(await ping(c1, internet)).toBe(false);
    // Both reach the gateway, not each other (isolated bridge ports, nft forward drop).
    expect(await ping(c1, '172.18.0.1')).toBe(true);
    expect(await ping(c0, '172.18.0.3')).toBe(false);
  });

  it('repairs a deleted bridge and removes everything when egress goes', async () => {
    await env.hosts.exec(0, 'ip', ['link', 'del', 'dev', 'vxgw0']);
    const repaired = await env.node(0).driver.reconcile(spec(egress()));
    expect(repaired.errors).toEqual([]);
    expect(await ping(c0, env.node(INTERNET).host.underlayIp)).toBe(true);

    const removed = await env.node(0).driver.reconcile(spec(undefined));
    expect(removed.errors).toEqual([]);
    const links = await env.hosts.exec(0, 'ip', ['-j', 'link', 'show']);
    expect((JSON.parse(links.stdout) as { ifname: string }[]).map((l) => l.ifname).sort()).toEqual(['eth0', 'lo']);
    const c0Links = await runCommand('ip', ['-n', c0, '-j', 'link', 'show']);
    expect((JSON.parse(c0Links.stdout) as { ifname: string }[]).map((l) => l.ifname)).toEqual(['lo']);
    const table = await env.hosts.exec(0, 'nft', ['-j', 'list', 'table', 'inet', 'vxmesh']);
    expect(table.stdout).not.toContain('masquerade');
    expect(commandCount(await env.node(0).driver.reconcile(spec(undefined)))).toBe(0);
  });
});
