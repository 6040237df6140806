/**
 * The routing mesh and host-mode publishing on a real kernel (topology in lb-mesh-topology.ts):
 * an outside client reaches the published port on a node without tasks and is carried over the
 * ingress overlay to the tasks on the other node; host mode goes straight to the local task with
 * the client's address kept; localhost works; containers reach the service VIP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { commandCount, createDataplaneHosts, namespacesWithPrefix } from './dataplane-hosts.js';
import type { DataplaneHosts } from './dataplane-hosts.js';
import { APP_VIP, HOST_PORT, MESH_PORT, SANDBOX_INGRESS_IPS, TASKS, buildMeshTopology } from './lb-mesh-topology.js';
import type { MeshTopology } from './lb-mesh-topology.js';
import { LbClient, killLbProcesses } from './lb-processes.js';
import type { HttpRun } from './lb-processes.js';

let env: DataplaneHosts;
let mesh: MeshTopology;
let outside: LbClient;

beforeAll(async () => {
  env = await createDataplaneHosts({ count: 3 });
  mesh = await buildMeshTopology(env);
  outside = await LbClient.start(env.node(2).host.netns);
});

afterAll(async () => {
  outside?.close();
  await killLbProcesses();
  await env?.destroy();
  expect(await namespacesWithPrefix(env.hosts.prefix)).toEqual([]);
});

async function curl(netns: string, url: string): Promise<string> {
  return (await runCommand('ip', ['netns', 'exec', netns, 'curl', '-sS', '--max-time', '3', url])).stdout.trim();
}

describe('routing mesh', () => {
  it('a node without tasks forwards its published port over the ingress overlay to every task', async () => {
    const run = await outside.call<HttpRun>({
      op: 'http',
      url: `http://${env.node(0).host.underlayIp}:${MESH_PORT}/`,
      count: 30,
      concurrency: 3,
    });
    expect(run.failed).toBe(0);
    expect(Object.keys(run.names).sort()).toEqual(TASKS.map((t) => t.name));
    // The task sees the sandbox's ingress address (masquerade), so replies come back through node 0.
    const seen = await curl(env.node(2).host.netns, `http://${env.node(0).host.underlayIp}:${MESH_PORT}/`);
    expect(seen.split(' ')[1]).toBe(SANDBOX_INGRESS_IPS[0]);
  });

  it('the node holding the tasks publishes the port too; host mode keeps the client address', async () => {
    const run = await outside.call<HttpRun>({
      op: 'http',
      url: `http://${env.node(1).host.underlayIp}:${MESH_PORT}/`,
      count: 12,
      concurrency: 3,
    });
    expect(run.failed).toBe(0);
    const host = await curl(env.node(2).host.netns, `http://${env.node(1).host.underlayIp}:${HOST_PORT}/`);
    expect(host).toBe(`t1 ${env.node(2).host.underlayIp}`);
    // Host mode is only on node 1.
    const none = await runCommand(
      'ip',
      [
        'netns',
        'exec',
        env.node(2).host.netns,
        'curl',
        '-sS',
        '--max-time',
        '2',
        `http://${env.node(0).host.underlayIp}:${HOST_PORT}/`,
      ],
      { check: false },
    );
    expect(none.exitCode).not.toBe(0);
  });

  it('works from the node itself: its own address and localhost', async () => {
    const self = env.node(0).host;
    expect((await curl(self.netns, `http://${self.underlayIp}:${MESH_PORT}/`)).split(' ')[0]).toMatch(/^t[123]$/);
    expect((await curl(self.netns, `http://127.0.0.1:${MESH_PORT}/`)).split(' ')[0]).toMatch(/^t[123]$/);
  });

  it('a container reaches the service VIP across nodes', async () => {
    const names = new Set<string>();
    for (let i = 0; i < 12; i++) {
      names.add((await curl(mesh.ccNamespace, `http://${APP_VIP}/`)).split(' ')[0] ?? '');
    }
    expect([...names].every((n) => /^t[123]$/.test(n))).toBe(true);
    expect(names.size).toBeGreaterThan(1);
  });

  it('entering on the tasks’ node, local slots go straight to the task (client address kept), the others through the sandbox to the same backend', async () => {
    const url = `http://${env.node(1).host.underlayIp}:${MESH_PORT}/`;
    const client = env.node(2).host.underlayIp;
    // Every connection through node 1's sandbox first: which backend each source port hashes to.
    const [a, b] = await mesh.reconcile(undefined, { localTasks: [] });
    expect([...a.errors, ...b.errors]).toEqual([]);
    const viaSandbox = await outside.call<string[]>({ op: 'httpFrom', url, fromPort: 41000, count: 24 });
    expect(viaSandbox.every((body) => body.endsWith(` ${SANDBOX_INGRESS_IPS[1]}`))).toBe(true);
    // t1 local: its slots are DNATed by node 1's daemon namespace, the rest still by the sandbox.
    const [c, d] = await mesh.reconcile(undefined, { localTasks: ['t1'] });
    expect([...c.errors, ...d.errors]).toEqual([]);
    const split = await outside.call<string[]>({ op: 'httpFrom', url, fromPort: 42000, count: 24 });
    const again = await outside.call<string[]>({ op: 'httpFrom', url, fromPort: 41000, count: 24 });
    const names = (bodies: string[]): string[] => bodies.map((body) => body.split(' ')[0] ?? '');
    // Same source port, same backend: the daemon namespace's hash is the sandbox's.
    expect(names(again)).toEqual(names(viaSandbox));
    for (const body of [...split, ...again]) {
      const [name, seen] = body.split(' ');
      expect(seen).toBe(name === 't1' ? client : SANDBOX_INGRESS_IPS[1]);
    }
    expect(new Set(names([...split, ...again]))).toEqual(new Set(TASKS.map((t) => t.name)));
    expect([...(await mesh.reconcile()).flatMap((r) => r.errors)]).toEqual([]);
  });

  it('is idempotent, and follows the serving set', async () => {
    const [a, b] = await mesh.reconcile();
    expect(commandCount(a) + commandCount(b)).toBe(0);
    const [c, d] = await mesh.reconcile(['t2']);
    expect([...c.errors, ...d.errors]).toEqual([]);
    const run = await outside.call<HttpRun>({
      op: 'http',
      url: `http://${env.node(0).host.underlayIp}:${MESH_PORT}/`,
      count: 12,
      concurrency: 3,
    });
    expect(run.names).toEqual({ t2: 12 });
    expect([...(await mesh.reconcile()).flatMap((r) => r.errors)]).toEqual([]);
  });
});
