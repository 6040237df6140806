import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, NotFoundError, VxmeshError } from '../../src/common/errors.js';
import type { Network } from '../../src/gen/vxmesh/v1/network.js';
import { EndpointMode, PublishMode, RestartCondition, ServiceMode } from '../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState } from '../../src/gen/vxmesh/v1/task.js';
import { attachmentKey } from '../../src/manager/network/network-attachments.js';
import { readIngressNetwork } from '../../src/manager/services/service-networks.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { STORE_KINDS } from './network-fixtures.js';
import { port, serviceSpec, ServicesHarness } from './services-fixtures.js';

/** The error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}

async function invalid(p: Promise<unknown>, field: string, reason: RegExp): Promise<void> {
  const err = await failure(p);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).field).toBe(field);
  expect((err as InvalidArgumentError).reason).toMatch(reason);
}

describe.each(STORE_KINDS)('service API on the %s store', (kind) => {
  let h: ServicesHarness;
  let app: Network;
  let ingress: Network;

  beforeEach(async () => {
    h = await ServicesHarness.open({ kind, orchestrate: false });
    app = await h.createNetwork('app', '10.20.0.0/24');
    const found = await readIngressNetwork(h.store);
    if (!found) {
      throw new Error('no ingress');
    }
    ingress = found;
  });

  afterEach(async () => {
    await h.close();
  });

  it('creates with defaults: replicated x1, vip on each network plus ingress, ports published, keys written', async () => {
    const view = await h.services.create({
      ...serviceSpec('web', { networks: [{ network: 'app', aliases: ['www'] }], ports: [port(8080, 80)] }),
      mode: ServiceMode.SERVICE_MODE_UNSPECIFIED,
      replicas: 0,
      endpointMode: EndpointMode.ENDPOINT_MODE_UNSPECIFIED,
      restartCondition: RestartCondition.RESTART_CONDITION_UNSPECIFIED,
    });
    const s = view.service;
    expect(s?.spec?.mode).toBe(ServiceMode.SERVICE_MODE_REPLICATED);
    expect(s?.spec?.replicas).toBe(1);
    expect(s?.spec?.endpointMode).toBe(EndpointMode.ENDPOINT_MODE_VIP);
    expect(s?.spec?.restartCondition).toBe(RestartCondition.RESTART_CONDITION_ANY);
    expect(s?.spec?.networks).toEqual([{ network: app.id, aliases: ['www'] }]);
    expect(s?.specVersion).toBe(1n);
    expect(s?.virtualIps.map((v) => v.networkId)).toEqual([app.id, ingress.id]);
    expect(s?.virtualIps[0]?.addr).toMatch(/^10\.20\.0\.\d+\/24$/);
    expect(view.version).toBeGreaterThan(0n);
    expect(view.desiredTasks).toBe(1);
    const id = s?.id ?? '';
    expect(new TextDecoder().decode((await h.store.get(storeKeys.serviceName('web'))).kv?.value)).toBe(id);
    expect((await h.store.get(storeKeys.publishedPort('tcp', 8080))).kv).toBeDefined();
    expect((await h.store.get(attachmentKey(app.id, { kind: 'service', owner: id }))).kv).toBeDefined();
    expect((await h.store.get(attachmentKey(ingress.id, { kind: 'service', owner: id }))).kv).toBeDefined();
    expect(await h.inUse(app)).toBe(2n); // gateway + VIP

    // Explicit replicated mode with 0 replicas stays 0 (docker's --replicas 0).
    const zero = await h.services.create(serviceSpec('idle', { replicas: 0 }));
    expect(zero.service?.spec?.replicas).toBe(0);
    expect(zero.service?.virtualIps).toEqual([]);
  });

  it('refuses bad specs with errors naming the flag', async () => {
    await invalid(h.services.create(serviceSpec('')), 'name', /needs a name/);
    await invalid(h.services.create(serviceSpec('web.1')), 'name', /letters, digits/);
    await invalid(h.services.create(serviceSpec('-web')), 'name', /starting and ending/);
    await invalid(
      h.services.create(serviceSpec('g', { mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 2 })),
      'replicas',
      /only be used with replicated mode/,
    );
    await invalid(h.services.create(serviceSpec('w', { command: [] })), 'command', /needs a command/);
    await invalid(h.services.create(serviceSpec('w', { ports: [port(8080, 80, 'ingress', 'sctp')] })), 'publish', /sctp/);
    await invalid(h.services.create(serviceSpec('w', { ports: [port(8080, 0)] })), 'publish', /target port 0/);
    await invalid(h.services.create(serviceSpec('w', { ports: [port(70000, 80)] })), 'publish', /published port 70000/);
    await invalid(
      h.services.create(serviceSpec('w', { ports: [port(8080, 80), port(8080, 81)] })),
      'publish',
      /8080\/tcp is published twice/,
    );
    await invalid(
      h.services.create(serviceSpec('w', { endpointMode: EndpointMode.ENDPOINT_MODE_DNSRR, ports: [port(8080, 80)] })),
      'endpoint-mode',
      /ingress mode can't be used with dnsrr/,
    );
    await invalid(h.services.create(serviceSpec('w', { constraints: ['node.labels.x==y'] })), 'constraint', /unsupported key/);
    await invalid(h.services.create(serviceSpec('w', { constraints: ['node.role=manager'] })), 'constraint', /expected/);
    await invalid(h.services.create(serviceSpec('w', { constraints: ['node.role==boss'] })), 'constraint', /manager or worker/);
    await invalid(h.services.create(serviceSpec('w', { networks: [{ network: 'ingress', aliases: [] }] })), 'network', /ingress network/);
    await invalid(
      h.services.create(serviceSpec('w', { networks: [{ network: 'app', aliases: [] }, { network: app.id, aliases: [] }] })),
      'network',
      /listed twice/,
    );
    const missing = await failure(h.services.create(serviceSpec('w', { networks: [{ network: 'nope', aliases: [] }] })));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect((missing as Error).message).toBe('network nope not found');
    // Nothing was written by any of these.
    expect(await h.services.list()).toEqual([]);
    expect(await h.inUse(app)).toBe(1n);
  });

  it('names are unique; a published port belongs to one service; published 0 picks from 30000', async () => {
    await h.services.create(serviceSpec('web', { ports: [port(8080, 80)] }));
    const dup = await failure(h.services.create(serviceSpec('web')));
    expect((dup as VxmeshError).code).toBe('ALREADY_EXISTS');
    const taken = await failure(h.services.create(serviceSpec('api', { ports: [port(8080, 80, 'host')] })));
    expect((taken as VxmeshError).code).toBe('ALREADY_EXISTS');
    expect((taken as Error).message).toBe('port 8080/tcp is already published by service web');
    // The same number over udp is another port.
    await h.services.create(serviceSpec('dns', { ports: [port(8080, 53, 'ingress', 'udp')] }));
    const a = await h.services.create(serviceSpec('a', { ports: [port(0, 80)] }));
    const b = await h.services.create(serviceSpec('b', { ports: [port(0, 80), port(0, 443)] }));
    expect(a.service?.spec?.ports[0]?.publishedPort).toBe(30000);
    expect(b.service?.spec?.ports.map((p) => p.publishedPort)).toEqual([30001, 30002]);
    // Nothing of the refused api service was left behind.
    expect((await h.services.list()).map((v) => v.service?.spec?.name)).toEqual(['a', 'b', 'dns', 'web']);
  });

  it('update: version check, VIPs kept / added / released, spec_version only for task changes', async () => {
    const other = await h.createNetwork('other', '10.21.0.0/24');
    const created = await h.services.create(serviceSpec('web', { networks: [{ network: 'app', aliases: [] }] }));
    const s0 = created.service;
    const appVip = s0?.virtualIps[0];

    const scaled = await h.services.update('web', { ...(s0?.spec ?? serviceSpec('web')), replicas: 3 }, created.version);
    expect(scaled.service?.specVersion).toBe(1n);
    expect(scaled.service?.spec?.replicas).toBe(3);
    expect(scaled.service?.updateStatus).toBeUndefined();
    expect(scaled.service?.previousSpec?.replicas).toBe(1);

    const stale = await failure(h.services.update('web', s0?.spec, created.version));
    expect((stale as VxmeshError).code).toBe('CONFLICT');
    expect((stale as Error).message).toBe(
      `service web was updated since it was read (version ${created.version}, now ${scaled.version}); read it again`,
    );

    const moved = await h.services.update(
      'web',
      { ...(scaled.service?.spec ?? serviceSpec('web')), networks: [{ network: 'app', aliases: [] }, { network: 'other', aliases: [] }], ports: [port(8080, 80)] },
      scaled.version,
    );
    const s2 = moved.service;
    expect(s2?.specVersion).toBe(2n);
    expect(s2?.updateStatus?.state).toBe('updating');
    expect(s2?.virtualIps[0]).toEqual(appVip);
    expect(s2?.virtualIps.map((v) => v.networkId)).toEqual([app.id, other.id, ingress.id]);
    expect(await h.inUse(other)).toBe(2n);

    const dropped = await h.services.update('web', { ...(s2?.spec ?? serviceSpec('web')), networks: [{ network: 'other', aliases: [] }], ports: [] }, 0n);
    expect(dropped.service?.virtualIps.map((v) => v.networkId)).toEqual([other.id]);
    expect(dropped.service?.specVersion).toBe(3n);
    expect(await h.inUse(app)).toBe(1n);
    expect((await h.store.get(storeKeys.publishedPort('tcp', 8080))).kv).toBeUndefined();
    expect((await h.store.get(attachmentKey(app.id, { kind: 'service', owner: s0?.id ?? '' }))).kv).toBeUndefined();
    expect((await h.store.get(attachmentKey(ingress.id, { kind: 'service', owner: s0?.id ?? '' }))).kv).toBeUndefined();

    const dnsrr = await h.services.update('web', { ...(dropped.service?.spec ?? serviceSpec('web')), endpointMode: EndpointMode.ENDPOINT_MODE_DNSRR }, 0n);
    expect(dnsrr.service?.virtualIps).toEqual([]);
    expect(await h.inUse(other)).toBe(1n);

    await invalid(h.services.update('web', serviceSpec('web2'), 0n), 'name', /cannot be renamed/);
    await invalid(h.services.update('web', serviceSpec('web', { mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0 }), 0n), 'mode', /cannot change mode/);
    expect(await failure(h.services.update('nope', serviceSpec('nope'), 0n))).toBeInstanceOf(NotFoundError);
  });

  it('remove gives back VIPs, ports and the name; network rm is refused while a service uses the network', async () => {
    const before = await h.inUse(ingress);
    const created = await h.services.create(serviceSpec('web', { networks: [{ network: 'app', aliases: [] }], ports: [port(8080, 80)] }));
    const rm = await failure(h.networks.remove('app'));
    expect((rm as VxmeshError).code).toBe('FAILED_PRECONDITION');
    expect((rm as Error).message).toMatch(/in use by service/);
    expect((await failure(h.networks.remove('ingress'))) as Error).toBeInstanceOf(VxmeshError);

    await h.services.remove(created.service?.id.slice(0, 6) ?? '');
    expect(await h.inUse(app)).toBe(1n);
    expect(await h.inUse(ingress)).toBe(before);
    expect(await failure(h.services.get('web'))).toBeInstanceOf(NotFoundError);
    expect((await h.store.range('v1/network-attachments/')).kvs).toEqual([]);
    await h.services.create(serviceSpec('web', { ports: [port(8080, 80)] }));
    await h.services.remove('web');
    await h.networks.remove('app');
  });

  it('get by name, ID or prefix; list counts; listTasks sorted by service, slot, newest first, with hostnames', async () => {
    const n1 = await h.addNode('h1');
    const n2 = await h.addNode('h2');
    const web = (await h.services.create(serviceSpec('web', { replicas: 2 }))).service;
    const api = (await h.services.create(serviceSpec('api'))).service;
    const put = async (id: string, svc: typeof web, slot: number, nodeId: string, createdAt: bigint, desired: TaskState, state: TaskState) =>
      h.store.put(
        storeKeys.task(id),
        encodeMessage(
          Task,
          Task.fromPartial({ id, serviceId: svc?.id ?? '', serviceName: svc?.spec?.name ?? '', slot, nodeId, createdAt, desiredState: desired, status: { state } }),
        ),
      );
    const R = TaskState.TASK_STATE_RUNNING;
    await put('t1', web, 2, n1.id, 1n, R, R);
    await put('t2', web, 1, n2.id, 1n, TaskState.TASK_STATE_SHUTDOWN, TaskState.TASK_STATE_FAILED);
    await put('t3', web, 1, n1.id, 5n, R, TaskState.TASK_STATE_ASSIGNED);
    await put('t4', api, 1, n2.id, 2n, R, R);

    expect((await h.services.get('web')).service?.id).toBe(web?.id);
    expect((await h.services.get(web?.id ?? '')).service?.spec?.name).toBe('web');
    expect((await h.services.get(web?.id.slice(0, 8) ?? '')).service?.spec?.name).toBe('web');
    const list = await h.services.list();
    expect(list.map((v) => [v.service?.spec?.name, v.runningTasks, v.desiredTasks])).toEqual([
      ['api', 1, 1],
      ['web', 1, 2],
    ]);
    const all = await h.services.listTasks('', '');
    expect(all.map((v) => v.task?.id)).toEqual(['t4', 't3', 't2', 't1']);
    expect(all.map((v) => v.nodeHostname)).toEqual(['h2', 'h1', 'h2', 'h1']);
    expect((await h.services.listTasks('web', 'h2')).map((v) => v.task?.id)).toEqual(['t2']);
    expect(await failure(h.services.listTasks('nope', ''))).toBeInstanceOf(NotFoundError);
  });

  it('keeps the published port a service had when an update sends 0 again', async () => {
    const created = await h.services.create(serviceSpec('web', { ports: [port(0, 80)] }));
    expect(created.service?.spec?.ports[0]?.publishedPort).toBe(30000);
    const updated = await h.services.update('web', serviceSpec('web', { ports: [port(0, 80)], replicas: 2 }), 0n);
    expect(updated.service?.spec?.ports[0]).toEqual({ protocol: 'tcp', targetPort: 80, publishedPort: 30000, publishMode: PublishMode.PUBLISH_MODE_INGRESS });
    expect(updated.service?.specVersion).toBe(1n);
  });
});
