/**
 * Hairpin on a real kernel (topology in lb-mesh-topology.ts, with `cc1` on node 1): a container
 * reaches a published port through its own node's underlay address, and the answer comes back
 * from the address it dialed, masqueraded to the egress gateway on the way in. Run with
 * br_netfilter off and on (`net.bridge.bridge-nf-call-iptables` of the test's node namespaces):
 * on, the bridge short-cuts the DNATed frame between its ports, so the sandbox's port must not be
 * isolated. Host-mode ports answer hairpin only with br_netfilter off (lb/README.md, "Limits").
 * Containers still cannot reach each other's egress addresses, nor the sandbox's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { commandCount, createDataplaneHosts, namespacesWithPrefix } from './dataplane-hosts.js';
import type { DataplaneHosts } from './dataplane-hosts.js';
import {
  EGRESS_GATEWAY,
  HOST_PORT,
  MESH_PORT,
  SANDBOX_EGRESS,
  SANDBOX_INGRESS_IPS,
  TARGET_PORT,
  TASKS,
  buildMeshTopology,
} from './lb-mesh-topology.js';
import type { MeshTopology } from './lb-mesh-topology.js';
import { killLbProcesses } from './lb-processes.js';

let env: DataplaneHosts;
let mesh: MeshTopology;
let cc1 = '';

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 3 });
  mesh = await buildMeshTopology(env, { hairpinClient: true });
  cc1 = mesh.cc1Namespace ?? '';
});

afterAll(async () => {
  await killLbProcesses();
  await env?.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

/** `curl` from `netns`; the exit code and the body (`<task> <client address the task saw>`). */
async function curl(netns: string, url: string, maxTime = 3): Promise<{ ok: boolean; body: string }> {
  const result = await runCommand('ip', ['netns', 'exec', netns, 'curl', '-sS', '--max-time', String(maxTime), url], {
    check: false,
  });
  return { ok: result.exitCode === 0, body: result.stdout.trim() };
}

/** The ingress sandbox's port on node 1's egress bridge: isolated or not. */
async function sandboxPortIsolated(): Promise<boolean | undefined> {
  const shown = await env.hosts.exec(1, 'ip', ['-j', '-d', 'link', 'show', 'dev', 'gwingress-sbox']);
  const [link] = JSON.parse(shown.stdout) as { linkinfo?: { info_slave_data?: { isolated?: boolean } } }[];
  return link?.linkinfo?.info_slave_data?.isolated;
}

describe.each([0, 1])('hairpin, bridge-nf-call-iptables=%i', (bridgeNf) => {
  beforeAll(async () => {
    for (const node of [env.node(0), env.node(1)]) {
      await runCommand('ip', ['netns', 'exec', node.host.netns, 'sysctl', '-qw', `net.bridge.bridge-nf-call-iptables=${bridgeNf}`]);
    }
    const reports = await mesh.reconcile();
    expect(reports.flatMap((r) => r.errors)).toEqual([]);
    // The driver follows the sysctl in that pass and finds nothing more to do afterwards.
    expect((await mesh.reconcile()).map(commandCount)).toEqual([0, 0]);
  });

  it('isolates the sandbox’s port only without br_netfilter', async () => {
    expect(await sandboxPortIsolated()).toBe(bridgeNf === 0);
  });

  it('a container reaches the mesh port through its own node’s address (local tasks, via the sandbox)', async () => {
    const url = `http://${env.node(1).host.underlayIp}:${MESH_PORT}/`;
    const names = new Set<string>();
    for (let i = 0; i < 9; i++) {
      const { ok, body } = await curl(cc1, url);
      expect(ok).toBe(true);
      const [name, seen] = body.split(' ');
      names.add(name ?? '');
      // Hairpin skips the daemon namespace's local slots: the sandbox balances it, masquerading.
      expect(seen).toBe(SANDBOX_INGRESS_IPS[1]);
    }
    expect([...names].every((n) => TASKS.some((t) => t.name === n))).toBe(true);
  });

  it('a container on a node without tasks reaches the mesh port through its node’s address (remote tasks)', async () => {
    const { ok, body } = await curl(mesh.ccNamespace, `http://${env.node(0).host.underlayIp}:${MESH_PORT}/`);
    expect(ok).toBe(true);
    expect(body).toMatch(new RegExp(`^t[123] ${SANDBOX_INGRESS_IPS[0].replaceAll('.', '\\.')}$`));
  });

  it('a container reaches a host-mode port through its node’s address, masqueraded to the gateway (br_netfilter off)', async () => {
    const { ok, body } = await curl(cc1, `http://${env.node(1).host.underlayIp}:${HOST_PORT}/`, 2);
    if (bridgeNf === 1) {
      // The known limit (lb/README.md, "Limits"): the bridge short-cuts the DNATed frame from
      // cc1's isolated port to t1's isolated port, which drops it.
      expect(ok).toBe(false);
      return;
    }
    expect(ok).toBe(true);
    expect(body).toBe(`t1 ${EGRESS_GATEWAY}`);
  });

  it('outside clients keep their address (no hairpin masquerade)', async () => {
    const outside = env.node(2).host;
    const { ok, body } = await curl(outside.netns, `http://${env.node(1).host.underlayIp}:${HOST_PORT}/`);
    expect(ok).toBe(true);
    expect(body).toBe(`t1 ${outside.underlayIp}`);
  });

  it('containers still cannot open connections to each other’s or the sandbox’s egress address', async () => {
    expect((await curl(cc1, `http://${TASKS[0].egressIp}:${TARGET_PORT}/`, 2)).ok).toBe(false);
    expect((await curl(cc1, `http://${SANDBOX_EGRESS}:${MESH_PORT}/`, 2)).ok).toBe(false);
  });
});
