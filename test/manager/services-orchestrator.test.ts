import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import type { Network } from '../../src/gen/vxmesh/v1/network.js';
import { NodeAvailability, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';
import type { Node } from '../../src/gen/vxmesh/v1/node.js';
import { ServiceMode } from '../../src/gen/vxmesh/v1/service.js';
import { TaskState } from '../../src/gen/vxmesh/v1/task.js';
import type { Task } from '../../src/gen/vxmesh/v1/task.js';
import { readIngressNetwork } from '../../src/manager/services/service-networks.js';
import { countBy, port, serviceSpec, ServicesHarness } from './services-fixtures.js';

const R = TaskState.TASK_STATE_RUNNING;
const placedOn = (tasks: readonly Task[]): Map<string, number> => countBy(tasks, (t) => t.nodeId);

describe('orchestrator (embedded store)', () => {
  let h: ServicesHarness;
  let app: Network;
  let ingress: Network;
  let nodes: Node[];

  beforeEach(async () => {
    h = await ServicesHarness.open();
    app = await h.createNetwork('app', '10.30.0.0/24');
    ingress = (await readIngressNetwork(h.store)) as Network;
    nodes = [await h.addNode('h1'), await h.addNode('h2'), await h.addNode('h3', { role: NodeRole.NODE_ROLE_MANAGER })];
  });

  afterEach(async () => {
    await h.close();
  });

  it('gives every node an ingress endpoint, and spreads 6 replicas 2 per node with their endpoints', async () => {
    await h.until(async () => (await h.endpoints()).filter((e) => e.kind === EndpointKind.ENDPOINT_KIND_LOAD_BALANCER).length === 3, 'ingress endpoints');
    const lb = (await h.endpoints()).filter((e) => e.kind === EndpointKind.ENDPOINT_KIND_LOAD_BALANCER);
    expect(lb.map((e) => e.networkId)).toEqual([ingress.id, ingress.id, ingress.id]);
    expect(new Set(lb.map((e) => e.nodeId))).toEqual(new Set(nodes.map((n) => n.id)));
    expect(lb.find((e) => e.nodeId === nodes[0]?.id)?.ownerName).toBe(`ingress-endpoint.${nodes[0]?.id}`);

    const web = (await h.services.create(serviceSpec('web', { replicas: 6, networks: [{ network: 'app', aliases: ['www'] }], ports: [port(8080, 80)] }))).service;
    await h.until(async () => (await h.running(web?.id)).every((t) => t.status?.state === R) && (await h.running(web?.id)).length === 6, '6 running', { work: true });
    const tasks = await h.running(web?.id);
    expect([...placedOn(tasks).values()]).toEqual([2, 2, 2]);
    expect(tasks.map((t) => t.slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const t = tasks[0] as Task;
    expect(t.networks.map((n) => n.networkName)).toEqual(['app', 'ingress']);
    expect(t.networks[0]?.aliases).toEqual(['www']);
    expect(t.networks[0]?.ipv4Address).toMatch(/^10\.30\.0\.\d+\/24$/);
    expect(t.networks[0]?.gateway).toBe('10.30.0.1');
    const eps = (await h.endpoints()).filter((e) => e.ownerId === t.id);
    expect(eps).toHaveLength(2);
    for (const ep of eps) {
      expect(ep.kind).toBe(EndpointKind.ENDPOINT_KIND_TASK);
      expect(ep.ownerName).toBe(`web.${t.slot}.${t.id}`);
      expect(ep.hostname).toBe(ep.ownerName);
      expect(ep.serviceId).toBe(web?.id);
      expect(ep.serviceName).toBe('web');
      expect(ep.serving).toBe(true);
      expect(ep.nodeId).toBe(t.nodeId);
    }
    // gateway + VIP + 6 tasks on app.
    expect(await h.inUse(app)).toBe(8n);
    // network inspect lists task endpoints.
    expect((await h.networks.get('app')).endpoints).toHaveLength(6);
    expect((await h.services.get('web')).runningTasks).toBe(6);
  });

  it('scales up and down: the highest slots stop, stop serving at once, and lose their endpoints once ended', async () => {
    const web = (await h.services.create(serviceSpec('web', { replicas: 2, networks: [{ network: 'app', aliases: [] }] }))).service;
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 2, '2 running', { work: true });
    let view = await h.services.get('web');
    await h.services.update('web', { ...(view.service?.spec ?? serviceSpec('web')), replicas: 5 }, view.version);
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 5, '5 running', { work: true });
    expect([...placedOn(await h.running(web?.id)).values()].sort()).toEqual([1, 2, 2]);
    view = await h.services.get('web');
    await h.services.update('web', { ...(view.service?.spec ?? serviceSpec('web')), replicas: 1 }, view.version);
    await h.until(async () => (await h.running(web?.id)).length === 1, 'scaled down to 1');
    const stopping = (await h.tasks(web?.id)).filter((t) => t.desiredState === TaskState.TASK_STATE_SHUTDOWN);
    expect(stopping.map((t) => t.slot).sort()).toEqual([2, 3, 4, 5]);
    const stoppingEndpoints = (await h.endpoints()).filter((e) => stopping.some((t) => t.id === e.ownerId));
    expect(stoppingEndpoints.every((e) => !e.serving)).toBe(true);
    expect((await h.running(web?.id))[0]?.slot).toBe(1);
    await h.until(async () => (await h.endpoints()).filter((e) => e.serviceId === web?.id).length === 1, 'endpoints of stopped tasks freed', { work: true });
    await h.until(async () => (await h.inUse(app)) === 3n, 'addresses given back');
  });

  it('global mode: one task per eligible node, a new node gets one, a drained node loses its task', async () => {
    const mon = (await h.services.create(serviceSpec('mon', { mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0 }))).service;
    await h.until(async () => (await h.running(mon?.id)).length === 3, '3 global tasks', { work: true });
    const tasks = await h.running(mon?.id);
    expect(new Set(tasks.map((t) => t.nodeId))).toEqual(new Set(nodes.map((n) => n.id)));
    expect(tasks.every((t) => t.slot === 0)).toBe(true);
    const h4 = await h.addNode('h4');
    await h.until(async () => (await h.running(mon?.id)).some((t) => t.nodeId === h4.id), 'a task on the new node');
    await h.updateNode(nodes[0]?.id ?? '', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN });
    await h.until(async () => !(await h.running(mon?.id)).some((t) => t.nodeId === nodes[0]?.id), 'no task on the drained node', { work: true });
    expect((await h.running(mon?.id)).length).toBe(3);
    expect((await h.services.get('mon')).desiredTasks).toBe(3);
    // Global tasks are named after their node.
    const named = (await h.endpoints()).filter((e) => e.serviceId === mon?.id);
    expect(named).toEqual([]);
    const listed = await h.services.listTasks('mon', 'h4');
    expect(listed[0]?.task?.nodeId).toBe(h4.id);
  });

  it('constraints place tasks only on matching nodes, and say why when none matches', async () => {
    const pinned = (await h.services.create(serviceSpec('pinned', { replicas: 3, constraints: ['node.hostname==h2'] }))).service;
    const mgr = (await h.services.create(serviceSpec('mgr', { replicas: 2, constraints: ['node.role==manager'] }))).service;
    const nowhere = (await h.services.create(serviceSpec('nowhere', { constraints: ['node.hostname!=h1', 'node.role!=worker', 'node.id!=' + (nodes[2]?.id ?? '')] }))).service;
    await h.until(async () => (await h.running(pinned?.id)).filter((t) => t.nodeId !== '').length === 3, 'pinned placed');
    expect([...placedOn(await h.running(pinned?.id)).keys()]).toEqual([nodes[1]?.id]);
    await h.until(async () => (await h.running(mgr?.id)).filter((t) => t.nodeId !== '').length === 2, 'mgr placed');
    expect([...placedOn(await h.running(mgr?.id)).keys()]).toEqual([nodes[2]?.id]);
    await h.until(async () => (await h.running(nowhere?.id))[0]?.status?.state === TaskState.TASK_STATE_PENDING, 'pending');
    const [t] = await h.running(nowhere?.id);
    expect(t?.status?.err).toBe('no suitable node (3 nodes not available: 3 not matching the placement constraints)');
    expect(t?.nodeId).toBe('');
    await h.updateNode(nodes[0]?.id ?? '', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN });
    await h.updateNode(nodes[1]?.id ?? '', { status: NodeStatus.NODE_STATUS_DOWN });
    await h.until(async () => /1 drained, 1 down, 1 not matching/.test((await h.running(nowhere?.id))[0]?.status?.err ?? ''), 'reason follows the nodes');
  });

  it('drain moves replicated tasks elsewhere', async () => {
    const web = (await h.services.create(serviceSpec('web', { replicas: 3, networks: [{ network: 'app', aliases: [] }] }))).service;
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 3, '3 running', { work: true });
    const drained = nodes[0]?.id ?? '';
    await h.updateNode(drained, { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN });
    await h.until(
      async () => {
        const running = await h.running(web?.id);
        return running.length === 3 && running.every((t) => t.nodeId !== drained && t.status?.state === R);
      },
      'tasks moved off the drained node',
      { work: true },
    );
    await h.until(async () => !(await h.endpoints()).some((e) => e.nodeId === drained && e.serviceId === web?.id), 'endpoints on the drained node freed', { work: true });
    expect((await h.running(web?.id)).map((t) => t.slot).sort()).toEqual([1, 2, 3]);
  });

  it('a Down node: its tasks become ORPHANED, lose endpoints and ingress endpoint, and are replaced elsewhere', async () => {
    const web = (await h.services.create(serviceSpec('web', { replicas: 3, networks: [{ network: 'app', aliases: [] }], ports: [port(8080, 80)] }))).service;
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 3, '3 running', { work: true });
    const down = nodes[1]?.id ?? '';
    const dead = new Set([down]);
    await h.updateNode(down, { status: NodeStatus.NODE_STATUS_DOWN });
    await h.until(
      async () => {
        const running = await h.running(web?.id);
        return running.length === 3 && running.every((t) => t.nodeId !== down && t.status?.state === R);
      },
      'replacements running elsewhere',
      { work: { dead } },
    );
    const orphaned = (await h.tasks(web?.id)).filter((t) => t.nodeId === down);
    expect(orphaned).toHaveLength(1);
    expect(orphaned[0]?.status?.state).toBe(TaskState.TASK_STATE_ORPHANED);
    expect(orphaned[0]?.status?.err).toBe('node h2 is down');
    expect(orphaned[0]?.desiredState).toBe(TaskState.TASK_STATE_SHUTDOWN);
    await h.until(async () => !(await h.endpoints()).some((e) => e.nodeId === down), 'every endpoint of the down node freed');
    // gateway + VIP + 3 tasks
    await h.until(async () => (await h.inUse(app)) === 5n, 'addresses of the down node given back');
  });

  it('an exhausted subnet leaves tasks PENDING with an error naming the network', async () => {
    const tiny = await h.createNetwork('tiny', '10.99.0.0/29');
    const big = (await h.services.create(serviceSpec('big', { replicas: 8, networks: [{ network: 'tiny', aliases: [] }] }))).service;
    const states = async (): Promise<string> =>
      JSON.stringify(Object.fromEntries(countBy(await h.running(big?.id), (t) => String(t.status?.state))));
    await h.until(async () => (await states()) === JSON.stringify({ [TaskState.TASK_STATE_ASSIGNED]: 4, [TaskState.TASK_STATE_PENDING]: 4 }), '4 assigned, 4 pending');
    const tasks = await h.running(big?.id);
    expect(tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_ASSIGNED)).toHaveLength(4);
    const pending = tasks.filter((t) => t.status?.state === TaskState.TASK_STATE_PENDING);
    for (const t of pending) {
      expect(t.status?.err).toMatch(/^could not allocate an address on network tiny \(10\.99\.0\.0\/29\): no free address/);
      expect(t.nodeId).toBe('');
      expect(t.networks).toEqual([]);
    }
    expect(await h.inUse(tiny)).toBe(6n);
    // Scaling down frees room: the pending ones go first (highest slots are stopped, others placed).
    await h.services.update('big', { ...(big?.spec ?? serviceSpec('big')), replicas: 4 }, 0n);
    await h.until(async () => (await h.running(big?.id)).length === 4, 'scaled down', { work: true });
    await h.until(async () => (await h.running(big?.id)).every((t) => t.status?.state === R), 'all running', { work: true });
  });

  it('service remove stops the tasks, frees every endpoint and address, and deletes the tasks', async () => {
    const appBefore = await h.inUse(app);
    await h.until(async () => (await h.endpoints()).length === 3, 'ingress endpoints');
    const ingressBefore = await h.inUse(ingress);
    const web = (await h.services.create(serviceSpec('web', { replicas: 4, networks: [{ network: 'app', aliases: [] }], ports: [port(8080, 80)] }))).service;
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 4, '4 running', { work: true });
    expect(await h.networks.remove('app').catch((e: Error) => e.message)).toMatch(/in use/);
    await h.services.remove('web');
    await h.until(async () => (await h.tasks(web?.id)).length === 0, 'tasks deleted', { work: true });
    await h.until(async () => (await h.endpoints()).every((e) => e.serviceId !== web?.id), 'endpoints freed');
    await h.until(async () => (await h.inUse(app)) === appBefore && (await h.inUse(ingress)) === ingressBefore, 'addresses given back');
    await h.networks.remove('app');
  });

  it('host-mode ports: at most one task of the service per node', async () => {
    const hs = (await h.services.create(serviceSpec('hs', { replicas: 4, ports: [port(9090, 80, 'host')] }))).service;
    await h.until(async () => (await h.running(hs?.id)).filter((t) => t.nodeId !== '').length === 3, '3 placed');
    const tasks = await h.running(hs?.id);
    expect([...placedOn(tasks.filter((t) => t.nodeId !== '')).values()]).toEqual([1, 1, 1]);
    const pending = tasks.find((t) => t.nodeId === '');
    await h.until(async () => (await h.running(hs?.id)).some((t) => /host-mode ports/.test(t.status?.err ?? '')), 'pending reason');
    expect(pending).toBeDefined();
    expect(tasks[0]?.hostPorts).toEqual([port(9090, 80, 'host')]);
  });
});

describe('orchestrator (etcd)', () => {
  it('places, runs and removes a service, giving every address back', async () => {
    await using h = await ServicesHarness.open({ kind: 'etcd' });
    const app = await h.createNetwork('app', '10.31.0.0/24');
    for (const name of ['h1', 'h2', 'h3']) {
      await h.addNode(name);
    }
    const web = (await h.services.create(serviceSpec('web', { replicas: 5, networks: [{ network: 'app', aliases: [] }], ports: [port(8080, 80)] }))).service;
    await h.until(async () => (await h.running(web?.id)).filter((t) => t.status?.state === R).length === 5, '5 running', { work: true });
    expect([...placedOn(await h.running(web?.id)).values()].sort()).toEqual([1, 2, 2]);
    expect(await h.inUse(app)).toBe(7n);
    await h.services.remove('web');
    await h.until(async () => (await h.tasks(web?.id)).length === 0 && (await h.inUse(app)) === 1n, 'everything given back', { work: true });
  });
});
