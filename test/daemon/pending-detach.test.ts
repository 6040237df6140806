/**
 * `rm` while the managers cannot remove the endpoint (here: the only manager is down) succeeds
 * with a warning, and the node releases the endpoint once the manager is back, across a restart
 * of its own daemon; an endpoint whose container record was lost is released by the
 * level-triggered check. Real daemons in this process (LoopbackCluster), recorded dataplane.
 */
import { access, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { CreateNetworkRequest } from '../../src/gen/vxmesh/v1/control.js';
import type { RunContainerRequest } from '../../src/gen/vxmesh/v1/control.js';
import { deleteNamespace } from '../../src/worker/containers/network-namespaces.js';
import { LoopbackCluster, waitUntil } from '../support/loopback-daemons.js';
import type { LoopbackDaemon } from '../support/loopback-daemons.js';

/** A container on `network`: created only (namespace and endpoint, no process) unless `start`. */
const create = async (d: LoopbackDaemon, name: string, network: string, start = false) => {
  const req: RunContainerRequest = {
    name,
    hostname: '',
    command: ['sleep', '30'],
    networks: [{ network, ipv4Address: '', ipv6Address: '', aliases: [], links: [] }],
    dns: [],
    dnsSearch: [],
    dnsOptions: [],
    autoRemove: false,
    createOnly: !start,
  };
  const { container } = await callUnary(d.local.runContainer.bind(d.local), req, 'run');
  if (!container?.networks[0]) {
    throw new Error(`run ${name} returned no endpoint`);
  }
  return { ...container, endpointId: container.networks[0].endpointId };
};

const createNetwork = (m: LoopbackDaemon, name: string, subnet: string) =>
  callUnary(
    m.cluster.createNetwork.bind(m.cluster),
    CreateNetworkRequest.fromPartial({ name, driver: 'overlay', subnets: [subnet], attachable: true }),
    'network create',
  );

/** Endpoint IDs on the network as `network inspect` lists them. */
const endpointsOf = async (m: LoopbackDaemon, network: string): Promise<string[]> => {
  const res = await callUnary(m.cluster.getNetwork.bind(m.cluster), { ref: network }, 'network inspect');
  return (res.network?.endpoints ?? []).map((e) => e.id).sort();
};

const pendingFiles = async (d: LoopbackDaemon): Promise<string[]> =>
  (await readdir(join(d.dataRoot, 'pending-detaches')).catch(() => [] as string[])).sort();

describe('pending detaches (loopback daemons, recorded dataplane)', () => {
  it(
    'rm with the manager down succeeds, and the endpoint goes once it is back, across a worker restart',
    { timeout: 120_000 },
    async () => {
      await using c = new LoopbackCluster();
      let m = await c.start('pdm');
      const token = await c.init(m);
      let w = await c.start('pdw');
      await c.join(w, token, m);
      await createNetwork(m, 'pd-net', '10.31.0.0/24');
      // Running: `rm -f` stops it first, and its endpoint is given back through the exit.
      const web1 = await create(w, 'web1', 'pd-net', true);
      const web2 = await create(w, 'web2', 'pd-net');
      const keep = await create(w, 'keep', 'pd-net');
      expect(await endpointsOf(m, 'pd-net')).toEqual([web1.endpointId, web2.endpointId, keep.endpointId].sort());

      await m.stop();
      const rm1 = await callUnary(w.local.removeContainer.bind(w.local), { ref: 'web1', force: true }, 'rm');
      expect(rm1.warnings).toHaveLength(1);
      expect(rm1.warnings[0]).toMatch(
        /^the endpoint of web1 on network pd-net \(10\.31\.0\.\d+\) could not be released now: .+; this node releases it .* once a manager is reachable$/,
      );
      expect(await pendingFiles(w)).toEqual([`${web1.endpointId}.pb`]);
      await expect(callUnary(w.local.inspectContainer.bind(w.local), { ref: 'web1' }, 'inspect')).rejects.toThrow(
        /not found/,
      );
      expect(w.daemon.info().agent?.pendingDetaches).toBe(1);

      // The worker restarts while the manager is still down: the record is its only trace.
      w = await w.restart();
      const rm2 = await callUnary(w.local.removeContainer.bind(w.local), { ref: 'web2', force: true }, 'rm');
      expect(rm2.warnings).toHaveLength(1);
      expect(await pendingFiles(w)).toEqual([`${web1.endpointId}.pb`, `${web2.endpointId}.pb`].sort());
      // An attach of a new container needs the managers anyway: refused, nothing recorded.
      await expect(create(w, 'web3', 'pd-net')).rejects.toThrow();

      const back = Date.now();
      m = await m.restart();
      await waitUntil(
        async () => JSON.stringify(await endpointsOf(m, 'pd-net')) === JSON.stringify([keep.endpointId]),
        45_000,
        'the removed containers’ endpoints to leave the store',
      );
      const releasedMs = Date.now() - back;
      // The worker's session backoff (at most 10 s) plus one immediate retry on the new session.
      expect(releasedMs).toBeLessThan(30_000);
      console.log(`pending detaches released ${releasedMs} ms after the manager's restart began`);
      await waitUntil(async () => (await pendingFiles(w)).length === 0, 10_000, 'the pending records to go');
      expect(w.daemon.info().agent?.pendingDetaches ?? 0).toBe(0);
      // The released names and addresses are free again.
      const again = await create(w, 'web1', 'pd-net');
      expect(again.endpointId).not.toBe(web1.endpointId);
    },
  );

  it(
    'an endpoint of this node that no local record holds is released after the grace',
    { timeout: 90_000 },
    async () => {
      await using c = new LoopbackCluster();
      const m = await c.start('pom');
      const token = await c.init(m);
      let w = await c.start('pow', undefined, undefined, { orphanGraceMs: 1500 });
      await c.join(w, token, m);
      await createNetwork(m, 'po-net', '10.32.0.0/24');
      const lost = await create(w, 'lost', 'po-net');
      const kept = await create(w, 'kept', 'po-net');

      // The record is lost while the daemon is down (a crash between the managers' answer and the
      // record, or a wiped data root): the namespace is left to us, the endpoint to the check.
      await w.stop();
      const record = join(w.dataRoot, 'containers', `${lost.id}.pb`);
      await access(record);
      await rm(record);
      await deleteNamespace(lost.namespace);
      w = await w.restart();

      const started = Date.now();
      await waitUntil(
        async () => JSON.stringify(await endpointsOf(m, 'po-net')) === JSON.stringify([kept.endpointId]),
        30_000,
        'the lost container’s endpoint to be released',
      );
      console.log(`endpoint without a local owner released ${Date.now() - started} ms after the restart (grace 1.5 s)`);
      expect(
        (await callUnary(w.local.listContainers.bind(w.local), { all: true }, 'ps')).containers.map((x) => x.name),
      ).toEqual(['kept']);
    },
  );
});
